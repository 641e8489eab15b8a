"""History of a zone or one RRset, a change's detail, and reverting it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from appliance.access import staff_required
from dnsadmin.changes import ChangeError, ConflictError, revert_change
from dnsadmin.models import RRsetChange, Zone, ZoneChange
from dnsadmin.views.common import conflict_page

CHANGES_PER_PAGE = 50


@login_required
def zone_history(request: HttpRequest, pk: int) -> HttpResponse:
    """All changes of a zone, or with ?owner=&type= those of one RRset."""
    zone = get_object_or_404(Zone, pk=pk)
    owner, rdtype = request.GET.get("owner", ""), request.GET.get("type", "").upper()
    rrsets = RRsetChange.objects.all()
    if owner:
        rrsets = rrsets.filter(owner=owner.lower())
    if rdtype:
        rrsets = rrsets.filter(rdtype=rdtype)
    changes = zone.changes.select_related("reverts")
    if owner or rdtype:
        changes = changes.filter(rrsets__in=rrsets).distinct()
    changes = changes.prefetch_related(Prefetch("rrsets", queryset=rrsets))
    page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    context = {"zone": zone, "page": page, "owner": owner, "rdtype": rdtype}
    return render(request, "dnsadmin/zone_history.html", context)


@login_required
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(ZoneChange.objects.select_related("zone", "reverts"), pk=pk)
    context = {"change": change, "zone": change.zone}
    if change.zone is None:
        # No zone page links the rest of a deleted zone's history any more: this does.
        others = ZoneChange.objects.filter(zone=None, origin=change.origin).exclude(pk=change.pk)
        context["others"] = others[:CHANGES_PER_PAGE]
    return render(request, "dnsadmin/change_detail.html", context)


@require_POST
@staff_required
def change_revert(request: HttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(ZoneChange.objects.select_related("zone"), pk=pk)
    try:
        reverted = revert_change(change, request.user)
    except ConflictError as conflict:
        return conflict_page(request, change.zone, conflict)
    except ChangeError as error:
        messages.error(request, f"Cannot revert: {error}")
        return redirect("dnsadmin:change-detail", pk=change.pk)
    if reverted is None:
        messages.info(request, "Nothing to revert: the data is already as before that change.")
    else:
        messages.success(request, f"Reverted; serial {change.zone.serial}.")
    return redirect("dnsadmin:zone-history", pk=change.zone.pk)
