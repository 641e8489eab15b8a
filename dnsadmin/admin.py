from django.contrib import admin

from dnsadmin.models import Record, Zone


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["origin", "serial", "enabled", "updated"]
    list_filter = ["enabled"]
    search_fields = ["origin"]
    readonly_fields = ["serial", "created", "updated"]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["owner", "zone", "rdtype", "ttl", "rdata", "enabled"]
    list_filter = ["rdtype", "enabled", "zone"]
    search_fields = ["owner", "rdata", "comment"]
    list_select_related = ["zone"]
