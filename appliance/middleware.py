"""The Content-Security-Policy every page is sent with.

The pages load scripts, styles, images and fonts from this site only and run no inline
script (each one is a static file), so the policy needs neither nonces nor 'unsafe-inline'.
Live tails open WebSockets to this site ('self' covers ws: and wss: on the same host since
CSP Level 3). A view may set its own header; it is then left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@sync_and_async_middleware
def ContentSecurityPolicyMiddleware(get_response: Callable):  # noqa: N802 (a middleware class's name)
    """Add the policy to every response, under WSGI or ASGI without a thread hop."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            response = await get_response(request)
            response.headers.setdefault("Content-Security-Policy", POLICY)
            return response

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            response = get_response(request)
            response.headers.setdefault("Content-Security-Policy", POLICY)
            return response

    return middleware
