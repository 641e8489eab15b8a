from django.urls import path

from dnsadmin import api, operations
from dnsadmin.views import dnssec, history, records, secondary, tokens, zonefiles, zones
from dnsadmin.views import tsig as tsig_views

app_name = "dnsadmin"

urlpatterns = [
    path("zones/", zones.zone_list, name="zone-list"),
    path("zones/new/", zones.zone_create, name="zone-create"),
    path("zones/new-secondary/", secondary.secondary_create, name="secondary-create"),
    path("zones/<int:pk>/refresh/", secondary.secondary_refresh, name="secondary-refresh"),
    path("zones/<int:pk>/", zones.zone_detail, name="zone-detail"),
    path("zones/<int:pk>/settings/", zones.zone_settings, name="zone-settings"),
    path("zones/<int:pk>/delete/", zones.zone_delete, name="zone-delete"),
    path("zones/<int:pk>/permissions/", zones.zone_grant, name="zone-grant"),
    path(
        "zones/<int:pk>/permissions/<int:grant_pk>/delete/",
        zones.zone_revoke,
        name="zone-revoke",
    ),
    path("zones/<int:pk>/pending/apply/", zones.pending_apply, name="pending-apply"),
    path("zones/<int:pk>/pending/discard/", zones.pending_discard, name="pending-discard"),
    path("zones/<int:pk>/pending/drop/", records.pending_drop, name="pending-drop"),
    path("zones/<int:pk>/records/delete/", records.records_delete, name="records-delete"),
    path("search/", records.record_search, name="record-search"),
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
    path(
        "zones/<int:pk>/import/progress/",
        zonefiles.zone_import_progress,
        name="zone-import-progress",
    ),
    path("zones/<int:pk>/export/", zonefiles.zone_export, name="zone-export"),
    path("zones/<int:pk>/history/", history.zone_history, name="zone-history"),
    path("changes/<int:pk>/", history.change_detail, name="change-detail"),
    path("changes/<int:pk>/revert/", history.change_revert, name="change-revert"),
    path("queries/", operations.query_log, name="query-log"),
    path("cache/", operations.cache_browser, name="cache"),
    path("cache/delete/", operations.cache_delete, name="cache-delete"),
    path("cache/flush/", operations.cache_flush, name="cache-flush"),
    path("tokens/", tokens.token_list, name="token-list"),
    path("tsig/", tsig_views.key_list, name="tsig-list"),
    path("tsig/<int:pk>/delete/", tsig_views.key_delete, name="tsig-delete"),
    path("zones/<int:pk>/update-policy/", tsig_views.rule_add, name="update-rule-add"),
    path(
        "zones/<int:pk>/update-policy/<int:rule_pk>/delete/",
        tsig_views.rule_delete,
        name="update-rule-delete",
    ),
    path("api/tsig/", tsig_views.keys_api, name="api-tsig"),
    path("api/tsig/<str:name>/", tsig_views.key_api, name="api-tsig-key"),
    path("api/zones/<str:origin>/update-policy/", tsig_views.policy_api, name="api-update-policy"),
    path("tokens/<int:pk>/delete/", tokens.token_delete, name="token-delete"),
    path("api/zones/", api.zones, name="api-zones"),
    path("api/zones/<str:origin>/", api.zone, name="api-zone"),
    path("api/zones/<str:origin>/records/", api.records, name="api-records"),
    path("api/zones/<str:origin>/records/<int:pk>/", api.record, name="api-record"),
    path("api/zones/<str:origin>/import/", api.zone_import, name="api-import"),
    path("api/zones/<str:origin>/export/", api.zone_export, name="api-export"),
    path("zones/<int:pk>/dnssec/", dnssec.dnssec_action, name="dnssec-action"),
    path("api/zones/<str:origin>/dnssec/", dnssec.dnssec_api, name="api-dnssec"),
]
