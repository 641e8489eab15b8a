"""pypi: channels watch projects on the package index and hear about each new release.

State lives in the Storage component (the admin shows it as stored values): ``watches``
maps each project to the "network/#channel" endpoints watching it, ``project:<name>``
keeps the last announced version and the validators for conditional requests. The
version is stored before it is announced, so a restart never announces a release twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from botadmin.infobot import Incoming, Plugin, Setting, StaleVersion, Storage, command
from botadmin.infobot.http import HttpClient, JsonResponse, ServiceUnavailable, polite

log = logging.getLogger(__name__)
WATCHES = "watches"


def normalize(project: str) -> str:
    """PEP 503 name normalization: Django, django and DJANGO are one project."""
    return re.sub(r"[-_.]+", "-", project).lower()


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


class Pypi(Plugin):
    """Announces new releases of watched projects on the Python Package Index."""

    settings = (
        Setting("index_url", str, "https://pypi.org", "The package index (a mirror works too)."),
        Setting("interval", float, 300.0, "Seconds between two polls of the index."),
        Setting("timeout", float, 5.0, "Seconds to wait for the index."),
    )

    async def setup(self) -> None:
        config = self.config(None)
        self.storage = self.context.component(Storage)
        self.client = HttpClient(float(config["timeout"]))
        self.context.scheduler.every(float(config["interval"]), self.poll)

    async def teardown(self) -> None:
        await self.client.aclose()

    @property
    def index_url(self) -> str:
        return str(self.config(None)["index_url"]).rstrip("/")

    # -- commands ---------------------------------------------------------------------

    @command("pypi")
    async def pypi(self, msg: Incoming, args: str) -> None:
        """pypi watch|unwatch PROJECT, pypi list: release announcements for this channel."""
        action, _, project = args.strip().partition(" ")
        project = project.strip()
        if msg.channel is None:
            await msg.reply("pypi: watches are per channel; ask in one.")
        elif action == "watch" and project:
            await msg.reply(await self.watch(msg, normalize(project)))
        elif action == "unwatch" and project:
            await msg.reply(await self.unwatch(msg, normalize(project)))
        elif action == "list" and not project:
            await msg.reply(await self.listing(msg))
        else:
            await msg.reply("Usage: pypi watch PROJECT | pypi unwatch PROJECT | pypi list")

    async def watch(self, msg: Incoming, project: str) -> str:
        try:
            answer = await self.fetch(project, {})
        except ServiceUnavailable as exc:
            log.warning("pypi: watching %s failed: %s", project, exc)
            return polite("pypi", "package index")
        if answer.status == 404 or answer.data is None:
            return f"pypi: there is no project called {project} on the index."
        try:
            version = str(answer.data["info"]["version"])
        except (KeyError, TypeError):
            log.warning("pypi: %s: the index answered without info.version", project)
            return polite("pypi", "package index")
        # The current release is the baseline: only later ones are news.
        await self.remember(project, version, answer)
        await update(self.storage, self.name, WATCHES, lambda w: _added(w, project, _where(msg)))
        return f"pypi: watching {project} here (latest is {version})."

    async def unwatch(self, msg: Incoming, project: str) -> str:
        stored = await self.storage.get(self.name, WATCHES)
        if _where(msg) not in (stored.value if stored else {}).get(project, []):
            return f"pypi: {project} is not watched here."
        await update(self.storage, self.name, WATCHES, lambda w: _removed(w, project, _where(msg)))
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
        state_stored = await self.storage.get(self.name, f"project:{project}")
        state = state_stored.value if state_stored else {}
        try:
            answer = await self.fetch(project, state)
        except ServiceUnavailable as exc:
            log.warning("pypi: polling %s failed: %s", project, exc)
            return
        if answer.status != 200 or answer.data is None:
            return  # 304: nothing new; 404: gone from the index, keep quiet
        info = answer.data.get("info") if isinstance(answer.data, dict) else None
        version = str(info.get("version") or "") if isinstance(info, dict) else ""
        if not version or version == state.get("version"):
            return
        try:
            await self.remember(
                project, version, answer, state_stored.version if state_stored else 0
            )
        except StaleVersion:
            return  # another worker stored (and announces) it
        url = info.get("release_url") or f"{self.index_url}/project/{project}/{version}/"
        await self.announce(endpoints, f"{project} {version} released: {url}")

    async def fetch(self, project: str, state: dict[str, Any]) -> JsonResponse:
        headers = {}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        return await self.client.get_json(f"{self.index_url}/pypi/{project}/json", headers=headers)

    async def remember(
        self, project: str, version: str, answer: JsonResponse, expected: int | None = None
    ) -> None:
        state = {
            "version": version,
            "etag": answer.headers.get("etag"),
            "last_modified": answer.headers.get("last-modified"),
        }
        key = f"project:{project}"
        if expected is None:
            await update(self.storage, self.name, key, lambda _: state)
        else:
            await self.storage.put(self.name, key, state, expected)

    async def announce(self, endpoints: list[str], text: str) -> None:
        for endpoint in endpoints:
            network, _, channel = endpoint.partition("/")
            try:
                await self.context.say(network, channel, text)
            except Exception:
                log.exception("pypi: could not announce to %s", endpoint)


def _where(msg: Incoming) -> str:
    return f"{msg.network}/{msg.channel}"


def _added(watches: dict | None, project: str, endpoint: str) -> dict:
    watches = dict(watches or {})
    watches[project] = sorted(set(watches.get(project, [])) | {endpoint})
    return watches


def _removed(watches: dict | None, project: str, endpoint: str) -> dict:
    watches = dict(watches or {})
    left = [e for e in watches.get(project, []) if e != endpoint]
    if left:
        watches[project] = left
    else:
        watches.pop(project, None)
    return watches
