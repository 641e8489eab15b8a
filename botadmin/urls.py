"""Staff bot administration, under /bot/."""

from django.urls import URLPattern, URLResolver, path

from botadmin.views import admin, plugins, privacy, pypi, redactions

app_name = "botadmin"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", admin.home, name="admin-home"),
    path("status.json", admin.status, name="status"),
    path("networks/add/", admin.network_edit, name="network-add"),
    path("networks/<int:pk>/", admin.network_edit, name="network-edit"),
    path("networks/<int:pk>/toggle/", admin.network_toggle, name="network-toggle"),
    path("networks/<int:network_pk>/channels/add/", admin.channel_edit, name="channel-add"),
    path("channels/<int:pk>/", admin.channel_edit, name="channel-edit"),
    path("channels/<int:pk>/toggle/", admin.channel_toggle, name="channel-toggle"),
    path("channels/<int:pk>/say/", admin.channel_say, name="channel-say"),
    path("plugins/", plugins.plugin_list, name="plugin-list"),
    path("plugins/<str:name>/", plugins.plugin_settings, name="plugin-settings"),
    path("plugins/<str:name>/reset/", plugins.plugin_reset, name="plugin-reset"),
    path("pypi/", pypi.watches, name="pypi-watches"),
    path("pypi/unwatch/", pypi.unwatch, name="pypi-unwatch"),
    path("redactions/", redactions.redactions, name="redactions"),
    path("redactions/<int:pk>/delete/", redactions.redaction_delete, name="redaction-delete"),
    path("privacy/", privacy.privacy, name="privacy"),
]
