from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from dnsadmin.changes import (
    RecordData,
    RecordRef,
    apply_changes,
    change_settings,
    create_zone,
    delete_zone,
    plan_record_change,
)
from dnsadmin.models import ApiToken, Record, RRsetChange, Zone, ZoneChange, ZonePermission


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["origin", "serial", "enabled", "updated"]
    list_filter = ["enabled"]
    search_fields = ["origin"]
    readonly_fields = ["serial", "created", "updated"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        """Keep a zone's name once it exists: its records and history hang from it."""
        return [*self.readonly_fields, "origin"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Zone, form, change: bool) -> None:
        """Create or change the zone through the change service, as the zone pages do."""
        if not change:
            create_zone(obj, request.user, source="admin")
            return
        values = {name: getattr(obj, name) for name in form.changed_data}
        change_settings(obj, values, request.user, source="admin")

    def delete_model(self, request: HttpRequest, obj: Zone) -> None:
        delete_zone(obj, request.user, source="admin")

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for zone in queryset:
            delete_zone(zone, request.user, source="admin")


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    """Record edits go through the change service, so they get the rules and the history."""

    list_display = ["owner", "zone", "rdtype", "ttl", "rdata", "enabled"]
    list_filter = ["rdtype", "enabled", "zone"]
    search_fields = ["owner", "rdata", "comment"]
    list_select_related = ["zone"]

    def save_model(self, request: HttpRequest, obj: Record, form, change: bool) -> None:
        old = None
        if change:
            stored = Record.objects.get(pk=obj.pk)
            old = RecordRef(stored.owner, stored.rdtype, stored.rdata)
        new = (obj.owner, obj.rdtype, RecordData.from_record(obj))
        batch = plan_record_change(obj.zone, {}, old=old, new=new)
        apply_changes(obj.zone, batch.values(), request.user, source="admin")
        # The admin links to the saved object next; a new record's row is found by its data.
        obj.pk = obj.zone.records.get(owner=obj.owner, rdtype=obj.rdtype, rdata=obj.rdata).pk

    def delete_model(self, request: HttpRequest, obj: Record) -> None:
        batch = plan_record_change(obj.zone, {}, old=RecordRef(obj.owner, obj.rdtype, obj.rdata))
        apply_changes(obj.zone, batch.values(), request.user, source="admin")

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        """One change per zone, each applied atomically with one serial bump."""
        by_zone: dict[Zone, list[Record]] = {}
        for record in queryset.select_related("zone"):
            by_zone.setdefault(record.zone, []).append(record)
        for zone, records in by_zone.items():
            batch: dict = {}
            for record in records:
                ref = RecordRef(record.owner, record.rdtype, record.rdata)
                batch = plan_record_change(zone, batch, old=ref)
            apply_changes(zone, batch.values(), request.user, source="admin")


class RRsetChangeInline(admin.TabularInline):
    model = RRsetChange
    fields = ["owner", "rdtype", "before", "after"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(ZoneChange)
class ZoneChangeAdmin(admin.ModelAdmin):
    """The history is a record of what happened: readable here, never edited."""

    list_display = ["origin", "serial_before", "serial_after", "username", "source", "created"]
    list_filter = ["source", "zone"]
    inlines = [RRsetChangeInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "scope", "all_zones", "expires", "last_used"]
    fields = ["user", "name", "scope", "all_zones", "zones", "expires"]
    filter_horizontal = ["zones"]
    list_select_related = ["user"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return ["user"] if obj else []

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if not change:
            key = obj.set_new_key()
            messages.warning(request, f"The token's key (shown only this once): {key}")
        super().save_model(request, obj, form, change)


@admin.register(ZonePermission)
class ZonePermissionAdmin(admin.ModelAdmin):
    """Who may view or edit which zone (empty zone: every zone); see `dnsadmin.access`."""

    list_display = ["zone", "user", "group", "level", "created"]
    list_filter = ["level"]
    list_select_related = ["zone", "user", "group"]
    autocomplete_fields = ["user", "group"]
    search_fields = ["zone__origin", "user__username", "group__name"]
