"""The DNSSEC panel's actions on the zone page, and the same over the JSON API."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from dnsadmin import access, api, dnssec
from dnsadmin.models import Zone

# Steps that can break resolution if misunderstood: the form must say the operator read why.
RISKY = {"disable", "rollover-ksk"}


def act(zone: Zone, action: str, options: dict, user) -> str:
    """Carry out one panel or API action; return what happened, in words."""
    if action == "enable":
        algorithm = options.get("algorithm") or "ecdsap256sha256"
        nsec3 = options.get("denial", "nsec3") != "nsec"
        dnssec.enable(zone, algorithm=algorithm, nsec3=nsec3, user=user)
        return f"{zone.origin} is signed. Give the registrar its DS records (below)."
    if action == "disable":
        return dnssec.disable(zone, user=user)
    if action in ("rollover-zsk", "rollover-ksk"):
        return dnssec.rollover(zone, action.removeprefix("rollover-"), user=user)
    if action == "ds-seen":
        return dnssec.ds_seen(zone, user=user)
    if action == "checkds":
        return dnssec.check_parent(zone)
    if action == "parental-agents":
        return dnssec.set_parental_agents(zone, str(options.get("agents", "")))
    raise dnssec.DnssecError(f"Unknown action {action!r}.")


@require_POST
@access.zone_editor
def dnssec_action(request: HttpRequest, zone: Zone) -> HttpResponse:
    action = request.POST.get("action", "")
    if action in RISKY and not request.POST.get("understood"):
        messages.error(request, "Tick the box to say you have read the warning first.")
        return redirect("dnsadmin:zone-detail", pk=zone.pk)
    try:
        messages.success(request, act(zone, action, request.POST.dict(), request.user))
    except dnssec.DnssecError as error:
        messages.error(request, str(error))
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


@access.api_rule("zone")
@api.token_required
def dnssec_api(request: HttpRequest, origin: str) -> HttpResponse:
    """GET: the zone's DNSSEC status (keys, DS, DNSKEY; never a private key). POST
    {"action": "enable"|"disable"|"rollover-zsk"|"rollover-ksk"|"checkds"|"ds-seen"|
    "parental-agents", ...}: do it ("agents": "ADDR[:PORT] ..." for parental-agents)."""
    zone = api.get_zone(request, origin)
    if request.method == "POST":
        data = api.body(request)
        try:
            said = act(zone, str(data.get("action", "")), data, request.user)
        except dnssec.DnssecError as error:
            return JsonResponse({"errors": {"action": [str(error)]}}, status=400)
        return JsonResponse({"message": said, **dnssec.status(zone)})
    if request.method != "GET":
        return api.method_not_allowed("GET, POST")
    return JsonResponse(dnssec.status(zone))
