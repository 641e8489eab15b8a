"""What the DNS pages share: the pending batch and the conflict page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dnsadmin.changes import Batch, ConflictError, batch_from_json, batch_to_json
from dnsadmin.models import PendingBatch, Zone


def pending_batch(request: HttpRequest, zone: Zone) -> Batch:
    """Return the changes the signed-in user queued on zone (kept across logins)."""
    stored = PendingBatch.objects.filter(user=request.user, zone=zone).first()
    return batch_from_json(stored.edits) if stored else {}


def save_pending(request: HttpRequest, zone: Zone, batch: Batch) -> None:
    """Keep batch as the user's pending changes on zone; an empty batch forgets them."""
    if batch:
        PendingBatch.objects.update_or_create(
            user=request.user, zone=zone, defaults={"edits": batch_to_json(batch)}
        )
    else:
        PendingBatch.objects.filter(user=request.user, zone=zone).delete()


def conflict_page(request: HttpRequest, zone: Zone, conflict: ConflictError) -> HttpResponse:
    context = {"zone": zone, "conflict": conflict}
    return render(request, "dnsadmin/conflict.html", context, status=409)
