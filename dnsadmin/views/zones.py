"""Zone list, creation, settings, deletion and the zone page with its records."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from appliance.access import staff_required
from dnsadmin import dnssec, listing
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
    context = {
        "zones": Zone.objects.annotate(record_count=Count("records")),
        "form": form,
        # Deleted zones' history has no zone page to hang from: it is reached from here.
        "deleted": ZoneChange.objects.filter(zone_deleted=True)[:DELETED_ZONES_SHOWN],
    }
    return render(request, "dnsadmin/zone_list.html", context, status=status)


@login_required
def zone_list(request: HttpRequest) -> HttpResponse:
    return render_zone_list(request, ZoneCreateForm() if request.user.is_staff else None)


@staff_required
def zone_create(request: HttpRequest) -> HttpResponse:
    form = ZoneCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        zone = create_zone(form.instance, request.user)
        messages.success(request, f"Zone {zone.origin} created.")
        return redirect("dnsadmin:zone-detail", pk=zone.pk)
    return render_zone_list(request, form, status=400 if form.is_bound else 200)


@login_required
def zone_detail(request: HttpRequest, pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
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
    }
    return render(request, "dnsadmin/zone_detail.html", context)


@staff_required
def zone_settings(request: HttpRequest, pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
    form = ZoneSettingsForm(request.POST or None, instance=zone)
    if request.method == "POST" and form.is_valid():
        if form.has_changed():
            change_settings(zone, changed_settings(form), request.user)
            messages.success(request, f"Settings saved; serial {zone.serial}.")
        return redirect("dnsadmin:zone-detail", pk=zone.pk)
    return render(request, "dnsadmin/zone_settings.html", {"zone": zone, "form": form})


@staff_required
def zone_delete(request: HttpRequest, pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
    if request.method == "POST":
        change = delete_zone(zone, request.user)
        messages.success(request, f"Zone {change.origin} deleted; its history is kept.")
        return redirect("dnsadmin:zone-list")
    return render(request, "dnsadmin/zone_delete.html", {"zone": zone})


@require_POST
@staff_required
def pending_apply(request: HttpRequest, pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
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
@staff_required
def pending_discard(request: HttpRequest, pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
    save_pending(request, zone, {})
    messages.info(request, "Pending changes discarded.")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)
