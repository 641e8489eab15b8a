"""The JSON API: zones and records over `Authorization: Token <key>`.

Every write goes through the change service, like the pages: same rules, same
conflict check (send an RRset's ``fingerprint`` to have it checked), same history.
Errors are JSON: 400 {"errors": {field: [messages]}}, 401, 403, 404, 409 with
the current data of the conflicting RRsets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from dnsadmin import access, secondary
from dnsadmin.changes import (
    ChangeError,
    ConflictError,
    RecordData,
    RecordRef,
    RRsetEdit,
    apply_changes,
    change_settings,
    create_zone,
    current_rrset,
    delete_zone,
    fingerprint,
    plan_import,
    plan_record_change,
    zone_rows,
)
from dnsadmin.forms import ZoneCreateForm, ZoneSettingsForm, changed_settings
from dnsadmin.models import ApiToken, Record, Zone
from dnsadmin.zonefile import ZoneFileError, export_zone, parse_records_for

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class BadRequest(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def problem(status: int, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Token realm="dns"'
    return response


def token_required(view: Callable) -> Callable:
    """Token authentication only, so no cookie can act for a user and CSRF does not apply."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "token" or not key.strip():
            return problem(401, "Authentication required: send Authorization: Token <key>.")
        token = ApiToken.authenticate(key.strip())
        if token is None:
            return problem(401, "Invalid or expired token.")
        if request.method not in SAFE_METHODS and token.scope != "write":
            return problem(403, "This is a read-only token.")
        request.user = token.user
        request.api_token = token
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return JsonResponse({"errors": error.errors}, status=400)
        except ChangeError as error:
            return JsonResponse({"errors": {error.field: [str(error)]}}, status=400)
        except ConflictError as conflict:
            return problem(409, str(conflict), conflicts=conflicts_json(conflict))
        except Http404:
            return problem(404, "Not found.")
        except PermissionDenied as denied:
            return problem(403, str(denied) or "Forbidden.")

    return wrapped


def body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest({"body": ["The body is not valid JSON."]}) from None
    if not isinstance(data, dict):
        raise BadRequest({"body": ["The body must be a JSON object."]})
    return data


def method_not_allowed(allowed: str) -> JsonResponse:
    response = problem(405, "Method not allowed.")
    response["Allow"] = allowed
    return response


def get_zone(request: HttpRequest, origin: str) -> Zone:
    """The zone named, if the token may view it (404 otherwise); a write needs edit (403)."""
    name = origin.strip().lower()
    level = access.VIEW if request.method in SAFE_METHODS else access.EDIT
    return access.zone_for(request, level, origin=name if name.endswith(".") else name + ".")


def require_staff(request: HttpRequest) -> None:
    """Zone creation and deletion, TSIG keys: staff's, through a token for every zone."""
    write = request.method not in SAFE_METHODS
    if not access.is_staff(request.user, access.token_of(request), write=write):
        raise PermissionDenied("Only staff, with a token for every zone, can do this.")


def zone_json(zone: Zone, record_count: int | None = None) -> dict:
    fields = ("origin", "enabled", "serial", "primary_ns", "contact", "refresh", "retry")
    fields += ("expire", "minimum", "default_ttl", "transfer_acl", "notify_targets")
    data = {name: getattr(zone, name) for name in fields}
    data["records"] = zone.records.count() if record_count is None else record_count
    data["updated"] = zone.updated.isoformat()
    return data


def rrsets_json(zone: Zone) -> list[dict]:
    """List the zone's records by RRset, each with the fingerprint to send back."""
    rrsets: dict[tuple[str, str], dict] = {}
    for row in zone_rows(zone):
        record = row.record
        rrset = rrsets.setdefault(
            (record.owner, record.rdtype),
            {"owner": record.owner, "type": record.rdtype, "fingerprint": row.fingerprint},
        )
        rrset.setdefault("records", []).append({"id": record.pk, **record_json(record)})
    return list(rrsets.values())


def record_json(record: Record) -> dict:
    return RecordData.from_record(record).as_dict()


def conflicts_json(conflict: ConflictError) -> list[dict]:
    return [
        {"owner": c.owner, "type": c.rdtype, "current": [r.as_dict() for r in c.current]}
        for c in conflict.conflicts
    ]


def token_name(request: HttpRequest) -> str:
    """Name the API token that made a change, for the history."""
    return f"token {request.api_token.name}"


def form_errors(form) -> dict[str, list[str]]:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


@access.api_rule("signed-in")
@token_required
def zones(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        shown = Zone.objects.viewable_by(request.user, request.api_token)
        return JsonResponse({"zones": [zone_json(zone) for zone in shown]})
    if request.method != "POST":
        return method_not_allowed("GET, POST")
    require_staff(request)
    form = ZoneCreateForm(body(request))
    if not form.is_valid():
        raise BadRequest(form_errors(form))
    zone = create_zone(form.instance, request.user, source="api", via=token_name(request))
    return JsonResponse(zone_json(zone), status=201)


@access.api_rule("zone")
@token_required
def zone(request: HttpRequest, origin: str) -> HttpResponse:
    found = get_zone(request, origin)
    if request.method == "GET":
        facts = secondary.status(found)  # a secondary's primaries and timers; null: a primary
        return JsonResponse(zone_json(found) | {"secondary": facts if facts["secondary"] else None})
    if request.method == "DELETE":
        require_staff(request)
        delete_zone(found, request.user, source="api", via=token_name(request))
        return HttpResponse(status=204)
    if request.method != "PATCH":
        return method_not_allowed("GET, PATCH, DELETE")
    return update_settings(request, found)


def update_settings(request: HttpRequest, found: Zone) -> JsonResponse:
    current = {name: getattr(found, name) for name in ZoneSettingsForm.Meta.fields}
    form = ZoneSettingsForm({**current, **body(request)}, instance=found)
    if not form.is_valid():
        raise BadRequest(form_errors(form))
    if form.has_changed():
        change_settings(
            found, changed_settings(form), request.user, source="api", via=token_name(request)
        )
    return JsonResponse(zone_json(found))


@access.api_rule("zone")
@token_required
def records(request: HttpRequest, origin: str) -> HttpResponse:
    found = get_zone(request, origin)
    if request.method == "GET":
        return JsonResponse({"serial": found.serial, "rrsets": rrsets_json(found)})
    if request.method == "POST":
        data = body(request)
        batch = plan_record_change(found, {}, new=new_record(data))
        apply_changes(found, batch.values(), request.user, source="api", via=token_name(request))
        return JsonResponse({"serial": found.serial, "rrsets": rrsets_json(found)}, status=201)
    if request.method != "PATCH":
        return method_not_allowed("GET, POST, PATCH")
    edits = [rrset_edit(item) for item in list_of(body(request), "rrsets")]
    apply_changes(found, edits, request.user, source="api", via=token_name(request))
    return JsonResponse({"serial": found.serial, "rrsets": rrsets_json(found)})


@access.api_rule("zone")
@token_required
def record(request: HttpRequest, origin: str, pk: int) -> HttpResponse:
    """One record; a write may carry the ``fingerprint`` of its RRset as the client saw it."""
    found = get_zone(request, origin)
    try:
        row = found.records.get(pk=pk)
    except Record.DoesNotExist:
        raise Http404 from None
    old = RecordRef(row.owner, row.rdtype, row.rdata)
    if request.method == "GET":
        shown = fingerprint(current_rrset(found, row.owner, row.rdtype))
        data = {"id": row.pk, "owner": row.owner, "type": row.rdtype, **record_json(row)}
        return JsonResponse({**data, "fingerprint": shown})
    if request.method == "DELETE":
        # A DELETE body is unusual (some clients drop it), so ?fingerprint= works too.
        data = body(request) if request.body else dict(request.GET.items())
        batch = plan_record_change(found, {}, old=old, shown=fingerprint_of(data))
    elif request.method in ("PUT", "PATCH"):
        data = body(request)
        merged = {"owner": row.owner, "type": row.rdtype, **record_json(row), **data}
        new = new_record(merged)
        batch = plan_record_change(found, {}, old=old, new=new, shown=fingerprint_of(data))
    else:
        return method_not_allowed("GET, PUT, PATCH, DELETE")
    apply_changes(found, batch.values(), request.user, source="api", via=token_name(request))
    return JsonResponse({"serial": found.serial, "rrsets": rrsets_json(found)})


def fingerprint_of(data: dict) -> str | None:
    """Return the RRset fingerprint a client sent (from a GET), or None: no check asked for."""
    expected = data.get("fingerprint")
    if expected is not None and not isinstance(expected, str):
        raise BadRequest({"fingerprint": ["A fingerprint is a string from a GET."]})
    return expected or None


def new_record(data: dict) -> tuple[str, str, RecordData]:
    """Read a record from JSON, checking the JSON types (dnspython checks the values)."""
    errors: dict[str, list[str]] = {}
    for name in ("owner", "type", "rdata"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            errors[name] = ["This field is required (a string)."]
    ttl = data.get("ttl")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0):
        errors["ttl"] = ["A TTL is a whole number of seconds, or null for the zone's default."]
    if errors:
        raise BadRequest(errors)
    record = RecordData(
        data["rdata"],
        ttl,
        bool(data.get("enabled", True)),
        str(data.get("comment", ""))[:255],
    )
    return data["owner"], data["type"], record


def rrset_edit(item: dict) -> RRsetEdit:
    """One PATCH item: {owner, type, ttl?, records: [{rdata, enabled?, comment?}], fingerprint?}."""
    if not isinstance(item, dict):
        raise BadRequest({"rrsets": ["Each RRset is a JSON object."]})
    rrset = {"owner": item.get("owner"), "type": item.get("type"), "ttl": item.get("ttl")}
    items = list_of(item, "records")
    if not all(isinstance(r, dict) for r in items):
        raise BadRequest({"records": ["Each record is a JSON object with its rdata."]})
    records = tuple(new_record({**rrset, **r})[2] for r in items)
    expected = fingerprint_of(item)
    if not records:
        # Deleting needs its owner and type checked too; the service canonicalises them.
        new_record({"owner": item.get("owner"), "type": item.get("type"), "rdata": "-"})
    return RRsetEdit(item["owner"], item["type"], records, expected)


def list_of(data: dict, name: str) -> list:
    value = data.get(name)
    if not isinstance(value, list):
        raise BadRequest({name: ["A JSON list is required."]})
    return value


@access.api_rule("zone")
@token_required
def zone_import(request: HttpRequest, origin: str) -> HttpResponse:
    """POST {"text": BIND text, "mode": "merge" | "replace", "dry_run": false}."""
    if request.method != "POST":
        return method_not_allowed("POST")
    found, data = get_zone(request, origin), body(request)
    mode = data.get("mode", "merge")
    if mode not in ("merge", "replace") or not isinstance(data.get("text"), str):
        raise BadRequest({"mode": ["merge or replace"], "text": ["The zone file's text."]})
    try:
        parsed = parse_records_for(found, data["text"], "text", replace_all=mode == "replace")
    except ZoneFileError as error:
        raise BadRequest({"text": [str(error)]}) from None
    plan = plan_import(found, parsed, replace_all=mode == "replace")
    preview = {
        action: [f"{p.owner} {p.rdtype}" for p in plan.of(action)]
        for action in ("add", "change", "remove")
    }
    if not data.get("dry_run"):
        summary = f"Import ({mode}): {plan.summary}"
        apply_changes(
            found,
            plan.edits(),
            request.user,
            source="import",
            via=token_name(request),
            summary=summary,
        )
    return JsonResponse({"serial": found.serial, "applied": not data.get("dry_run"), **preview})


@access.api_rule("zone")
@token_required
def zone_export(request: HttpRequest, origin: str) -> HttpResponse:
    if request.method != "GET":
        return method_not_allowed("GET")
    zone = get_zone(request, origin)
    return HttpResponse(export_zone(zone), content_type="text/plain; charset=utf-8")
