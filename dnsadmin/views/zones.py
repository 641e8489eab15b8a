"""Zone list, creation, settings, deletion and the zone page with its records."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dnsadmin import access, dnssec, listing, secondary
from dnsadmin.changes import (
    ChangeError,
    ConflictError,
    apply_changes,
    change_settings,
    create_zone,
    delete_zone,
)
from dnsadmin.forms import (
    TYPED_FORMS,
    GrantForm,
    RecordFilterForm,
    ZoneCreateForm,
    ZoneSettingsForm,
    changed_settings,
)
from dnsadmin.models import Zone, ZoneChange
from dnsadmin.views import tsig as tsig_views
from dnsadmin.views.common import conflict_page, pending_batch, save_pending

DELETED_ZONES_SHOWN = 20


def render_zone_list(
    request: HttpRequest, form: ZoneCreateForm | None, status: int = 200
) -> HttpResponse:
    zones = (
        Zone.objects.viewable_by(request.user)
        .annotate(record_count=Count("records"))
        .select_related("secondary")
    )
    context = {
        "zones": [(zone, secondary_state(zone)) for zone in zones],
        "form": form,
        # Deleted zones' history has no zone page to hang from: it is reached from here.
        "deleted": ZoneChange.objects.filter(zone_deleted=True)[:DELETED_ZONES_SHOWN]
        if access.is_staff(request.user)
        else [],
    }
    return render(request, "dnsadmin/zone_list.html", context, status=status)


def secondary_state(zone: Zone) -> dict | None:
    """Return a secondary zone's state and last error for the list (None: a primary zone),
    as ``manage.py zone list`` says them."""
    copied = getattr(zone, "secondary", None)  # read with the zone (select_related)
    if copied is None:
        return None
    return {"state": secondary.state(copied), "error": copied.last_error}


@access.signed_in
def zone_list(request: HttpRequest) -> HttpResponse:
    return render_zone_list(request, ZoneCreateForm() if access.is_staff(request.user) else None)


@access.staff_only
def zone_create(request: HttpRequest) -> HttpResponse:
    form = ZoneCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        zone = create_zone(form.instance, request.user)
        messages.success(request, f"Zone {zone.origin} created.")
        return redirect("dnsadmin:zone-detail", pk=zone.pk)
    return render_zone_list(request, form, status=400 if form.is_bound else 200)


@access.zone_viewer
def zone_detail(request: HttpRequest, zone: Zone) -> HttpResponse:
    filters = RecordFilterForm(request.GET or None)
    name = request.GET.get("name", "")
    size = listing.page_size(request.GET.get("size"))
    shown = listing.record_page(
        zone, name, request.GET.get("type", ""), request.GET.get("page"), size
    )
    context = {
        "zone": zone,
        "filters": filters,
        "page": shown.page,
        "rows": shown.rows,
        "size": size,
        "sizes": listing.PAGE_SIZES,
        "pending": list(pending_batch(request, zone).values()),
        "typed": list(TYPED_FORMS),
        "record_count": zone.records.count(),
        "dnssec": dnssec.status(zone),
        "update_policy": tsig_views.policy_context(zone),
        "zone_editable": access.can_edit(request.user, zone),
        "secondary": secondary.status(zone),
    }
    if context["secondary"]["secondary"]:
        # Its records come from its primaries: shown read-only, with a refresh button.
        context |= {"can_refresh": context["zone_editable"], "zone_editable": False}
    return render(request, "dnsadmin/zone_detail.html", context)


@access.zone_editor
def zone_settings(request: HttpRequest, zone: Zone) -> HttpResponse:
    form = ZoneSettingsForm(request.POST or None, instance=zone)
    if request.method == "POST" and form.is_valid():
        if form.has_changed():
            try:
                change_settings(zone, changed_settings(form), request.user)
            except ChangeError as error:  # e.g. the SOA of a secondary zone
                form.add_error(None, str(error))
                return render_settings(request, zone, form, GrantForm(), status=400)
            messages.success(request, f"Settings saved; serial {zone.serial}.")
        return redirect("dnsadmin:zone-detail", pk=zone.pk)
    return render_settings(request, zone, form, GrantForm())


def render_settings(request, zone: Zone, form, grant_form, status: int = 200) -> HttpResponse:
    context = {"zone": zone, "form": form}
    if access.is_staff(request.user):  # only staff hand out access
        context |= {"grants": access.zone_grants(zone), "grant_form": grant_form}
    return render(request, "dnsadmin/zone_settings.html", context, status=status)


@require_POST
@access.staff_only
def zone_grant(request: HttpRequest, pk: int) -> HttpResponse:
    zone = access.zone_for(request, access.EDIT, pk=pk)
    grant_form = GrantForm(request.POST)
    if not grant_form.is_valid():
        form = ZoneSettingsForm(instance=zone)
        return render_settings(request, zone, form, grant_form, status=400)
    made = access.grant(zone, grant_form.cleaned_data["who"], grant_form.cleaned_data["level"])
    messages.success(request, f"Granted: {made}.")
    return redirect("dnsadmin:zone-settings", pk=zone.pk)


@require_POST
@access.staff_only
def zone_revoke(request: HttpRequest, pk: int, grant_pk: int) -> HttpResponse:
    zone = access.zone_for(request, access.EDIT, pk=pk)
    gone = access.revoke(zone, grant_pk)
    messages.success(request, f"Revoked: {gone}.")
    return redirect("dnsadmin:zone-settings", pk=zone.pk)


@access.staff_only
def zone_delete(request: HttpRequest, pk: int) -> HttpResponse:
    zone = access.zone_for(request, access.EDIT, pk=pk)
    if request.method == "POST":
        change = delete_zone(zone, request.user)
        messages.success(request, f"Zone {change.origin} deleted; its history is kept.")
        return redirect("dnsadmin:zone-list")
    return render(request, "dnsadmin/zone_delete.html", {"zone": zone})


@require_POST
@access.zone_editor
def pending_apply(request: HttpRequest, zone: Zone) -> HttpResponse:
    batch = pending_batch(request, zone)
    try:
        change = apply_changes(zone, batch.values(), request.user)
    except ConflictError as conflict:
        return conflict_page(request, zone, conflict)
    except ChangeError as error:
        messages.error(request, f"Nothing was applied: {error}")
        return redirect("dnsadmin:zone-detail", pk=zone.pk)
    save_pending(request, zone, {})
    if change is not None:
        messages.success(request, f"{len(batch)} RRset changes applied; serial {zone.serial}.")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


@require_POST
@access.zone_editor
def pending_discard(request: HttpRequest, zone: Zone) -> HttpResponse:
    save_pending(request, zone, {})
    messages.info(request, "Pending changes discarded.")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)
