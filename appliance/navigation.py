"""The site's navigation: each app adds its pages here when they exist."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, url name, staff only). An entry whose URL does not resolve is left
# out, so the menu only ever shows pages that are really there.
NAVIGATION: list[tuple[str, str, bool]] = [
    ("Dashboard", "dashboard", False),
    ("Zones", "dnsadmin:zone-list", False),
    ("Cache", "dnsadmin:cache", False),
    ("Queries", "dnsadmin:query-log", False),
    ("API tokens", "dnsadmin:token-list", True),
    ("Logs", "logs:index", False),
    ("Bot", "botadmin:admin-home", True),
    ("Admin", "admin:index", True),
]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    items = []
    for label, url_name, staff_only in NAVIGATION:
        if staff_only and not user.is_staff:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return {"navigation": items}
