from django.urls import URLPattern, path

from botadmin.consumers import LogTailConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/logs/<int:channel_id>/", LogTailConsumer.as_asgi()),
]
