"""The dashboard's panel for the bot: published channels and the bot's connections."""

from __future__ import annotations

from django.http import HttpRequest

from appliance.dashboard import Panel
from botadmin.models import Channel
from botadmin.views.status import bot_status


def logs_panel(request: HttpRequest) -> Panel:
    status = bot_status()
    connected = sorted(name for name, state in status["networks"].items() if state["connected"])
    context = {
        "channels": Channel.objects.readable_by(request.user).order_by("network__name", "name")[
            :10
        ],
        "running": status["running"],
        "connected": connected,
    }
    return Panel("IRC logs", "botadmin/panel.html", context)
