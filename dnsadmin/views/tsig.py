"""TSIG keys and zones' update policies: staff pages and the same over the JSON API.

A key's secret is shown once, at creation, as a BIND key clause (what `nsupdate -k` reads);
afterwards only its name, algorithm, grants and last use are ever shown.
"""

from __future__ import annotations

import dns.exception
from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dnsadmin import access, api, updates
from dnsadmin.models import TSIG_ALGORITHMS, UPDATE_RULE_TYPES, TsigKey, UpdateRule, Zone
from dnsadmin.names import tsig


class PolicyError(ValueError):
    """A key or rule the operator asked for cannot be made; the message says why."""


def make_key(name: str, algorithm: str) -> tuple[TsigKey, str]:
    if algorithm not in TSIG_ALGORITHMS:
        raise PolicyError(f"Algorithm must be one of {', '.join(TSIG_ALGORITHMS)}.")
    try:
        return updates.add_key(name, algorithm)
    except dns.exception.DNSException as error:
        raise PolicyError(f"Not a valid key name: {error}") from None
    except IntegrityError:
        raise PolicyError(f"A key named {name} exists already.") from None


def make_rule(zone: Zone, data) -> UpdateRule:
    key = TsigKey.objects.filter(name=_key_name(data.get("key", ""))).first()
    if key is None:
        raise PolicyError("No such key.")
    types = data.get("types", "")
    types = types.split() if isinstance(types, str) else [str(t) for t in types]
    grant = str(data.get("grant", "grant")).lower() not in ("deny", "false", "0")
    try:
        return updates.add_rule(
            zone, key, str(data.get("rule_type", "")), str(data.get("name", "")).strip(),
            types, grant=grant,
        )  # fmt: skip
    except (ValueError, dns.exception.DNSException) as error:
        raise PolicyError(str(error)) from None


def _key_name(text: str) -> str:
    try:
        return tsig.key_name(str(text)).to_text()
    except dns.exception.DNSException:
        return ""


def key_json(key: TsigKey) -> dict:
    return {
        "name": key.name, "algorithm": key.algorithm, "created": key.created.isoformat(),
        "last_used": key.last_used.isoformat() if key.last_used else None,
        "rules": [rule_json(rule) for rule in key.rules.select_related("zone")],
    }  # fmt: skip


def rule_json(rule: UpdateRule) -> dict:
    return {
        "id": rule.pk, "zone": rule.zone.origin, "position": rule.position,
        "grant": rule.grant, "key": rule.key.name, "rule_type": rule.rule_type,
        "name": rule.name, "types": rule.types.split(),
    }  # fmt: skip


# pages ----------------------------------------------------------------------------------


@access.staff_only
def key_list(request: HttpRequest) -> HttpResponse:
    clause, error = None, None
    if request.method == "POST":
        try:
            _, clause = make_key(
                request.POST.get("name", ""), request.POST.get("algorithm") or "hmac-sha256"
            )
        except PolicyError as problem:
            error = str(problem)
    context = {
        "keys": TsigKey.objects.prefetch_related("rules__zone"),
        "algorithms": TSIG_ALGORITHMS,
        "clause": clause,
        "error": error,
    }
    return render(request, "dnsadmin/tsig_list.html", context, status=400 if error else 200)


@require_POST
@access.staff_only
def key_delete(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(TsigKey, pk=pk)
    key.delete()
    messages.success(request, f"Key {key.name} removed, with the rules that named it.")
    return redirect("dnsadmin:tsig-list")


@require_POST
@access.zone_editor
def rule_add(request: HttpRequest, zone: Zone) -> HttpResponse:
    try:
        rule = make_rule(zone, request.POST)
        messages.success(request, f"Update policy: {rule} added.")
    except PolicyError as error:
        messages.error(request, str(error))
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


@require_POST
@access.zone_editor
def rule_delete(request: HttpRequest, zone: Zone, rule_pk: int) -> HttpResponse:
    rule = get_object_or_404(UpdateRule, pk=rule_pk, zone=zone)
    rule.delete()
    messages.success(request, f"Update policy: {rule} removed.")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


def policy_context(zone: Zone) -> dict:
    """What the zone page's update-policy section shows."""
    return {
        "rules": zone.update_rules.select_related("key"),
        "keys": TsigKey.objects.all(),
        "rule_types": UPDATE_RULE_TYPES,
    }


# the API --------------------------------------------------------------------------------


@access.api_rule("staff")
@api.token_required
def keys_api(request: HttpRequest) -> HttpResponse:
    """GET: every key (never a secret). POST {"name", "algorithm"}: make one; the answer holds
    its secret and BIND key clause, the only time they are given."""
    api.require_staff(request)
    if request.method == "POST":
        data = api.body(request)
        try:
            key, clause = make_key(
                str(data.get("name", "")), str(data.get("algorithm", "hmac-sha256"))
            )
        except PolicyError as error:
            return JsonResponse({"errors": {"name": [str(error)]}}, status=400)
        secret = clause.split('secret "')[1].split('"')[0]
        return JsonResponse({**key_json(key), "secret": secret, "bind": clause}, status=201)
    if request.method != "GET":
        return api.method_not_allowed("GET, POST")
    return JsonResponse({"keys": [key_json(key) for key in TsigKey.objects.all()]})


@access.api_rule("staff")
@api.token_required
def key_api(request: HttpRequest, name: str) -> HttpResponse:
    api.require_staff(request)
    key = TsigKey.objects.filter(name=_key_name(name)).first()
    if key is None:
        raise Http404
    if request.method == "DELETE":
        key.delete()
        return HttpResponse(status=204)
    if request.method != "GET":
        return api.method_not_allowed("GET, DELETE")
    return JsonResponse(key_json(key))


@access.api_rule("zone")
@api.token_required
def policy_api(request: HttpRequest, origin: str) -> HttpResponse:
    """GET: the zone's rules in order. POST {"grant": true, "key", "rule_type", "name",
    "types": [...]}: append one. DELETE ?id=N: remove one."""
    zone = api.get_zone(request, origin)
    if request.method == "POST":
        try:
            rule = make_rule(zone, api.body(request))
        except PolicyError as error:
            return JsonResponse({"errors": {"rule": [str(error)]}}, status=400)
        return JsonResponse(rule_json(rule), status=201)
    if request.method == "DELETE":
        get_object_or_404(UpdateRule, zone=zone, pk=request.GET.get("id") or 0).delete()
        return HttpResponse(status=204)
    if request.method != "GET":
        return api.method_not_allowed("GET, POST, DELETE")
    rules = zone.update_rules.select_related("key", "zone")
    return JsonResponse({"rules": [rule_json(rule) for rule in rules]})
