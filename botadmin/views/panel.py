"""The dashboard's panel for the bot: published channels and the bot's connections."""

from __future__ import annotations

import datetime

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone

from appliance.dashboard import Panel
from botadmin.models import Channel
from botadmin.views.status import bot_status


def logs_panel(request: HttpRequest) -> Panel:
    status = bot_status()
    connected = sorted(name for name, state in status["networks"].items() if state["connected"])
    readable = Channel.objects.readable_by(request.user)
    context = {
        "channels": readable.order_by("network__name", "name")[:10],
        "busiest": busiest(readable),
        "running": status["running"],
        "connected": connected,
    }
    return Panel("IRC logs", "botadmin/panel.html", context)


def busiest(readable, shown: int = 5) -> list[tuple[Channel, int, int]]:
    """The channels with the most lines in the last day, each with its share of the first
    (a bar's width in percent), among those the reader may read."""
    since = timezone.now() - datetime.timedelta(days=1)
    counted = readable.annotate(day_lines=Count("lines", filter=Q(lines__time__gte=since)))
    top = list(counted.filter(day_lines__gt=0).order_by("-day_lines")[:shown])
    most = top[0].day_lines if top else 1
    return [(channel, channel.day_lines, round(100 * channel.day_lines / most)) for channel in top]
