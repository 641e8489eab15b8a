"""Who may view or edit which zone: the one place the DNS pages, the API and the cache and
query views ask.

Staff may do everything. Other signed-in users reach the zones a `ZonePermission` grants to
them or to one of their groups (a grant without a zone covers every zone); "edit" includes
"view". An API token narrows its user's rights further: a read token never writes, and a
token limited to listed zones reaches only those. Creating and deleting zones, TSIG keys and
the cache's flush stay with staff (`staff_only`).

A zone a user may not view is answered as if it did not exist (404); one they may view but
not edit answers 403 to a change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from dnsadmin.models import ApiToken, Zone, ZoneChange, ZonePermission

VIEW, EDIT = ZonePermission.VIEW, ZonePermission.EDIT

View = Callable[..., HttpResponse]


def grants(user, level: str) -> QuerySet[ZonePermission]:
    """The grants that give ``user`` at least ``level``."""
    held = ZonePermission.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))
    return held.filter(level=EDIT) if level == EDIT else held


def narrow(zones: QuerySet[Zone], user, level: str, token: ApiToken | None = None):
    """Keep the zones ``user`` (through ``token``, when given) may reach at ``level``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return zones.none()
    if token is not None:
        if level == EDIT and token.scope != "write":
            return zones.none()
        if not token.all_zones:
            zones = zones.filter(pk__in=token.zones.values("pk"))
    if user.is_staff:
        return zones
    held = grants(user, level)
    if held.filter(zone=None).exists():
        return zones
    return zones.filter(pk__in=held.values("zone"))


def can_view(user, zone: Zone, token: ApiToken | None = None) -> bool:
    return narrow(Zone.objects.filter(pk=zone.pk), user, VIEW, token).exists()


def can_edit(user, zone: Zone, token: ApiToken | None = None) -> bool:
    return narrow(Zone.objects.filter(pk=zone.pk), user, EDIT, token).exists()


def is_staff(user, token: ApiToken | None = None, write: bool = False) -> bool:
    """Staff work: creating or deleting zones, TSIG keys, flushing the cache, every log."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return not (token and ((write and token.scope != "write") or not token.all_zones))


def token_of(request: HttpRequest) -> ApiToken | None:
    return getattr(request, "api_token", None)


def zone_for(request: HttpRequest, level: str, **lookup) -> Zone:
    """The zone the request names, or 404 when its user may not view it, 403 when they may
    view it but ``level`` is edit and they may not edit it."""
    zone = get_object_or_404(Zone, **lookup)
    token = token_of(request)
    if not can_view(request.user, zone, token):
        raise Http404("No such zone.")
    if level == EDIT and not can_edit(request.user, zone, token):
        raise PermissionDenied("You may view this zone but not change it.")
    return zone


def change_for(request: HttpRequest, level: str, pk: int) -> ZoneChange:
    """A history entry, under the same rule as its zone; a deleted zone's is staff's only."""
    change = get_object_or_404(ZoneChange.objects.select_related("zone", "reverts"), pk=pk)
    if change.zone is None:
        if not is_staff(request.user, token_of(request)):
            raise Http404("No such change.")
        return change  # reverting it is refused by the change service, with its reason
    zone_for(request, level, pk=change.zone_id)
    return change


def names_in(zones: QuerySet[Zone], field: str = "name") -> Q | None:
    """A filter on absolute names (``field``) that keeps the names in ``zones`` (their origin
    and everything under it); None when nothing is to be kept."""
    origins = list(zones.values_list("origin", flat=True))
    if not origins:
        return None
    keep = Q()
    for origin in origins:
        if origin == ".":
            return Q()
        keep |= Q(**{field: origin}) | Q(**{f"{field}__endswith": "." + origin})
    return keep


def visible_names(entries: QuerySet, user, field: str = "name") -> QuerySet:
    """Cache entries or query-log rows: all of them for staff, else only names in the zones
    ``user`` may view."""
    if is_staff(user):
        return entries
    keep = names_in(Zone.objects.viewable_by(user), field)
    return entries.none() if keep is None else entries.filter(keep)


def zone_grants(zone: Zone) -> QuerySet[ZonePermission]:
    """The grants on ``zone`` alone (grants on every zone are kept in the admin)."""
    return zone.permissions.select_related("user", "group").order_by("level", "pk")


def grant(zone: Zone, who, level: str) -> ZonePermission:
    """Grant ``who`` (a user or a group) ``level`` on ``zone``, replacing what they had on it."""
    field = "group" if isinstance(who, Group) else "user"
    found, _ = ZonePermission.objects.update_or_create(
        zone=zone, **{field: who}, defaults={"level": level}
    )
    return found


def revoke(zone: Zone, pk: int) -> ZonePermission:
    found = get_object_or_404(ZonePermission, zone=zone, pk=pk)
    found.delete()
    return found


# Decorators: every DNS page and API view wears exactly one, and a test checks it.


def _mark(view: View, rule: str) -> View:
    view.access_rule = rule  # type: ignore[attr-defined]
    return view


def signed_in(view: View) -> View:
    """A signed-in user (or a token); what they see is narrowed inside the view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return _mark(wrapper, "signed-in")


def zone_viewer(view: View) -> View:
    """A page about the zone ``pk``: the view gets the zone, checked for viewing."""
    return _zone_view(view, VIEW)


def zone_editor(view: View) -> View:
    """A page that changes the zone ``pk``: the view gets the zone, checked for editing."""
    return _zone_view(view, EDIT)


def _zone_view(view: View, level: str) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, pk: int, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, zone_for(request, level, pk=pk), *args, **kwargs)

    return _mark(wrapper, f"zone-{level}")


def staff_only(view: View) -> View:
    """Staff's pages: strangers sign in first, other users get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_staff(request.user):
            raise PermissionDenied("Only staff can do this.")
        return view(request, *args, **kwargs)

    return _mark(wrapper, "staff")


def api_rule(rule: str) -> Callable[[View], View]:
    """Mark an API view (authenticated by `api.token_required`) with the rule it applies
    through this module's functions."""
    return lambda view: _mark(view, f"api-{rule}")
