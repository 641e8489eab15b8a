"""Searching the logs a reader may read, across a network or one channel."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from botadmin import search as fulltext
from botadmin.forms import SearchForm
from botadmin.models import Channel
from botadmin.views.days import day_start
from botadmin.views.lines import present
from botadmin.views.logs import readable_channel

RESULTS_PER_PAGE = 50


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    context: dict = {"form": form}
    if form.is_valid() and fulltext.parse(form.cleaned_data["q"]):
        context.update(results(request, form.cleaned_data))
    return render(request, "botadmin/logs/search.html", context)


def results(request: HttpRequest, data: dict) -> dict:
    page = max(1, data.get("page") or 1)
    where = scope(request, data)
    query = fulltext.parse(data["q"])
    found = fulltext.search(
        query, where, limit=RESULTS_PER_PAGE, offset=(page - 1) * RESULTS_PER_PAGE
    )
    hits = [(row.channel, present(row)) for row in found.lines]
    marked = [fulltext.highlight(line.text, query) for _, line in hits]
    return {
        "hits": hits,
        "results": [
            (channel, line, text) for (channel, line), text in zip(hits, marked, strict=True)
        ],
        "count": found.count,
        "page": page,
        "has_more": found.has_more,
        "searched": True,
    }


def scope(request: HttpRequest, data: dict) -> fulltext.Scope:
    """Choose the channels searched: one (404 if the reader may not read it), those of one name
    on every network, or all readable."""
    if data["network"] and data["channel"]:
        ids = [readable_channel(request.user, data["network"], data["channel"]).pk]
    else:
        channels = Channel.objects.readable_by(request.user)
        if data["network"]:
            channels = channels.filter(network__name=data["network"])
        if data["channel"]:  # on every network: a channel nobody may read matches nothing
            channels = channels.filter(name__iexact=data["channel"])
        ids = list(channels.values_list("pk", flat=True))
    since, until = data["since"], data["until"]
    return fulltext.Scope(
        ids,
        since=day_start(since) if since else None,
        until=day_start(until) + timedelta(days=1) if until else None,
    )
