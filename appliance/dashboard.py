"""Dashboard panels contributed by the apps.

An app registers a function that returns a panel (a title, a template and its
context); the dashboard shows every registered panel, so it grows with the apps
instead of knowing about each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest


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
