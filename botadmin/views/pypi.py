"""Staff page for the pypi plugin's watches: which channel hears of which project's releases.

The watches are the plugin's own stored value, changed with the plugin's read-modify-write
under optimistic versions, so a change made here and one the bot makes at the same moment
both survive. The bot reads that value on every poll and command: no reload is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from appliance.access import staff_required
from botadmin.bridge import DatabaseStorage
from botadmin.infobot import StaleVersion
from botadmin.infobot.http import HttpClient, ServiceUnavailable
from botadmin.infobot.protocol import fold
from botadmin.models import Channel, PluginSetting, StoredValue
from botadmin.plugins.pypi import (
    NAME_RULE,
    WATCHES,
    Project,
    Pypi,
    normalize,
    start_watching,
    stop_watching,
    valid_project,
)

log = logging.getLogger(__name__)
CONTENDED = "The watches kept changing while saving; try again."


class ProjectField(forms.CharField):
    """A project name as the plugin takes it: checked, then PEP 503-normalized."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=200, **kwargs)

    def clean(self, value: Any) -> str:
        project = super().clean(value)
        if not valid_project(project):
            raise ValidationError(f"That is not a project name: use {NAME_RULE}.")
        return normalize(project)


class WatchForm(forms.Form):
    channel = forms.ModelChoiceField(Channel.objects.select_related("network"))
    project = ProjectField(help_text="As on the index, e.g. django or requests.")


class UnwatchForm(forms.Form):
    endpoint = forms.CharField(max_length=300)
    project = ProjectField()


@dataclass(frozen=True)
class Watching:
    """One endpoint's watches; channel is None once the channel is gone from the settings."""

    endpoint: str
    channel: Channel | None
    projects: list[str]

    @property
    def where(self) -> str:
        return str(self.channel) if self.channel else where(self.endpoint)


def where(endpoint: str) -> str:
    network, _, channel = endpoint.partition("/")
    return f"{channel} on {network}"


def stored_watches() -> dict[str, list[str]]:
    """Return {project: [endpoint, ...]} as the plugin stored it."""
    row = StoredValue.objects.filter(plugin=Pypi.name, key=WATCHES).first()
    return row.value if row and isinstance(row.value, dict) else {}


def endpoint_of(channel: Channel, known: Iterable[str]) -> str:
    """Spell the channel's "network/#channel" as the bot stored it, if it did.

    IRC channel names ignore case, and one channel under two spellings would hear every
    announcement twice.
    """
    endpoint = f"{channel.network.name}/{channel.name}"
    return next((e for e in known if fold(e) == fold(endpoint)), endpoint)


def watching() -> list[Watching]:
    """List every configured channel with its watches, then endpoints no channel matches."""
    by_endpoint: dict[str, list[str]] = {}
    for project, endpoints in sorted(stored_watches().items()):
        for endpoint in endpoints:
            by_endpoint.setdefault(endpoint, []).append(project)
    rows = []
    for channel in Channel.objects.select_related("network"):
        endpoint = endpoint_of(channel, by_endpoint)
        rows.append(Watching(endpoint, channel, by_endpoint.pop(endpoint, [])))
    return rows + [Watching(e, None, p) for e, p in sorted(by_endpoint.items())]


def plugin_config() -> dict[str, Any]:
    """Return the settings the pypi plugin polls with (global: it reads no other)."""
    row = PluginSetting.objects.filter(plugin=Pypi.name, network=None, channel=None).first()
    return {s.name: s.default for s in Pypi.settings} | (row.config if row else {})


@async_to_sync
async def add_watch(project: str, endpoint: str, config: dict[str, Any]) -> Project | None:
    client = HttpClient(float(config["timeout"]))
    try:
        return await start_watching(
            DatabaseStorage(in_request=True),
            client,
            str(config["index_url"]),
            Pypi.name,
            project,
            endpoint,
        )
    finally:
        await client.aclose()


@async_to_sync
async def remove_watch(project: str, endpoint: str) -> bool:
    return await stop_watching(DatabaseStorage(in_request=True), Pypi.name, project, endpoint)


@staff_required
@require_http_methods(["GET", "POST"])
def watches(request: HttpRequest) -> HttpResponse:
    form = WatchForm(request.POST or None)
    config = plugin_config()
    if request.method == "POST" and form.is_valid() and _watch(request, form, config):
        return redirect("botadmin:pypi-watches")
    context = {"form": form, "rows": watching(), "interval": float(config["interval"])}
    return render(request, "botadmin/pypi_watches.html", context)


def _watch(request: HttpRequest, form: WatchForm, config: dict[str, Any]) -> bool:
    """Watch the form's project from its channel, as !pypi watch does; errors go on form."""
    channel, project = form.cleaned_data["channel"], form.cleaned_data["project"]
    try:
        found = add_watch(project, endpoint_of(channel, _endpoints()), config)
    except ServiceUnavailable as exc:
        log.warning("pypi page: watching %s failed: %s", project, exc)
        form.add_error(None, "The package index is not answering right now; try again later.")
        return False
    except StaleVersion:
        form.add_error(None, CONTENDED)
        return False
    if found is None:
        form.add_error("project", f"There is no project called {project} on the index.")
        return False
    messages.success(request, f"{channel} now watches {project} (latest is {found.latest}).")
    return True


def _endpoints() -> set[str]:
    return {e for endpoints in stored_watches().values() for e in endpoints}


@staff_required
@require_POST
def unwatch(request: HttpRequest) -> HttpResponse:
    form = UnwatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That watch cannot be removed: the request was not complete.")
        return redirect("botadmin:pypi-watches")
    endpoint, project = form.cleaned_data["endpoint"], form.cleaned_data["project"]
    try:
        removed = remove_watch(project, endpoint)
    except StaleVersion:
        messages.error(request, CONTENDED)
        return redirect("botadmin:pypi-watches")
    if removed:
        messages.success(request, f"{where(endpoint)} no longer watches {project}.")
    else:
        messages.info(request, f"{where(endpoint)} was not watching {project}.")
    return redirect("botadmin:pypi-watches")
