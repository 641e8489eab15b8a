"""What plugins that reach out share: a JSON-over-HTTP client with timeouts, polite failure
messages, and a per-channel reply limit.

Every way a web service can let us down (refused, slow, 5xx, a page of HTML where JSON was
promised, JSON of the wrong shape) becomes one exception, ``ServiceUnavailable``, so a
plugin has a single thing to catch and a single polite sentence to say.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from .plugin import Incoming, Plugin, Setting
from .throttle import Verdict

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_TIMEOUT = 5.0
USER_AGENT = "appliance-infobot/0.1"


class ServiceUnavailable(Exception):
    """The service is down, slow, or answered something we cannot use."""


@dataclass(frozen=True)
class JsonResponse:
    status: int
    data: Any  # None for a body-less answer (304)
    headers: Mapping[str, str] = field(default_factory=dict)


class HttpClient:
    """One httpx.AsyncClient per plugin, closed at teardown."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=True,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(
        self,
        url: str,
        params: Mapping[str, str | int | float] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JsonResponse:
        """GET url; 2xx/3xx/4xx come back as a JsonResponse, anything unusable raises.

        A 4xx is the caller's business (PyPI's 404 means "no such project"), so only
        failures of the service itself (5xx, transport, bad JSON) raise.
        """
        try:
            response = await self._client.get(url, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(f"{url}: no answer in time") from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(f"{url}: HTTP {response.status_code}")
        return JsonResponse(response.status_code, _body(url, response), response.headers)


def _body(url: str, response: httpx.Response) -> Any:
    if response.status_code == 304 or response.status_code >= 400 or not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ServiceUnavailable(f"{url}: the answer is not JSON") from exc


def body_of(url: str, answer: JsonResponse) -> Any:
    """Return the data of a 200 answer; any other status means the service cannot help us.

    (A 403 from SearXNG means its json format is off; a 404 from a wrong base URL.)
    """
    if answer.status != 200:
        raise ServiceUnavailable(f"{url}: HTTP {answer.status}")
    return answer.data


def parsed(url: str, read: Callable[[], T]) -> T:
    """Run read(); a missing or mistyped field means the service answered nonsense.

    Decoded JSON can be any shape (a list where an object was promised, a string where a
    list was), so every error reading it is one ServiceUnavailable.
    """
    try:
        return read()
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ServiceUnavailable(f"{url}: unexpected answer ({exc!r})") from exc


def polite(plugin: str, service: str) -> str:
    """Word what a channel hears when a service let us down (the log gets the details)."""
    return f"{plugin}: the {service} is not answering right now, sorry"


@dataclass
class ReplyLimiter:
    """At most one reply per ``interval`` seconds per key (a network and channel).

    The first refused reply is a WARN (say "slow down" once), later ones BLOCK.
    """

    interval: float = 5.0
    _last: dict[str, float] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def check(self, key: str, now: float) -> Verdict:
        if len(self._last) > 1000:
            self._forget(now)
        last = self._last.get(key)
        if last is None or now - last >= self.interval:
            self._last[key] = now
            self._warned.discard(key)
            return Verdict.ALLOW
        if key in self._warned:
            return Verdict.BLOCK
        self._warned.add(key)
        return Verdict.WARN

    async def reply(self, msg: Incoming, plugin: str, text: str, now: float) -> None:
        """Answer msg unless its channel heard from this plugin too recently."""
        verdict = self.check(f"{msg.network} {msg.channel or msg.nick}", now)
        if verdict is Verdict.ALLOW:
            await msg.reply(text)
        elif verdict is Verdict.WARN:
            await msg.notice(f"{plugin}: one answer every {self.interval:.0f} seconds, please.")

    def _forget(self, now: float) -> None:
        for key in [k for k, t in self._last.items() if now - t >= self.interval]:
            del self._last[key]
            self._warned.discard(key)


def http_settings(service: str) -> tuple[Setting, ...]:
    """Declare the settings every plugin that asks a web service has."""
    return (
        Setting("timeout", float, 5.0, f"Seconds to wait for {service}.", 0.1, 120),
        Setting(
            "reply_interval", float, 5.0, "At most one answer per channel this often.", 0, 3600
        ),
    )


class HttpPlugin(Plugin):
    """A plugin that asks web services: one client with the configured timeout, and its
    replies limited per channel. Subclasses declare ``http_settings(...)`` among theirs."""

    async def setup(self) -> None:
        config = self.config(None)
        self.client = HttpClient(float(config["timeout"]))
        self.limiter = ReplyLimiter(float(config["reply_interval"]))

    async def teardown(self) -> None:
        await self.client.aclose()
