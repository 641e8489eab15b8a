"""search: the top web results for some terms, through a configured search service."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from botadmin.infobot import Incoming, Plugin, Setting, command
from botadmin.infobot.http import HttpClient, ReplyLimiter, ServiceUnavailable, polite

log = logging.getLogger(__name__)
MAX_RESULTS = 3
MAX_TITLE = 120


@dataclass(frozen=True)
class Result:
    title: str
    url: str


class SearchProvider(Protocol):
    async def search(self, terms: str) -> list[Result]: ...


class SearXNG:
    """A SearXNG instance's JSON API (the instance must enable the json format)."""

    def __init__(self, client: HttpClient, url: str) -> None:
        self.client = client
        self.url = url.rstrip("/")

    async def search(self, terms: str) -> list[Result]:
        url = f"{self.url}/search"
        answer = await self.client.get_json(url, {"q": terms, "format": "json"})
        if answer.status != 200:
            # SearXNG answers 403 when the json format is not enabled on the instance.
            raise ServiceUnavailable(f"{url}: HTTP {answer.status}")
        try:
            return [_result(item) for item in answer.data["results"]]
        except (KeyError, TypeError) as exc:
            raise ServiceUnavailable(f"{url}: unexpected answer ({exc!r})") from exc


def _result(item: dict[str, Any]) -> Result:
    title = " ".join(str(item.get("title") or item["url"]).split())
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1] + "…"
    return Result(title, str(item["url"]))


class Search(Plugin):
    """Searches the web."""

    settings = (
        Setting("url", str, "", "Base URL of a SearXNG instance with the json format enabled."),
        Setting("timeout", float, 5.0, "Seconds to wait for the search service."),
        Setting("reply_interval", float, 5.0, "At most one answer per channel this often."),
    )

    async def setup(self) -> None:
        config = self.config(None)
        self.client = HttpClient(float(config["timeout"]))
        self.limiter = ReplyLimiter(float(config["reply_interval"]))

    async def teardown(self) -> None:
        await self.client.aclose()

    @command("search")
    async def search(self, msg: Incoming, args: str) -> None:
        """search TERMS: the top three web results for TERMS."""
        terms = " ".join(args.split())
        lines = await self.lookup(msg, terms) if terms else ["Usage: search TERMS"]
        await self.limiter.reply(msg, self.name, "\n".join(lines), time.monotonic())

    async def lookup(self, msg: Incoming, terms: str) -> list[str]:
        url = self.config(msg.network, msg.channel)["url"]
        if not url:
            return ["search: no search service is configured here."]
        try:
            results = await SearXNG(self.client, url).search(terms)
        except ServiceUnavailable as exc:
            log.warning("search for %r failed: %s", terms, exc)
            return [polite("search", "search service")]
        if not results:
            return [f"search: nothing found for {terms}."]
        return [f"{r.title} - {r.url}" for r in results[:MAX_RESULTS]]
