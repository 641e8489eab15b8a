"""Dashboard panels contributed by the apps.

An app registers a function that returns a panel (a title, a template and its
context); the dashboard shows every registered panel, so it grows with the apps
instead of knowing about each of them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.utils import timezone


@dataclass
class Panel:
    title: str
    template: str
    context: dict = field(default_factory=dict)


PanelProvider = Callable[[HttpRequest], Panel | None]
_providers: list[PanelProvider] = []


def register_panel(provider: PanelProvider) -> PanelProvider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def dashboard_panels(request: HttpRequest) -> list[Panel]:
    panels = (provider(request) for provider in _providers)
    return [panel for panel in panels if panel is not None]


# The spans the panels' top lists (names, clients, channels) cover, chosen with ?top=.
TOP_RANGES = {
    "hour": datetime.timedelta(hours=1),
    "day": datetime.timedelta(days=1),
    "week": datetime.timedelta(days=7),
}


@dataclass(frozen=True)
class TopRange:
    name: str  # hour, day or week
    since: datetime.datetime

    @property
    def since_param(self) -> str:
        return time_param(self.since)


def time_param(moment: datetime.datetime) -> str:
    """Return moment as the query log's since and until fields read it (in the time zone
    of the request, as those fields are)."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def top_range(request: HttpRequest) -> TopRange:
    """Return the span the dashboard's top lists cover: ?top=hour|day|week, a day otherwise."""
    name = request.GET.get("top", "")
    name = name if name in TOP_RANGES else "day"
    return TopRange(name, timezone.now() - TOP_RANGES[name])
