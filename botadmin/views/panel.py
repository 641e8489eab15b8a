"""The dashboard's panel for the bot: published channels and the bot's connections."""

from __future__ import annotations

import datetime

from django.db.models import Count, Q
from django.http import HttpRequest

from appliance.dashboard import Panel, top_range
from botadmin.models import Channel
from botadmin.views.status import bot_status


def logs_panel(request: HttpRequest) -> Panel:
    status = bot_status()
    connected = sorted(name for name, state in status["networks"].items() if state["connected"])
    readable = Channel.objects.readable_by(request.user)
    shown = top_range(request)
    context = {
        "channels": readable.order_by("network__name", "name")[:10],
        "top": shown,
        "busiest": busiest(readable, shown.since),
        "running": status["running"],
        "connected": connected,
    }
    return Panel("IRC logs", "botadmin/panel.html", context)


def busiest(readable, since: datetime.datetime, shown: int = 5) -> list[tuple[Channel, int, int]]:
    """The channels with the most lines since then, each with its share of the first
    (a bar's width in percent), among those the reader may read."""
    counted = readable.annotate(recent=Count("lines", filter=Q(lines__time__gte=since)))
    top = list(counted.filter(recent__gt=0).order_by("-recent")[:shown])
    most = top[0].recent if top else 1
    return [(channel, channel.recent, round(100 * channel.recent / most)) for channel in top]
