"""Adding, editing, deleting and switching records, now or into the pending batch."""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from appliance.access import staff_required
from dnsadmin.changes import (
    Batch,
    ChangeError,
    ConflictError,
    RecordData,
    RecordRef,
    apply_changes,
    current_rrset,
    fingerprint,
    plan_record_change,
)
from dnsadmin.forms import RecordForm, form_class_for, initial_for
from dnsadmin.models import Record, Zone
from dnsadmin.views.common import conflict_page, pending_batch, save_pending


@staff_required
def record_add(request: HttpRequest, pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
    rdtype = request.GET.get("type", "A")
    form = form_class_for(rdtype)(request.POST or None, zone=zone)
    if request.method == "POST" and form.is_valid():
        done = submit(request, zone, form, old=None)
        if done:
            return done
    return render_form(request, zone, form, None)


@staff_required
def record_edit(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
    record = get_object_or_404(Record, pk=record_pk, zone=zone)
    initial = {**initial_for(record), "fingerprint": rrset_fingerprint(record)}
    form = form_class_for(record.rdtype)(request.POST or None, zone=zone, initial=initial)
    if request.method == "POST" and form.is_valid():
        done = submit(request, zone, form, old=ref(record))
        if done:
            return done
    return render_form(request, zone, form, record)


@staff_required
def record_delete(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
    record = get_object_or_404(Record, pk=record_pk, zone=zone)
    if request.method != "POST":
        context = {"zone": zone, "record": record, "fingerprint": rrset_fingerprint(record)}
        return render(request, "dnsadmin/record_delete.html", context)
    return change_now_or_later(request, zone, old=ref(record), new=None)


@require_POST
@staff_required
def record_toggle(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    zone = get_object_or_404(Zone, pk=pk)
    record = get_object_or_404(Record, pk=record_pk, zone=zone)
    flipped = replace(RecordData.from_record(record), enabled=not record.enabled)
    return change_now_or_later(request, zone, ref(record), (record.owner, record.rdtype, flipped))


def change_now_or_later(request: HttpRequest, zone: Zone, old, new) -> HttpResponse:
    """Delete and enable/disable buttons: the change, or the conflict page."""
    try:
        plan_and_finish(request, zone, old, new, request.POST.get("fingerprint") or None)
    except ConflictError as conflict:
        return conflict_page(request, zone, conflict)
    except ChangeError as error:
        messages.error(request, f"Nothing was changed: {error}")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


def submit(
    request: HttpRequest, zone: Zone, form: RecordForm, old: RecordRef | None
) -> HttpResponse | None:
    """Apply or queue a valid record form; on failure leave the errors on the form."""
    new = (form.cleaned_data["owner"], form.record_type(), form.record())
    shown = form.cleaned_data["fingerprint"] or None
    try:
        plan_and_finish(request, zone, old, new, shown)
    except ChangeError as error:
        form.show_error(error.field, str(error))
        return None
    except ConflictError as conflict:
        form.conflict = conflict
        # Submitting again now means "mine over what is there now", a deliberate choice.
        form.data = form.data.copy()
        form.data["fingerprint"] = current_fingerprint(zone, conflict)
        return None
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


def plan_and_finish(request: HttpRequest, zone: Zone, old, new, shown: str | None) -> None:
    """Apply the change at once, or add it to the session's pending batch."""
    queue = request.POST.get("action") == "queue"
    base: Batch = pending_batch(request, zone) if queue else {}
    batch = plan_record_change(zone, base, old=old, new=new, shown=shown)
    if queue:
        save_pending(request, zone, batch)
        messages.info(request, f"Added to the pending changes ({len(batch)} RRsets).")
        return
    if apply_changes(zone, batch.values(), request.user) is not None:
        messages.success(request, f"Saved; serial {zone.serial}.")


def render_form(request: HttpRequest, zone: Zone, form: RecordForm, record) -> HttpResponse:
    conflict = getattr(form, "conflict", None)
    status = 409 if conflict else (400 if form.is_bound else 200)
    context = {"zone": zone, "form": form, "record": record, "conflict": conflict}
    if record is None:
        context["rdtype"] = getattr(form, "rdtype", "") or "other"
    return render(request, "dnsadmin/record_form.html", context, status=status)


def ref(record: Record) -> RecordRef:
    return RecordRef(record.owner, record.rdtype, record.rdata)


def rrset_fingerprint(record: Record) -> str:
    return fingerprint(current_rrset(record.zone, record.owner, record.rdtype))


def current_fingerprint(zone: Zone, conflict: ConflictError) -> str:
    first = conflict.conflicts[0]
    return fingerprint(current_rrset(zone, first.owner, first.rdtype))
