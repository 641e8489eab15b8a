"""WebSocket routes: each app appends its consumers' URL patterns here."""

from __future__ import annotations

from django.urls import URLPattern

from botadmin.routing import websocket_urlpatterns as bot_websockets
from dnsadmin.routing import websocket_urlpatterns as dns_websockets

websocket_urlpatterns: list[URLPattern] = [*dns_websockets, *bot_websockets]
