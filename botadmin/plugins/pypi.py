"""pypi: channels watch projects on the package index and hear about each new release.

State lives in the Storage component (the admin shows it as stored values; the bot pages
change watches through start_watching and stop_watching, as the command does). ``watches``
maps each project to the "network/#channel" endpoints watching it; ``project:<name>``
keeps ``newest``, the upload time of the newest release already dealt with, the
validators for conditional requests, and ``baselines`` for endpoints that started
watching when the index was ahead of ``newest`` (so they do not hear of what was already
out, and nobody else misses it). Releases are ordered by upload time (``packaging`` is not
a requirement, and upload order is what "new" means for an announcement). The state is
stored before the announcement, so a restart never announces a release twice.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botadmin.infobot import Incoming, Setting, StaleVersion, Storage, command
from botadmin.infobot.http import (
    HttpClient,
    HttpPlugin,
    JsonResponse,
    ServiceUnavailable,
    body_of,
    http_settings,
    parsed,
    polite,
)

log = logging.getLogger(__name__)
WATCHES = "watches"
MAX_ANNOUNCED = 5  # per project and poll: after a long outage, a summary beats a flood


# PEP 508 project names; anything else never reaches a URL or the stored watches.
NAME = re.compile(r"[A-Z0-9]([A-Z0-9._-]*[A-Z0-9])?", re.IGNORECASE)
NAME_RULE = "letters, digits, '.', '_' and '-', starting and ending with a letter or digit"


def normalize(project: str) -> str:
    """PEP 503 name normalization: Django, django and DJANGO are one project."""
    return re.sub(r"[-_.]+", "-", project).lower()


def valid_project(project: str) -> bool:
    return NAME.fullmatch(project) is not None


def json_url(index_url: str, project: str) -> str:
    return f"{index_url.rstrip('/')}/pypi/{project}/json"


async def update(
    storage: Storage, plugin: str, key: str, change: Callable[[Any], Any], attempts: int = 5
) -> Any:
    """Read-modify-write under the storage's optimistic versioning; returns the new value."""
    for _ in range(attempts):
        stored = await storage.get(plugin, key)
        value = change(stored.value if stored else None)
        try:
            await storage.put(plugin, key, value, stored.version if stored else 0)
            return value
        except StaleVersion:
            continue
    raise StaleVersion(f"{plugin}/{key}: still contended after {attempts} attempts")


@dataclass(frozen=True)
class Release:
    version: str
    uploaded: str  # ISO 8601 UTC, microseconds always present, so strings sort by time


@dataclass(frozen=True)
class Project:
    """What one answer of the JSON API says about a project."""

    latest: str  # the index's idea of the current version (info.version)
    releases: list[Release]  # non-yanked ones with files, oldest first

    @property
    def newest(self) -> str:
        return self.releases[-1].uploaded if self.releases else ""


def read_project(url: str, data: Any) -> Project:
    """Read the JSON API's answer as a Project; ServiceUnavailable when it is not one."""
    return parsed(url, lambda: _project(data))


def _project(data: dict[str, Any]) -> Project:
    latest = str(data["info"]["version"])
    files = {str(version): list(found) for version, found in data["releases"].items()}
    # Trimmed answers (and some mirrors) list the current version's files only under "urls".
    if not files.get(latest):
        files[latest] = list(data.get("urls") or [])
    releases = [
        Release(version, min(_uploaded(f) for f in found))
        for version, found in files.items()
        if found and not all(f.get("yanked") for f in found)
    ]
    return Project(latest, sorted(releases, key=lambda r: r.uploaded))


def _uploaded(file: dict[str, Any]) -> str:
    stamp = datetime.fromisoformat(file.get("upload_time_iso_8601") or file["upload_time"])
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).isoformat(timespec="microseconds")


async def start_watching(
    storage: Storage, client: HttpClient, index_url: str, plugin: str, project: str, endpoint: str
) -> Project | None:
    """Look project up on the index and watch it from endpoint ("network/#channel").

    None when the index has no such project; ServiceUnavailable when it cannot say. The
    bot's command and the admin page both come here, so both set the same baseline.
    """
    url = json_url(index_url, project)
    answer = await client.get_json(url)
    if answer.status == 404:
        return None
    found = read_project(url, body_of(url, answer))
    # What is out now is this endpoint's baseline: only later releases are news there.
    await update(
        storage,
        plugin,
        f"project:{project}",
        lambda state: _baseline(state, endpoint, found.newest, answer),
    )
    await update(storage, plugin, WATCHES, lambda w: added(w, project, endpoint))
    return found


async def stop_watching(storage: Storage, plugin: str, project: str, endpoint: str) -> bool:
    """Forget endpoint's watch of project; False when there was none."""
    stored = await storage.get(plugin, WATCHES)
    if endpoint not in (stored.value if stored else {}).get(project, []):
        return False
    await update(storage, plugin, WATCHES, lambda w: removed(w, project, endpoint))
    return True


class Pypi(HttpPlugin):
    """Announces new releases of watched projects on the Python Package Index."""

    settings = (
        Setting("index_url", str, "https://pypi.org", "The package index (a mirror works too)."),
        Setting("interval", float, 300.0, "Seconds between two polls of the index.", 10, 86400),
        *http_settings("the index"),
    )

    async def setup(self) -> None:
        await super().setup()
        self.storage = self.context.component(Storage)
        self.context.scheduler.every(float(self.config(None)["interval"]), self.poll)

    @property
    def index_url(self) -> str:
        return str(self.config(None)["index_url"]).rstrip("/")

    # -- commands ---------------------------------------------------------------------

    @command("pypi")
    async def pypi(self, msg: Incoming, args: str) -> None:
        """pypi watch|unwatch PROJECT, pypi list: release announcements for this channel."""
        await self.limiter.reply(msg, self.name, await self.answer(msg, args), time.monotonic())

    async def answer(self, msg: Incoming, args: str) -> str:
        action, _, project = args.strip().partition(" ")
        project = project.strip()
        if msg.channel is None:
            return "pypi: watches are per channel; ask in one."
        if action in ("watch", "unwatch") and project and not valid_project(project):
            return f"pypi: that is not a project name ({NAME_RULE})."
        if action == "watch" and project:
            return await self.watch(msg, normalize(project))
        if action == "unwatch" and project:
            return await self.unwatch(msg, normalize(project))
        if action == "list" and not project:
            return await self.listing(msg)
        return "Usage: pypi watch PROJECT | pypi unwatch PROJECT | pypi list"

    async def watch(self, msg: Incoming, project: str) -> str:
        try:
            found = await start_watching(
                self.storage, self.client, self.index_url, self.name, project, _where(msg)
            )
        except ServiceUnavailable as exc:
            log.warning("pypi: watching %s failed: %s", project, exc)
            return polite("pypi", "package index")
        if found is None:
            return f"pypi: there is no project called {project} on the index."
        return f"pypi: watching {project} here (latest is {found.latest})."

    async def unwatch(self, msg: Incoming, project: str) -> str:
        if not await stop_watching(self.storage, self.name, project, _where(msg)):
            return f"pypi: {project} is not watched here."
        return f"pypi: no longer watching {project} here."

    async def listing(self, msg: Incoming) -> str:
        stored = await self.storage.get(self.name, WATCHES)
        mine = sorted(
            p for p, where in (stored.value if stored else {}).items() if _where(msg) in where
        )
        return f"pypi: watching {', '.join(mine)} here." if mine else "pypi: watching nothing here."

    # -- polling ----------------------------------------------------------------------

    async def poll(self) -> None:
        stored = await self.storage.get(self.name, WATCHES)
        for project, endpoints in sorted((stored.value if stored else {}).items()):
            if endpoints:
                await self.check(project, endpoints)

    async def check(self, project: str, endpoints: list[str]) -> None:
        stored = await self.storage.get(self.name, f"project:{project}")
        state = stored.value if stored else {}
        url = self.project_url(project)
        try:
            answer = await self.client.get_json(url, headers=_conditions(state))
            if answer.status in (304, 404):
                return  # nothing new; or gone from the index, where silence is right
            found = read_project(url, body_of(url, answer))
        except ServiceUnavailable as exc:
            log.warning("pypi: polling %s failed: %s", project, exc)
            return
        news = {e: _news(state, e, found) for e in endpoints}
        try:
            await self.storage.put(
                self.name,
                f"project:{project}",
                _advanced(state, found, answer, endpoints),
                stored.version if stored else 0,
            )
        except StaleVersion:
            return  # another worker stored (and announces) it, or a watch moved a baseline
        for endpoint, releases in news.items():
            await self.announce(endpoint, self.lines(project, releases))

    def project_url(self, project: str) -> str:
        return json_url(self.index_url, project)

    def lines(self, project: str, releases: list[Release]) -> list[str]:
        shown = releases[-MAX_ANNOUNCED:]
        lines = [
            f"{project} {r.version} released: {self.index_url}/project/{project}/{r.version}/"
            for r in shown
        ]
        if len(releases) > len(shown):
            lines.insert(0, f"{project}: {len(releases)} new releases; the latest:")
        return lines

    async def announce(self, endpoint: str, lines: list[str]) -> None:
        network, _, channel = endpoint.partition("/")
        for line in lines:
            try:
                await self.context.say(network, channel, line)
            except Exception:
                log.exception("pypi: could not announce to %s", endpoint)


def _conditions(state: dict[str, Any]) -> dict[str, str]:
    headers = {}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def _validators(answer: JsonResponse) -> dict[str, str | None]:
    return {
        "etag": answer.headers.get("etag"),
        "last_modified": answer.headers.get("last-modified"),
    }


def _baseline(state: dict | None, endpoint: str, newest: str, answer: JsonResponse) -> dict:
    """Return the project state once endpoint watches it, having seen releases up to newest."""
    if not state or "newest" not in state:
        # The first watcher: its answer is the baseline for polls, validators included.
        return {"newest": newest, **_validators(answer), "baselines": {}}
    # Others leave the shared state alone (it may be behind, with news for earlier watchers).
    baselines = {e: t for e, t in state.get("baselines", {}).items() if e != endpoint}
    if newest > state["newest"]:
        baselines[endpoint] = newest
    return {**state, "baselines": baselines}


def _news(state: dict[str, Any], endpoint: str, found: Project) -> list[Release]:
    """List the releases endpoint has not heard of (none on the first look at a project)."""
    if "newest" not in state:
        return []
    since = max(state["newest"], state.get("baselines", {}).get(endpoint, ""))
    return [r for r in found.releases if r.uploaded > since]


def _advanced(
    state: dict[str, Any], found: Project, answer: JsonResponse, endpoints: list[str]
) -> dict:
    newest = max(state.get("newest", ""), found.newest)
    baselines = {
        e: t for e, t in state.get("baselines", {}).items() if e in endpoints and t > newest
    }
    return {"newest": newest, **_validators(answer), "baselines": baselines}


def _where(msg: Incoming) -> str:
    return f"{msg.network}/{msg.channel}"


def added(watches: dict | None, project: str, endpoint: str) -> dict:
    watches = dict(watches or {})
    watches[project] = sorted(set(watches.get(project, [])) | {endpoint})
    return watches


def removed(watches: dict | None, project: str, endpoint: str) -> dict:
    watches = dict(watches or {})
    left = [e for e in watches.get(project, []) if e != endpoint]
    if left:
        watches[project] = left
    else:
        watches.pop(project, None)
    return watches
