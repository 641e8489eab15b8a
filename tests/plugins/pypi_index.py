"""A fake package index for the pypi plugin's tests, and bots that outlive a restart.

The index answers are the recorded JSON API answers, optionally with the ``releases`` a
test chooses; the bots are fake networks (see conftest) that share one Storage, so a
second bot started on the first one's storage is the same appliance after a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botadmin.infobot import PluginSetting, Storage, Timing
from botadmin.plugins.pypi import Pypi
from tests.plugins.conftest import FakeNetwork
from tests.plugins.httpfake import HttpService, recorded, running

DJANGO = "/pypi/django/json"


def index_doc(latest: str, releases: dict[str, str], yanked: frozenset[str] = frozenset()) -> Any:
    """Build the recorded Django answer with releases {version: upload time} (some yanked)."""
    doc = recorded("pypi_django_5.2.2.json")
    file = doc["urls"][0]
    doc["info"]["version"] = latest
    doc["releases"] = {
        version: [
            file
            | {
                "filename": f"django-{version}-py3-none-any.whl",
                "upload_time": uploaded,
                "upload_time_iso_8601": f"{uploaded}.000000Z",
                "yanked": version in yanked,
            }
        ]
        for version, uploaded in releases.items()
    }
    doc["urls"] = doc["releases"].get(latest, [])
    return doc


@contextmanager
def django_index() -> Iterator[HttpService]:
    """Run an index that knows Django, at 5.2.1 (the recorded answer)."""
    with running() as service:
        service.serve(DJANGO, "pypi_django_5.2.1.json")
        yield service


def index_settings(index: HttpService, **config: Any) -> list[PluginSetting]:
    """No background polls (tests call poll), no reply limit, a short timeout."""
    defaults = {"index_url": index.url, "timeout": 0.5, "reply_interval": 0, "interval": 3600}
    return [PluginSetting("pypi", config=defaults | config)]


class Bots:
    """Starts bots running only the pypi plugin; stop_all at teardown."""

    def __init__(self) -> None:
        self.started: list[FakeNetwork] = []

    async def start(self, storage: Storage, settings: list[PluginSetting]) -> FakeNetwork:
        bot = FakeNetwork([Pypi], settings, Timing())
        bot.storage = bot.host.components[Storage] = storage
        await bot.start()
        self.started.append(bot)
        return bot

    async def stop_all(self) -> None:
        for bot in self.started:
            await bot.host.stop()


async def poll(bot: FakeNetwork) -> list[str]:
    """Run the scheduled job once, now; the lines the bot sends."""
    await bot.host.loaded["pypi"].poll()
    return [out.line for out in bot.session.take_output()]


def announced(index: HttpService, channel: str, version: str) -> str:
    return f"PRIVMSG {channel} :django {version} released: {index.url}/project/django/{version}/"
