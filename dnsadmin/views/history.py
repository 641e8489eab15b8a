"""History of a zone or one RRset, a change's detail, and reverting it."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dnsadmin import access
from dnsadmin.changes import ChangeError, ConflictError, revert_change
from dnsadmin.models import RRsetChange, Zone, ZoneChange
from dnsadmin.views.common import conflict_page

CHANGES_PER_PAGE = 50


@access.zone_viewer
def zone_history(request: HttpRequest, zone: Zone) -> HttpResponse:
    """All changes of a zone, or with ?owner=&type= those of one RRset."""
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


@access.signed_in
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = access.change_for(request, access.VIEW, pk)
    editable = change.zone is not None and access.can_edit(request.user, change.zone)
    context = {"change": change, "zone": change.zone, "zone_editable": editable}
    if change.zone is None:
        # No zone page links the rest of a deleted zone's history any more: this does.
        others = ZoneChange.objects.filter(zone=None, origin=change.origin).exclude(pk=change.pk)
        context["others"] = others[:CHANGES_PER_PAGE]
    return render(request, "dnsadmin/change_detail.html", context)


@require_POST
@access.signed_in
def change_revert(request: HttpRequest, pk: int) -> HttpResponse:
    change = access.change_for(request, access.EDIT, pk)
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
