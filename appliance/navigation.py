"""The site's navigation: each app adds its pages here when they exist."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

PUBLIC, SIGNED_IN, STAFF = "public", "signed in", "staff"

# (label, url name, who sees it). An entry whose URL does not resolve is left
# out, so the menu only ever shows pages that are really there.
NAVIGATION: list[tuple[str, str, str]] = [
    ("Dashboard", "dashboard", SIGNED_IN),
    ("Zones", "dnsadmin:zone-list", SIGNED_IN),
    ("Cache", "dnsadmin:cache", SIGNED_IN),
    ("Queries", "dnsadmin:query-log", SIGNED_IN),
    ("API tokens", "dnsadmin:token-list", SIGNED_IN),
    ("TSIG keys", "dnsadmin:tsig-list", STAFF),
    ("Logs", "logs:index", PUBLIC),
    ("Bot", "botadmin:admin-home", STAFF),
    ("Admin", "admin:index", STAFF),
]


def may_see(user, audience: str) -> bool:
    if audience == PUBLIC:
        return True
    signed_in = user is not None and user.is_authenticated
    return signed_in and (audience == SIGNED_IN or user.is_staff)


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    items = []
    for label, url_name, audience in NAVIGATION:
        if not may_see(user, audience):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return {"navigation": items}
