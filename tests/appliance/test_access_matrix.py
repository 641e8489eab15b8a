"""Who may reach what: every URL of the site, for each role, and the status it answers.

Roles: anonymous, a user granted view on zone A, a user granted edit on zone A, staff. Zone B
is granted to nobody. Pages are reached signed in; API endpoints with a token of the role's
user (a write token for every zone), and without one as anonymous. A URL pattern without an
entry here fails `test_every_url_has_an_entry`, so a new page must state its rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.contrib.admin.sites import site as admin_site
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from botadmin.models import Channel, LogLine, Network, Plugin, RedactedNick
from dnsadmin import updates
from dnsadmin.changes import import_zone
from dnsadmin.models import ApiToken, CacheEntry, ZonePermission
from dnsadmin.zonefile import parse_zone_text
from tests.dnsadmin.conftest import ZONE

ROLES = ("anonymous", "viewer", "editor", "staff")


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # formatted with the world's ids
    expected: tuple[int, int, int, int]  # by role, in ROLES order
    api: bool = False
    body: dict | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def page(path, *expected, method="GET", body=None) -> Case:
    return Case(method, path, expected, body=body)


def api(path, *expected, method="GET", body=None) -> Case:
    return Case(method, path, expected, api=True, body=body)


# Shorthands, by role: anonymous, viewer of A, editor of A, staff.
SEEN = (302, 200, 200, 200)  # any signed-in user (what they see is narrowed)
VIEW_A = (302, 200, 200, 200)
VIEW_B = (302, 404, 404, 200)
EDIT_A_PAGE = (302, 403, 200, 200)
EDIT_B_PAGE = (302, 404, 404, 200)
EDIT_A_POST = (302, 403, 302, 302)
EDIT_B_POST = (302, 404, 404, 302)
STAFF_PAGE = (302, 403, 403, 200)
STAFF_POST = (302, 403, 403, 302)
PUBLIC = (200, 200, 200, 200)
API_VIEW_A = (401, 200, 200, 200)
API_VIEW_B = (401, 404, 404, 200)
API_STAFF = (401, 403, 403, 200)

GRANT = {"who": "viewer-a", "level": "view"}

MATRIX: dict[str, list[Case]] = {
    "dashboard": [page("/", *SEEN)],
    "healthz": [page("/healthz", *PUBLIC)],
    "metrics": [page("/metrics", 404, 404, 404, 404)],  # exists only when configured
    "login": [page("/accounts/login/", *PUBLIC)],
    "logout": [page("/accounts/logout/", 302, 302, 302, 302, method="POST")],
    "robots-txt": [page("/robots.txt", *PUBLIC)],
    "admin": [page("/admin/", 302, 302, 302, 200)],
    # DNS pages
    "dnsadmin:zone-list": [page("/dns/zones/", *SEEN)],
    "dnsadmin:zone-create": [
        page("/dns/zones/new/", *STAFF_PAGE),
        page("/dns/zones/new/", 302, 403, 403, 200, method="POST", body={}),
    ],
    "dnsadmin:zone-detail": [page("/dns/zones/{a}/", *VIEW_A), page("/dns/zones/{b}/", *VIEW_B)],
    "dnsadmin:secondary-create": [
        page("/dns/zones/new-secondary/", *STAFF_PAGE),
        page("/dns/zones/new-secondary/", 302, 403, 403, 200, method="POST", body={}),
    ],
    "dnsadmin:secondary-refresh": [
        page("/dns/zones/{a}/refresh/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/refresh/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:zone-settings": [
        page("/dns/zones/{a}/settings/", *EDIT_A_PAGE),
        page("/dns/zones/{b}/settings/", *EDIT_B_PAGE),
    ],
    "dnsadmin:zone-delete": [
        page("/dns/zones/{a}/delete/", 302, 403, 403, 200),
        page("/dns/zones/{a}/delete/", *STAFF_POST, method="POST"),
        page("/dns/zones/{b}/delete/", *STAFF_POST, method="POST"),
    ],
    "dnsadmin:zone-grant": [
        page("/dns/zones/{a}/permissions/", *STAFF_POST, method="POST", body=GRANT),
        page("/dns/zones/{b}/permissions/", *STAFF_POST, method="POST", body=GRANT),
    ],
    "dnsadmin:zone-revoke": [
        page("/dns/zones/{a}/permissions/{grant_a}/delete/", *STAFF_POST, method="POST"),
    ],
    "dnsadmin:pending-apply": [
        page("/dns/zones/{a}/pending/apply/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/pending/apply/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:pending-discard": [
        page("/dns/zones/{a}/pending/discard/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/pending/discard/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:pending-drop": [
        page("/dns/zones/{a}/pending/drop/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/pending/drop/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:records-delete": [
        page("/dns/zones/{a}/records/delete/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/records/delete/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:record-search": [page("/dns/search/?q=www", *SEEN)],
    "dnsadmin:record-add": [
        page("/dns/zones/{a}/records/add/", *EDIT_A_PAGE),
        page("/dns/zones/{b}/records/add/", *EDIT_B_PAGE),
    ],
    "dnsadmin:record-edit": [
        page("/dns/zones/{a}/records/{record_a}/edit/", *EDIT_A_PAGE),
        page("/dns/zones/{b}/records/{record_b}/edit/", *EDIT_B_PAGE),
    ],
    "dnsadmin:record-delete": [
        page("/dns/zones/{a}/records/{record_a}/delete/", *EDIT_A_PAGE),
        page("/dns/zones/{b}/records/{record_b}/delete/", *EDIT_B_PAGE),
        page("/dns/zones/{a}/records/{record_a}/delete/", *EDIT_A_POST, method="POST"),
    ],
    "dnsadmin:record-toggle": [
        page("/dns/zones/{a}/records/{record_a}/toggle/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/records/{record_b}/toggle/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:zone-import": [
        page("/dns/zones/{a}/import/", *EDIT_A_PAGE),
        page("/dns/zones/{b}/import/", *EDIT_B_PAGE),
    ],
    "dnsadmin:zone-import-progress": [
        page("/dns/zones/{a}/import/progress/", *EDIT_A_PAGE),
        page("/dns/zones/{b}/import/progress/", *EDIT_B_PAGE),
    ],
    "dnsadmin:zone-export": [
        page("/dns/zones/{a}/export/", *VIEW_A),
        page("/dns/zones/{b}/export/", *VIEW_B),
    ],
    "dnsadmin:zone-history": [
        page("/dns/zones/{a}/history/", *VIEW_A),
        page("/dns/zones/{b}/history/", *VIEW_B),
    ],
    "dnsadmin:change-detail": [
        page("/dns/changes/{change_a}/", *VIEW_A),
        page("/dns/changes/{change_b}/", *VIEW_B),
    ],
    "dnsadmin:change-revert": [
        page("/dns/changes/{change_a}/revert/", *EDIT_A_POST, method="POST"),
        page("/dns/changes/{change_b}/revert/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:query-log": [page("/dns/queries/", *SEEN)],
    "dnsadmin:cache": [page("/dns/cache/", *SEEN)],
    "dnsadmin:cache-delete": [
        page("/dns/cache/delete/", *STAFF_POST, method="POST", body={"name": "x.example."})
    ],
    "dnsadmin:cache-flush": [
        page("/dns/cache/flush/", *STAFF_PAGE),
        page("/dns/cache/flush/", *STAFF_POST, method="POST"),
    ],
    "dnsadmin:token-list": [page("/dns/tokens/", *SEEN)],
    "dnsadmin:token-delete": [  # one's own tokens only: the staff user's token here
        page("/dns/tokens/{staff_token}/delete/", 302, 404, 404, 302, method="POST")
    ],
    "dnsadmin:tsig-list": [page("/dns/tsig/", *STAFF_PAGE)],
    "dnsadmin:tsig-delete": [page("/dns/tsig/{tsig}/delete/", *STAFF_POST, method="POST")],
    "dnsadmin:update-rule-add": [
        page("/dns/zones/{a}/update-policy/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/update-policy/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:update-rule-delete": [
        page("/dns/zones/{a}/update-policy/{rule_a}/delete/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/update-policy/{rule_b}/delete/", *EDIT_B_POST, method="POST"),
    ],
    "dnsadmin:dnssec-action": [
        page("/dns/zones/{a}/dnssec/", *EDIT_A_POST, method="POST"),
        page("/dns/zones/{b}/dnssec/", *EDIT_B_POST, method="POST"),
    ],
    # DNS JSON API
    "dnsadmin:api-tsig": [
        api("/dns/api/tsig/", *API_STAFF),
        api("/dns/api/tsig/", 401, 403, 403, 201, method="POST", body={"name": "new"}),
    ],
    "dnsadmin:api-tsig-key": [
        api("/dns/api/tsig/k/", *API_STAFF),
        api("/dns/api/tsig/k/", 401, 403, 403, 204, method="DELETE"),
    ],
    "dnsadmin:api-update-policy": [
        api("/dns/api/zones/a.example/update-policy/", *API_VIEW_A),
        api("/dns/api/zones/b.example/update-policy/", *API_VIEW_B),
        api(
            "/dns/api/zones/a.example/update-policy/",
            *(401, 403, 201, 201),
            method="POST",
            body={"key": "k", "rule_type": "zonesub", "types": ["TXT"]},
        ),
        api(
            "/dns/api/zones/b.example/update-policy/",
            *(401, 404, 404, 201),
            method="POST",
            body={"key": "k", "rule_type": "zonesub", "types": ["TXT"]},
        ),
    ],
    "dnsadmin:api-zones": [
        api("/dns/api/zones/", *API_VIEW_A),
        api("/dns/api/zones/", 401, 403, 403, 400, method="POST", body={}),
    ],
    "dnsadmin:api-zone": [
        api("/dns/api/zones/a.example./", *API_VIEW_A),
        api("/dns/api/zones/b.example./", *API_VIEW_B),
        api("/dns/api/zones/a.example./", 401, 403, 200, 200, method="PATCH", body={}),
        api("/dns/api/zones/a.example./", 401, 403, 403, 204, method="DELETE"),
    ],
    "dnsadmin:api-records": [
        api("/dns/api/zones/a.example/records/", *API_VIEW_A),
        api("/dns/api/zones/b.example/records/", *API_VIEW_B),
        api("/dns/api/zones/a.example/records/", 401, 403, 400, 400, method="POST", body={}),
        api("/dns/api/zones/b.example/records/", 401, 404, 404, 400, method="POST", body={}),
    ],
    "dnsadmin:api-record": [
        api("/dns/api/zones/a.example/records/{record_a}/", *API_VIEW_A),
        api("/dns/api/zones/b.example/records/{record_b}/", *API_VIEW_B),
        api("/dns/api/zones/a.example/records/{record_a}/", 401, 403, 200, 200, method="DELETE"),
    ],
    "dnsadmin:api-import": [
        api("/dns/api/zones/a.example/import/", 401, 403, 400, 400, method="POST", body={}),
        api("/dns/api/zones/b.example/import/", 401, 404, 404, 400, method="POST", body={}),
    ],
    "dnsadmin:api-export": [
        api("/dns/api/zones/a.example/export/", *API_VIEW_A),
        api("/dns/api/zones/b.example/export/", *API_VIEW_B),
    ],
    "dnsadmin:api-dnssec": [
        api("/dns/api/zones/a.example/dnssec/", *API_VIEW_A),
        api("/dns/api/zones/b.example/dnssec/", *API_VIEW_B),
        api("/dns/api/zones/a.example/dnssec/", 401, 403, 400, 400, method="POST", body={}),
    ],
    # Bot administration: staff's
    "botadmin:admin-home": [page("/bot/", *STAFF_PAGE)],
    "botadmin:status": [page("/bot/status.json", *STAFF_PAGE)],
    "botadmin:network-add": [page("/bot/networks/add/", *STAFF_PAGE)],
    "botadmin:network-edit": [page("/bot/networks/{network}/", *STAFF_PAGE)],
    "botadmin:network-toggle": [
        page("/bot/networks/{network}/toggle/", *STAFF_POST, method="POST")
    ],
    "botadmin:channel-add": [page("/bot/networks/{network}/channels/add/", *STAFF_PAGE)],
    "botadmin:channel-edit": [page("/bot/channels/{channel}/", *STAFF_PAGE)],
    "botadmin:channel-toggle": [
        page("/bot/channels/{channel}/toggle/", *STAFF_POST, method="POST")
    ],
    "botadmin:channel-say": [
        page("/bot/channels/{channel}/say/", *STAFF_POST, method="POST", body={"text": "hi"})
    ],
    "botadmin:plugin-list": [page("/bot/plugins/", *STAFF_PAGE)],
    "botadmin:plugin-settings": [page("/bot/plugins/seen/", *STAFF_PAGE)],
    "botadmin:plugin-reset": [page("/bot/plugins/seen/reset/", *STAFF_POST, method="POST")],
    "botadmin:pypi-watches": [page("/bot/pypi/", *STAFF_PAGE)],
    "botadmin:pypi-unwatch": [page("/bot/pypi/unwatch/", *STAFF_POST, method="POST")],
    "botadmin:redactions": [page("/bot/redactions/", *STAFF_PAGE)],
    "botadmin:redaction-delete": [
        page("/bot/redactions/{redaction}/delete/", *STAFF_POST, method="POST")
    ],
    "botadmin:privacy": [page("/bot/privacy/", *STAFF_PAGE)],
    # Published logs: a public channel is public
    "logs:index": [page("/logs/", *PUBLIC)],
    "logs:search": [page("/logs/search/?q=hello", *PUBLIC)],
    "logs:seen": [page("/logs/seen/", *PUBLIC)],
    "logs:line": [page("/logs/line/{line}/", 302, 302, 302, 302)],  # to its day page
    "logs:channel": [page("/logs/libera/python/", *PUBLIC)],
    "logs:day": [page("/logs/libera/python/{day}/", *PUBLIC)],
    "logs:day-text": [page("/logs/libera/python/{day}.log", *PUBLIC)],
}


def url_names(patterns=None, namespace: str = "") -> set[str]:
    """Every named URL of the site; the admin counts as one ("admin")."""
    names: set[str] = set()
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == admin_site.name:
                names.add("admin")
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= url_names(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"an unnamed URL pattern: {entry.pattern}"
            names.add(namespace + entry.name)
    return names


def test_every_url_has_an_entry():
    names = url_names()
    assert names - MATRIX.keys() == set(), "add the new URLs to MATRIX with who may reach them"
    assert MATRIX.keys() - names == set(), "MATRIX names URLs that no longer exist"


@pytest.fixture
def world(django_user_model, monkeypatch) -> dict:
    monkeypatch.setattr("dnsadmin.cachesync.ring", lambda *args, **kwargs: None)
    zones = {}
    for label in ("a", "b"):
        text = ZONE.replace("example.org.", f"{label}.example.")
        zones[label] = import_zone(parse_zone_text(text))[0]
    users = {
        "viewer": django_user_model.objects.create_user("viewer-a"),
        "editor": django_user_model.objects.create_user("editor-a"),
        "staff": django_user_model.objects.create_user("staff", is_staff=True),
    }
    ZonePermission.objects.create(user=users["viewer"], zone=zones["a"], level="view")
    editor = ZonePermission.objects.create(user=users["editor"], zone=zones["a"], level="edit")
    key, _ = updates.add_key("k")
    network = Network.objects.create(name="libera", host="irc.example.org")
    Plugin.objects.get_or_create(name="seen")
    channel = Channel.objects.create(network=network, name="#python")
    now = timezone.now()
    line = LogLine.objects.create(
        channel=channel, time=now, nick="al", kind="message", text="hello"
    )
    CacheEntry.objects.create(name="www.a.example.", rdtype="A", expires=now, rdata="192.0.2.1")
    ids = {
        "a": zones["a"].pk,
        "b": zones["b"].pk,
        "record_a": zones["a"].records.get(owner="www").pk,
        "record_b": zones["b"].records.get(owner="www").pk,
        "change_a": zones["a"].changes.get().pk,
        "change_b": zones["b"].changes.get().pk,
        "rule_a": updates.add_rule(zones["a"], key, "zonesub", "", ["TXT"]).pk,
        "rule_b": updates.add_rule(zones["b"], key, "zonesub", "", ["TXT"]).pk,
        "tsig": key.pk,
        "grant_a": editor.pk,
        "staff_token": ApiToken.issue(users["staff"], "mine")[0].pk,
        "network": network.pk,
        "channel": channel.pk,
        "line": line.pk,
        "day": now.date().isoformat(),
        "redaction": RedactedNick.objects.create(network=network, nick="x", display_nick="x").pk,
    }
    keys = {role: ApiToken.issue(user, role)[1] for role, user in users.items()}
    return {"ids": ids, "users": users, "keys": keys}


CASES = [(name, case) for name, cases in MATRIX.items() for case in cases]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n} {c}" for n, c in CASES])
def test_each_role_gets_the_expected_status(client, world, role, name, case):
    path = case.path.format(**world["ids"])
    headers = {}
    if case.api and role != "anonymous":
        headers["HTTP_AUTHORIZATION"] = f"Token {world['keys'][role]}"
    elif not case.api and role != "anonymous":
        client.force_login(world["users"][role])
    if case.api:
        data = json.dumps(case.body) if case.body is not None else ""
        response = client.generic(case.method, path, data, "application/json", **headers)
    elif case.method == "POST":
        response = client.post(path, case.body or {})
    else:
        response = getattr(client, case.method.lower())(path)
    expected = dict(zip(ROLES, case.expected, strict=True))[role]
    assert response.status_code == expected, f"{role} {case.method} {path}"
