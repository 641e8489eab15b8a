from django.urls import path

from dnsadmin import api, operations
from dnsadmin.views import history, records, tokens, zonefiles, zones

app_name = "dnsadmin"

urlpatterns = [
    path("zones/", zones.zone_list, name="zone-list"),
    path("zones/new/", zones.zone_create, name="zone-create"),
    path("zones/<int:pk>/", zones.zone_detail, name="zone-detail"),
    path("zones/<int:pk>/settings/", zones.zone_settings, name="zone-settings"),
    path("zones/<int:pk>/delete/", zones.zone_delete, name="zone-delete"),
    path("zones/<int:pk>/pending/apply/", zones.pending_apply, name="pending-apply"),
    path("zones/<int:pk>/pending/discard/", zones.pending_discard, name="pending-discard"),
    path("zones/<int:pk>/records/add/", records.record_add, name="record-add"),
    path("zones/<int:pk>/records/<int:record_pk>/edit/", records.record_edit, name="record-edit"),
    path(
        "zones/<int:pk>/records/<int:record_pk>/delete/",
        records.record_delete,
        name="record-delete",
    ),
    path(
        "zones/<int:pk>/records/<int:record_pk>/toggle/",
        records.record_toggle,
        name="record-toggle",
    ),
    path("zones/<int:pk>/import/", zonefiles.zone_import, name="zone-import"),
    path("zones/<int:pk>/export/", zonefiles.zone_export, name="zone-export"),
    path("zones/<int:pk>/history/", history.zone_history, name="zone-history"),
    path("changes/<int:pk>/", history.change_detail, name="change-detail"),
    path("changes/<int:pk>/revert/", history.change_revert, name="change-revert"),
    path("queries/", operations.query_log, name="query-log"),
    path("cache/", operations.cache_browser, name="cache"),
    path("cache/delete/", operations.cache_delete, name="cache-delete"),
    path("cache/flush/", operations.cache_flush, name="cache-flush"),
    path("tokens/", tokens.token_list, name="token-list"),
    path("tokens/<int:pk>/delete/", tokens.token_delete, name="token-delete"),
    path("api/zones/", api.zones, name="api-zones"),
    path("api/zones/<str:origin>/", api.zone, name="api-zone"),
    path("api/zones/<str:origin>/records/", api.records, name="api-records"),
    path("api/zones/<str:origin>/records/<int:pk>/", api.record, name="api-record"),
    path("api/zones/<str:origin>/import/", api.zone_import, name="api-import"),
    path("api/zones/<str:origin>/export/", api.zone_export, name="api-export"),
]
