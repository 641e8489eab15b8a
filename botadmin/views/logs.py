"""The published channel logs: index, a channel's day, permalinks, plain text, seen.

Public channels need no login (publishing them is the point); a private channel is a 404
for everyone but staff and the users or groups granted it, in every view.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from botadmin.forms import SeenForm
from botadmin.models import Channel, LogLine, Seen
from botadmin.policy import Reader
from botadmin.views.days import (
    PAGE_SIZE,
    day_lines,
    month_calendar,
    next_day,
    page_of,
    previous_day,
)
from botadmin.views.lines import plain, present


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    networks: dict[str, list] = {}
    for channel in Channel.objects.readable_by(request.user).order_by("network__name", "name"):
        networks.setdefault(channel.network.name, []).append(channel)
    return render(request, "botadmin/logs/index.html", {"networks": networks})


@require_safe
def channel(request: HttpRequest, network: str, channel: str) -> HttpResponse:
    """Today, live, with the month's calendar (``?month=YYYY-MM`` for another month)."""
    today = datetime.now(UTC).date()
    return day_page(request, network, channel, today, live=True)


@require_safe
def day(request: HttpRequest, network: str, channel: str, day: date) -> HttpResponse:
    return day_page(request, network, channel, day, live=day == datetime.now(UTC).date())


def readable_channel(user: Reader, network: str, name: str) -> Channel:
    """Return the channel, or 404 alike for a missing one and one the user may not read."""
    channels = Channel.objects.readable_by(user)
    return get_object_or_404(channels, network__name=network, name__iexact=name)


def day_page(request: HttpRequest, network: str, name: str, day: date, live: bool) -> HttpResponse:
    chan = readable_channel(request.user, network, name)
    paginator = Paginator(day_lines(chan, day), PAGE_SIZE)
    # Today opens on its last page, where new lines arrive; other days on their first.
    default = paginator.num_pages if live else 1
    page = paginator.get_page(request.GET.get("page") or default)
    rows = list(page.object_list)
    context = {
        "channel": chan,
        "day": day,
        "page": page,
        "lines": [present(row) for row in rows],
        "previous_day": previous_day(chan, day),
        "next_day": next_day(chan, day),
        "month": month_calendar(chan, month_of(request, day)),
        "live": live and not page.has_next(),
        "last_id": max((row.id for row in rows), default=0),
    }
    return render(request, "botadmin/logs/day.html", context)


def month_of(request: HttpRequest, day: date) -> date:
    try:
        return datetime.strptime(request.GET.get("month", ""), "%Y-%m").date()
    except ValueError:
        return day.replace(day=1)


@require_safe
def day_text(request: HttpRequest, network: str, channel: str, day: date) -> HttpResponse:
    """Serve the whole day as a plain-text .log file."""
    chan = readable_channel(request.user, network, channel)
    text = "".join(present(row).as_text() + "\n" for row in day_lines(chan, day))
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{day.isoformat()}.log"'
    return response


@require_safe
def permalink(request: HttpRequest, line_id: int) -> HttpResponse:
    """Redirect a line's stable address to its day's page, scrolled to the line."""
    lines = LogLine.objects.visible_to(request.user).select_related("channel__network")
    line = get_object_or_404(lines, pk=line_id)
    url = reverse(
        "logs:day",
        args=[line.channel.network.name, line.channel.name, line.time.astimezone(UTC).date()],
    )
    return redirect(f"{url}?page={page_of(line)}#l{line.id}")


@require_safe
def seen(request: HttpRequest) -> HttpResponse:
    """Tell when and where a nick last spoke, only ever in a public channel."""
    form = SeenForm(request.GET or None)
    context: dict = {"form": form}
    if form.is_valid():
        context["asked"] = True
        sighting = Seen.objects.public_sighting(
            form.cleaned_data["network"], form.cleaned_data["nick"]
        )
        context["sighting"] = sighting
        context["said"] = plain(said(sighting.seen)) if sighting else ""
    return render(request, "botadmin/logs/seen.html", context)


def said(seen: Seen) -> str:
    """Word what the nick said as the seen plugin does on IRC: an action with its nick."""
    return f"* {seen.display_nick} {seen.text}" if seen.kind == "action" else seen.text
