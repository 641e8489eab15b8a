"""What the DNS pages share: the pending batch and the conflict page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dnsadmin.changes import Batch, ConflictError, batch_from_json, batch_to_json
from dnsadmin.models import Zone


def pending_key(zone: Zone) -> str:
    return f"dnsadmin.pending.{zone.pk}"


def pending_batch(request: HttpRequest, zone: Zone) -> Batch:
    return batch_from_json(request.session.get(pending_key(zone), []))


def save_pending(request: HttpRequest, zone: Zone, batch: Batch) -> None:
    if batch:
        request.session[pending_key(zone)] = batch_to_json(batch)
    else:
        request.session.pop(pending_key(zone), None)


def conflict_page(request: HttpRequest, zone: Zone, conflict: ConflictError) -> HttpResponse:
    context = {"zone": zone, "conflict": conflict}
    return render(request, "dnsadmin/conflict.html", context, status=409)
