"""!pypi and its poll job against a local package index serving recorded JSON API answers."""

import asyncio
import logging

import pytest

from botadmin.infobot import MemoryStorage
from tests.plugins.pypi_index import DJANGO, Bots, announced, index_doc, index_settings, poll

POLITE = "PRIVMSG #pub :pypi: the package index is not answering right now, sorry"
MAY = "2025-05-07T15:34:35"
JUNE = {"5.2.2": "2025-06-04T13:44:40", "4.2.22": "2025-06-04T13:51:02"}


@pytest.fixture
async def bots():
    bots = Bots()
    yield bots
    await bots.stop_all()


@pytest.fixture
def index(http_service):
    http_service.serve(DJANGO, "pypi_django_5.2.1.json")
    return http_service


@pytest.fixture
async def bot(bots, index):
    return await bots.start(MemoryStorage(), index_settings(index))


async def test_a_channel_watches_lists_and_unwatches_a_project(bot):
    assert await bot.say("ann", "#pub", "!pypi watch Django") == [
        "PRIVMSG #pub :pypi: watching django here (latest is 5.2.1)."
    ]
    assert await bot.say("ann", "#pub", "!pypi list") == [
        "PRIVMSG #pub :pypi: watching django here."
    ]
    assert await bot.say("ann", "#priv", "!pypi list") == [
        "PRIVMSG #priv :pypi: watching nothing here."
    ]
    assert await bot.say("bob", "#pub", "!pypi unwatch DJANGO") == [
        "PRIVMSG #pub :pypi: no longer watching django here."
    ]
    assert await bot.say("bob", "#pub", "!pypi unwatch django") == [
        "PRIVMSG #pub :pypi: django is not watched here."
    ]
    assert await bot.say("bob", "#pub", "!pypi list") == [
        "PRIVMSG #pub :pypi: watching nothing here."
    ]


async def test_it_explains_usage_and_that_watches_are_per_channel(bot):
    assert await bot.say("ann", "#pub", "!pypi watch") == [
        "PRIVMSG #pub :Usage: pypi watch PROJECT | pypi unwatch PROJECT | pypi list"
    ]
    assert await bot.say("ann", "bot", "pypi watch django") == [
        "PRIVMSG ann :pypi: watches are per channel; ask in one."
    ]


async def test_an_unknown_project_gets_a_polite_reply_and_is_not_watched(bot, index):
    index.serve("/pypi/no-such-thing/json", "pypi_not_found.json", status=404)
    assert await bot.say("ann", "#pub", "!pypi watch No_Such.Thing") == [
        "PRIVMSG #pub :pypi: there is no project called no-such-thing on the index."
    ]
    assert (await bot.say("ann", "#pub", "!pypi list"))[0].endswith("watching nothing here.")


BROKEN_INDEX = [
    pytest.param(lambda s: s.fail(DJANGO, 502), id="down"),
    pytest.param(lambda s: s.stall(DJANGO), id="slower-than-the-timeout"),
    pytest.param(lambda s: s.serve(DJANGO, b"<html>", content_type="text/html"), id="html"),
    pytest.param(lambda s: s.serve(DJANGO, ["django"]), id="a-list"),
    pytest.param(lambda s: s.serve(DJANGO, {"info": {"version": "1"}}), id="no-releases"),
    pytest.param(lambda s: s.serve(DJANGO, b"slow down", 429, "text/plain"), id="rate-limited"),
]


@pytest.mark.parametrize("break_it", BROKEN_INDEX)
async def test_watching_while_the_index_is_broken_gets_a_polite_reply_and_a_log_line(
    bot, index, break_it, caplog
):
    break_it(index)
    with caplog.at_level(logging.WARNING, logger="botadmin.plugins.pypi"):
        assert await bot.say("ann", "#pub", "!pypi watch django") == [POLITE]
    assert "pypi: watching django failed" in caplog.text
    assert (await bot.say("ann", "#pub", "!pypi list"))[0].endswith("watching nothing here.")


async def test_a_new_release_is_announced_once_in_each_watching_channel(bot, index):
    await bot.say("ann", "#pub", "!pypi watch django")
    await bot.say("ann", "#priv", "!pypi watch django")
    assert await poll(bot) == []
    index.serve(DJANGO, "pypi_django_5.2.2.json")
    assert await poll(bot) == [
        announced(index, "#priv", "5.2.2"),
        announced(index, "#pub", "5.2.2"),
    ]
    assert await poll(bot) == []


async def test_the_scheduled_job_polls_on_its_own_and_announces_once(bots, index):
    bot = await bots.start(MemoryStorage(), index_settings(index, interval=0.02))
    await bot.say("ann", "#pub", "!pypi watch django")
    index.serve(DJANGO, "pypi_django_5.2.2.json")
    seen = len(index.requests)
    lines: list[str] = []
    async with asyncio.timeout(10):
        while len(index.requests) < seen + 4:  # a few polls after the release came out
            await asyncio.sleep(0.01)
            lines += [out.line for out in bot.session.take_output()]
    lines += [out.line for out in bot.session.take_output()]
    assert lines == [announced(index, "#pub", "5.2.2")]


async def test_after_a_restart_a_release_is_not_announced_again(bots, index):
    storage = MemoryStorage()
    first = await bots.start(storage, index_settings(index))
    await first.say("ann", "#pub", "!pypi watch django")
    index.serve(DJANGO, "pypi_django_5.2.2.json")  # no validators: state alone must tell
    assert await poll(first) == [announced(index, "#pub", "5.2.2")]
    await first.host.stop()
    second = await bots.start(storage, index_settings(index))
    assert await poll(second) == []
    assert (await second.say("ann", "#pub", "!pypi list"))[0].endswith("watching django here.")


async def test_a_release_out_during_a_restart_is_announced_by_the_next_bot(bots, index):
    storage = MemoryStorage()
    first = await bots.start(storage, index_settings(index))
    await first.say("ann", "#pub", "!pypi watch django")
    await first.host.stop()
    index.serve(DJANGO, "pypi_django_5.2.2.json")
    second = await bots.start(storage, index_settings(index))
    assert await poll(second) == [announced(index, "#pub", "5.2.2")]
    assert await poll(second) == []


@pytest.mark.parametrize(
    "validators",
    [
        {"etag": '"5.2.1-abc"'},
        {"last_modified": "Wed, 07 May 2025 15:34:35 GMT"},
        {"etag": '"5.2.1-abc"', "last_modified": "Wed, 07 May 2025 15:34:35 GMT"},
    ],
    ids=["etag", "last-modified", "both"],
)
async def test_polls_are_conditional_and_a_304_announces_nothing(bot, index, validators):
    index.serve(DJANGO, "pypi_django_5.2.1.json", **validators)
    await bot.say("ann", "#pub", "!pypi watch django")
    assert await poll(bot) == []
    watched, polled = index.asked(DJANGO)
    assert "if-none-match" not in watched.headers
    assert polled.headers.get("if-none-match") == validators.get("etag")
    assert polled.headers.get("if-modified-since") == validators.get("last_modified")

    index.serve(DJANGO, "pypi_django_5.2.2.json", etag='"5.2.2-def"')
    assert await poll(bot) == [announced(index, "#pub", "5.2.2")]
    assert await poll(bot) == []
    assert index.asked(DJANGO)[-1].headers["if-none-match"] == '"5.2.2-def"'


async def test_every_release_since_the_last_poll_is_announced_oldest_first(bot, index):
    index.serve(DJANGO, index_doc("5.2.1", {"5.2": "2025-04-02T14:01:12", "5.2.1": MAY}))
    await bot.say("ann", "#pub", "!pypi watch django")
    releases = {"5.2": "2025-04-02T14:01:12", "5.2.1": MAY} | JUNE
    releases |= {"5.2.3": "2025-06-10T14:40:15", "6.0a1": "2025-06-11T09:00:00"}
    index.serve(DJANGO, index_doc("5.2.3", releases, yanked=frozenset({"6.0a1"})))
    assert await poll(bot) == [
        announced(index, "#pub", "5.2.2"),
        announced(index, "#pub", "4.2.22"),
        announced(index, "#pub", "5.2.3"),
    ]
    assert await poll(bot) == []


async def test_a_flood_of_releases_is_summarized(bot, index):
    await bot.say("ann", "#pub", "!pypi watch django")
    releases = {f"5.3.{n}": f"2025-07-0{n}T10:00:00" for n in range(1, 8)}
    index.serve(DJANGO, index_doc("5.3.7", {"5.2.1": MAY} | releases))
    lines = await poll(bot)
    assert lines[0] == "PRIVMSG #pub :django: 7 new releases; the latest:"
    assert lines[1:] == [announced(index, "#pub", f"5.3.{n}") for n in range(3, 8)]


async def test_a_channel_watching_later_does_not_take_news_from_an_earlier_one(bot, index):
    await bot.say("ann", "#pub", "!pypi watch django")
    index.serve(DJANGO, "pypi_django_5.2.2.json")
    assert await bot.say("ann", "#priv", "!pypi watch django") == [
        "PRIVMSG #priv :pypi: watching django here (latest is 5.2.2)."
    ]
    assert await poll(bot) == [announced(index, "#pub", "5.2.2")]
    june = {"5.2.2": JUNE["5.2.2"], "5.2.3": "2025-06-10T14:40:15"}
    index.serve(DJANGO, index_doc("5.2.3", {"5.2.1": MAY} | june))
    assert await poll(bot) == [
        announced(index, "#priv", "5.2.3"),
        announced(index, "#pub", "5.2.3"),
    ]


@pytest.mark.parametrize("break_it", BROKEN_INDEX)
async def test_a_poll_of_a_broken_index_logs_and_announces_later(bot, index, break_it, caplog):
    await bot.say("ann", "#pub", "!pypi watch django")
    break_it(index)
    with caplog.at_level(logging.WARNING, logger="botadmin.plugins.pypi"):
        assert await poll(bot) == []
    assert "pypi: polling django failed" in caplog.text
    index.serve(DJANGO, "pypi_django_5.2.2.json")
    assert await poll(bot) == [announced(index, "#pub", "5.2.2")]


async def test_a_project_gone_from_the_index_is_polled_quietly(bot, index):
    await bot.say("ann", "#pub", "!pypi watch django")
    index.serve(DJANGO, "pypi_not_found.json", status=404)
    assert await poll(bot) == []


async def test_replies_are_limited_per_channel(bots, index):
    bot = await bots.start(MemoryStorage(), index_settings(index, reply_interval=3600))
    assert len(await bot.say("ann", "#pub", "!pypi list")) == 1
    assert await bot.say("ann", "#pub", "!pypi list") == [
        "NOTICE ann :pypi: one answer every 3600 seconds, please."
    ]
    assert await bot.say("ann", "#priv", "!pypi list") == [
        "PRIVMSG #priv :pypi: watching nothing here."
    ]
