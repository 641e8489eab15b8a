"""Searching the logs a reader may read, across a network or one channel."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from botadmin import search as fulltext
from botadmin.forms import SearchForm
from botadmin.models import RedactedNick
from botadmin.views.access import readable_channel, readable_channels
from botadmin.views.days import day_start
from botadmin.views.lines import present

RESULTS_PER_PAGE = 50


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    context: dict = {"form": form}
    if form.is_valid() and fulltext.parse(form.cleaned_data["q"]):
        context.update(results(request, form.cleaned_data))
    return render(request, "botadmin/logs/search.html", context)


def results(request: HttpRequest, data: dict) -> dict:
    page = max(1, data.get("page") or 1)
    where = scope(request, data)
    found = fulltext.search(
        fulltext.parse(data["q"]),
        where,
        limit=RESULTS_PER_PAGE,
        offset=(page - 1) * RESULTS_PER_PAGE,
    )
    hits = [(row.channel, present(row, where.redacted_on(row))) for row in found.lines]
    return {"hits": hits, "page": page, "has_more": found.has_more, "searched": True}


def scope(request: HttpRequest, data: dict) -> fulltext.Scope:
    """The channels searched: one (a 404 if the reader may not read it) or all readable ones."""
    if data["network"] and data["channel"]:
        ids = [readable_channel(request.user, data["network"], data["channel"]).pk]
    else:
        channels = readable_channels(request.user)
        if data["network"]:
            channels = channels.filter(network__name=data["network"])
        ids = list(channels.values_list("pk", flat=True))
    redacted: dict[int, set[str]] = {}
    for network_id, nick in RedactedNick.objects.values_list("network_id", "nick"):
        redacted.setdefault(network_id, set()).add(nick)
    since, until = data["since"], data["until"]
    return fulltext.Scope(
        ids,
        since=day_start(since) if since else None,
        until=day_start(until) + timedelta(days=1) if until else None,
        redacted=redacted,
    )
