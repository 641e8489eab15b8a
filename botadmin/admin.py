from django.contrib import admin

from botadmin.forms import ChannelAdminForm, NetworkAdminForm
from botadmin.models import (
    Channel,
    Ignore,
    LogLine,
    Network,
    OptOut,
    Plugin,
    PluginSetting,
    PrivacyAction,
    Seen,
    StoredValue,
)


class ChannelInline(admin.TabularInline):
    model = Channel
    form = ChannelAdminForm
    extra = 0


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    form = NetworkAdminForm
    list_display = ["name", "host", "port", "tls", "nick", "enabled"]
    list_filter = ["enabled", "tls"]
    inlines = [ChannelInline]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["name", "network", "public", "logged", "enabled"]
    list_filter = ["network", "public", "logged", "enabled"]
    search_fields = ["name"]


@admin.register(Plugin)
class PluginAdmin(admin.ModelAdmin):
    list_display = ["name", "module", "available"]
    readonly_fields = ["name", "module", "description", "settings_schema", "discovered"]


@admin.register(PluginSetting)
class PluginSettingAdmin(admin.ModelAdmin):
    list_display = ["plugin", "scope", "enabled"]
    list_filter = ["plugin", "enabled"]


@admin.register(LogLine)
class LogLineAdmin(admin.ModelAdmin):
    list_display = ["time", "channel", "kind", "nick", "text"]
    list_filter = ["kind", "channel__network"]
    search_fields = ["nick", "text"]
    list_select_related = ["channel__network"]
    date_hierarchy = "time"


@admin.register(StoredValue)
class StoredValueAdmin(admin.ModelAdmin):
    list_display = ["plugin", "key", "version", "updated"]
    list_filter = ["plugin"]


@admin.register(Seen)
class SeenAdmin(admin.ModelAdmin):
    list_display = ["display_nick", "network", "channel", "time"]
    search_fields = ["nick"]


@admin.register(Ignore)
class IgnoreAdmin(admin.ModelAdmin):
    list_display = ["mask", "network", "channel", "expires", "added_by"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["display_nick", "network", "created"]
    list_filter = ["network"]
    search_fields = ["nick"]


@admin.register(PrivacyAction)
class PrivacyActionAdmin(admin.ModelAdmin):
    """The audit log: read-only, so what was done to a nick stays on record."""

    list_display = ["time", "action", "nick", "network", "lines", "seen", "by", "via"]
    list_filter = ["action", "network"]
    search_fields = ["nick"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
