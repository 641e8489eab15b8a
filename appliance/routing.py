"""WebSocket routes, and the origin check every WebSocket passes first.

Each app appends its consumers' URL patterns here. A browser sends any site's cookies
with a WebSocket, so a page elsewhere could open a signed-in reader's private tail: the
Origin must be this site (same scheme, host and port as the request) or one of
``CSRF_TRUSTED_ORIGINS``, the rule Django's CSRF check applies to a POST.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host
from django.urls import URLPattern

from botadmin.routing import websocket_urlpatterns as bot_websockets
from dnsadmin.routing import websocket_urlpatterns as dns_websockets

websocket_urlpatterns: list[URLPattern] = [*dns_websockets, *bot_websockets]


class SameOriginValidator:
    """Deny a WebSocket whose Origin is not this site's nor a trusted one."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def origin_allowed(scope: dict) -> bool:
    headers = {name.lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    origin, host = headers.get(b"origin", ""), headers.get(b"host", "")
    if not origin or not host or not host_allowed(host):
        return False
    own = f"{'https' if is_secure(scope, headers) else 'http'}://{host}"
    return origin.lower() == own.lower() or trusted(origin)


def host_allowed(host: str) -> bool:
    """Check the Host header as HttpRequest.get_host() does (ALLOWED_HOSTS, DEBUG's extras)."""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


def is_secure(scope: dict, headers: dict[bytes, str]) -> bool:
    """Tell whether the browser used TLS, trusting the proxy's header as Django does."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure = settings.SECURE_PROXY_SSL_HEADER
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        if header in headers:
            return headers[header].split(",")[0].strip() == secure
    return scope.get("scheme") in ("wss", "https")


def trusted(origin: str) -> bool:
    """Match CSRF_TRUSTED_ORIGINS: exactly, or "https://*.example.org" for subdomains."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    return any(
        is_same_domain(parsed.netloc, urlsplit(pattern).netloc.lstrip("*"))
        for pattern in settings.CSRF_TRUSTED_ORIGINS
        if "*" in pattern and urlsplit(pattern).scheme == parsed.scheme
    )
