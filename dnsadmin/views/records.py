"""Adding, editing, deleting and switching records, now or into the pending batch."""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST

from dnsadmin import access
from dnsadmin.changes import (
    Batch,
    ChangeError,
    ConflictError,
    RecordData,
    RecordRef,
    apply_changes,
    canonical_key,
    current_rrset,
    fingerprint,
    plan_record_change,
)
from dnsadmin.forms import RecordForm, form_class_for, initial_for
from dnsadmin.models import Record, Zone
from dnsadmin.views.common import conflict_page, pending_batch, save_pending


@access.zone_editor
def record_add(request: HttpRequest, zone: Zone) -> HttpResponse:
    rdtype = request.GET.get("type", "A")
    form = form_class_for(rdtype)(request.POST or None, zone=zone)
    if request.method == "POST" and form.is_valid():
        done = submit(request, zone, form, old=None)
        if done:
            return done
    return render_form(request, zone, form, None)


@access.zone_editor
def record_edit(request: HttpRequest, zone: Zone, record_pk: int) -> HttpResponse:
    record = get_object_or_404(Record, pk=record_pk, zone=zone)
    initial = {**initial_for(record), "fingerprint": rrset_fingerprint(record)}
    form = form_class_for(record.rdtype)(request.POST or None, zone=zone, initial=initial)
    if request.method == "POST" and form.is_valid():
        done = submit(request, zone, form, old=ref(record))
        if done:
            return done
    return render_form(request, zone, form, record)


@access.zone_editor
def record_delete(request: HttpRequest, zone: Zone, record_pk: int) -> HttpResponse:
    record = get_object_or_404(Record, pk=record_pk, zone=zone)
    if request.method != "POST":
        context = {"zone": zone, "record": record, "fingerprint": rrset_fingerprint(record)}
        return render(request, "dnsadmin/record_delete.html", context)
    return change_now_or_later(request, zone, old=ref(record), new=None)


@require_POST
@access.zone_editor
def record_toggle(request: HttpRequest, zone: Zone, record_pk: int) -> HttpResponse:
    record = get_object_or_404(Record, pk=record_pk, zone=zone)
    flipped = replace(RecordData.from_record(record), enabled=not record.enabled)
    return change_now_or_later(request, zone, ref(record), (record.owner, record.rdtype, flipped))


SEARCH_LIMIT = 200


@access.signed_in
def record_search(request: HttpRequest) -> HttpResponse:
    """Find records in every zone by a piece of their name or data (a name, 10.0.0.5)."""
    text = request.GET.get("q", "").strip()
    found: list[Record] = []
    if text:
        piece = text.lower().rstrip(".")
        matches = Q(rdata__icontains=text) | Q(owner__icontains=piece)
        zones = Zone.objects.viewable_by(request.user)
        for zone in zones:  # a full name: its zone's relative owner
            bare = zone.origin.rstrip(".")
            if piece == bare or piece.endswith("." + bare):
                owner = "@" if piece == bare else piece.removesuffix("." + bare)
                matches |= Q(zone=zone, owner=owner)
        records = Record.objects.filter(matches, zone__in=zones).select_related("zone")
        found = list(records.order_by("zone__origin", "owner", "rdtype")[: SEARCH_LIMIT + 1])
    context = {"q": text, "records": found[:SEARCH_LIMIT], "more": len(found) > SEARCH_LIMIT}
    return render(request, "dnsadmin/record_search.html", context)


@require_POST
@access.zone_editor
def pending_drop(request: HttpRequest, zone: Zone) -> HttpResponse:
    """Take one RRset out of the pending changes, keeping the others."""
    batch = pending_batch(request, zone)
    key = (request.POST.get("owner", ""), request.POST.get("rdtype", ""))
    if batch.pop(key, None) is not None:
        save_pending(request, zone, batch)
        messages.info(request, f"{key[0]} {key[1]} is no longer pending.")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


@require_POST
@access.zone_editor
def records_delete(request: HttpRequest, zone: Zone) -> HttpResponse:
    """Delete the selected records in one change (one serial, one history entry); each RRset
    is checked against the fingerprint shown, so nothing changed meanwhile is removed."""
    ids = [int(value) for value in request.POST.getlist("record") if value.isdigit()]
    batch: Batch = {}
    try:
        for record in zone.records.filter(pk__in=ids):
            shown = request.POST.get(f"fingerprint-{record.pk}") or None
            batch = plan_record_change(zone, batch, old=ref(record), shown=shown)
        if batch and apply_changes(zone, batch.values(), request.user) is not None:
            messages.success(
                request, f"Deleted {len(ids)} record{pluralize(len(ids))}; serial {zone.serial}."
            )
    except ConflictError as conflict:
        return conflict_page(request, zone, conflict)
    except ChangeError as error:
        messages.error(request, f"Nothing was deleted: {error}")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


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
        notice, current = ttl_notice(zone, new, old)
        if notice and old is None and shown is None:
            # Ask first: the author has not seen the RRset whose TTL this changes. Their
            # second submit carries its fingerprint, so a change meanwhile is a conflict.
            form.ttl_notice = notice
            form.data = form.data.copy()
            form.data["fingerprint"] = current
            return None
        plan_and_finish(request, zone, old, new, shown)
        if notice:
            messages.info(request, notice)
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


def ttl_notice(zone: Zone, new, old: RecordRef | None) -> tuple[str, str]:
    """Say what the new record's TTL does to the other records of its RRset (RFC 2181 §5.2:
    one RRset, one TTL), with that RRset's fingerprint; ("", "") when it changes nothing."""
    owner, rdtype, record = new
    key = canonical_key(zone, owner, rdtype)
    others = [
        r
        for r in current_rrset(zone, *key)
        if old is None or key != canonical_key(zone, old.owner, old.rdtype) or r.rdata != old.rdata
    ]
    if not others or (old is None and record.ttl is None):
        return "", ""
    ttls = {r.ttl for r in others}
    if ttls == {record.ttl}:
        return "", ""
    before = ", ".join(sorted(ttl_text(zone, t) for t in ttls))
    count = len(others)
    notice = (
        f"{key[0]} {key[1]} has {count} other record{pluralize(count)} with TTL {before}; an "
        f"RRset has one TTL, so saving sets all {count + 1} to {ttl_text(zone, record.ttl)}."
    )
    return notice, fingerprint(current_rrset(zone, *key))


def ttl_text(zone: Zone, ttl: int | None) -> str:
    return f"{zone.default_ttl} (the zone's default)" if ttl is None else str(ttl)


def plan_and_finish(request: HttpRequest, zone: Zone, old, new, shown: str | None) -> None:
    """Apply the change at once, or add it to the session's pending batch."""
    queue = request.POST.get("action") == "queue"
    base: Batch = pending_batch(request, zone) if queue else {}
    batch = plan_record_change(zone, base, old=old, new=new, shown=shown)
    if queue:
        save_pending(request, zone, batch)
        count = len(batch)
        messages.info(request, f"Added to the pending changes ({count} RRset{pluralize(count)}).")
        return
    if apply_changes(zone, batch.values(), request.user) is not None:
        messages.success(request, f"Saved; serial {zone.serial}.")


def render_form(request: HttpRequest, zone: Zone, form: RecordForm, record) -> HttpResponse:
    conflict = getattr(form, "conflict", None)
    notice = getattr(form, "ttl_notice", "")
    status = 409 if conflict else (400 if form.is_bound and not notice else 200)
    context = {
        "zone": zone,
        "form": form,
        "record": record,
        "conflict": conflict,
        "ttl_notice": notice,
    }
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
