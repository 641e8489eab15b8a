"""What the DNS pages share: the staff check, the pending batch and the conflict page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dnsadmin.changes import Batch, ConflictError, batch_from_json, batch_to_json
from dnsadmin.models import Zone


def staff_required(view: Callable) -> Callable:
    """Signed-in users may look; only staff may change (403, not a login loop)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can make changes.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


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
