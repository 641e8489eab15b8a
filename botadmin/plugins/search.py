"""search: the top web results for some terms, through a configured search service."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botadmin.infobot import Incoming, Setting, command
from botadmin.infobot.http import (
    HttpClient,
    HttpPlugin,
    ServiceUnavailable,
    body_of,
    http_settings,
    parsed,
    polite,
)

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
        data = body_of(url, answer)
        return parsed(url, lambda: [_result(item) for item in data["results"]])


# The implementations the ``provider`` setting can name; each takes (client, base URL).
PROVIDERS: dict[str, Callable[[HttpClient, str], SearchProvider]] = {"searxng": SearXNG}


def _result(item: dict[str, Any]) -> Result:
    title = " ".join(str(item.get("title") or item["url"]).split())
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1] + "…"
    return Result(title, str(item["url"]))


class Search(HttpPlugin):
    """Searches the web."""

    settings = (
        Setting("provider", str, "searxng", f"The search service: one of {', '.join(PROVIDERS)}."),
        Setting("url", str, "", "Base URL of the service (SearXNG: with the json format enabled)."),
        *http_settings("the search service"),
    )

    @command("search")
    async def search(self, msg: Incoming, args: str) -> None:
        """search TERMS: the top three web results for TERMS."""
        terms = " ".join(args.split())
        lines = await self.lookup(msg, terms) if terms else ["Usage: search TERMS"]
        await self.limiter.reply(msg, self.name, "\n".join(lines), time.monotonic())

    async def lookup(self, msg: Incoming, terms: str) -> list[str]:
        config = self.config(msg.network, msg.channel)
        make = PROVIDERS.get(str(config["provider"]).strip().lower())
        if not config["url"]:
            return ["search: no search service is configured here."]
        if make is None:
            log.warning("search: unknown provider %r configured", config["provider"])
            return [f"search: the configured provider is not one of {', '.join(PROVIDERS)}."]
        try:
            results = await make(self.client, str(config["url"])).search(terms)
        except ServiceUnavailable as exc:
            log.warning("search for %r failed: %s", terms, exc)
            return [polite("search", "search service")]
        if not results:
            return [f"search: nothing found for {terms}."]
        return [f"{r.title} - {r.url}" for r in results[:MAX_RESULTS]]
