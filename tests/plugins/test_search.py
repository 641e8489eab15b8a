"""!search against a local server answering with recorded SearXNG responses."""

import logging

import pytest

from botadmin.infobot import PluginSetting
from botadmin.plugins.search import Search

SEARCH = "/search"
POLITE = "PRIVMSG #pub :search: the search service is not answering right now, sorry"


@pytest.fixture
def searxng(http_service):
    http_service.serve(SEARCH, "searxng_python_asyncio.json")
    return http_service


@pytest.fixture
async def net(network_factory, searxng):
    config = {"url": searxng.url, "timeout": 0.5, "reply_interval": 0}
    return await network_factory([Search], [PluginSetting("search", config=config)])


async def test_it_answers_the_top_three_results_one_line_each(net, searxng):
    assert await net.say("ann", "#pub", "!search python   asyncio") == [
        "PRIVMSG #pub :asyncio — Asynchronous I/O — Python 3.13.0 documentation"
        " - https://docs.python.org/3/library/asyncio.html",
        "PRIVMSG #pub :Python's asyncio: A Hands-On Walkthrough – Real Python"
        " - https://realpython.com/async-io-python/",
        "PRIVMSG #pub :asyncio - Wikipedia - https://en.wikipedia.org/wiki/Asyncio",
    ]
    [request] = searxng.asked(SEARCH)
    assert request.query == {"q": "python asyncio", "format": "json"}


async def test_it_says_when_nothing_was_found(net, searxng):
    searxng.serve(SEARCH, "searxng_nothing.json")
    assert await net.say("ann", "#pub", "!search zzqxj flurble") == [
        "PRIVMSG #pub :search: nothing found for zzqxj flurble."
    ]


async def test_without_a_configured_service_it_says_so(network_factory, http_service):
    net = await network_factory([Search])
    assert await net.say("ann", "#pub", "!search python asyncio") == [
        "PRIVMSG #pub :search: no search service is configured here."
    ]
    assert http_service.requests == []


async def test_the_service_can_be_configured_for_one_channel_only(network_factory, searxng):
    settings = [
        PluginSetting("search", config={"url": searxng.url}, network="testnet", channel="#priv")
    ]
    net = await network_factory([Search], settings)
    assert len(await net.say("ann", "#priv", "!search python asyncio")) == 3
    assert (await net.say("ann", "#pub", "!search python asyncio"))[0].endswith(
        "no search service is configured here."
    )


async def test_the_provider_is_a_setting_and_an_unknown_one_is_reported(network_factory, searxng):
    config = {"url": searxng.url, "provider": "SearXNG", "reply_interval": 0}
    net = await network_factory([Search], [PluginSetting("search", config=config)])
    assert len(await net.say("ann", "#pub", "!search python asyncio")) == 3
    config = {"url": searxng.url, "provider": "altavista", "reply_interval": 0}
    await net.host.apply([PluginSetting("search", config=config)])
    assert await net.say("ann", "#pub", "!search python asyncio") == [
        "PRIVMSG #pub :search: the configured provider is not one of searxng."
    ]
    assert len(searxng.requests) == 1


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda s: s.fail(SEARCH), id="down"),
        pytest.param(lambda s: s.stall(SEARCH), id="slower-than-the-timeout"),
        pytest.param(lambda s: s.serve(SEARCH, {"results": ["x"]}), id="strings-for-results"),
        pytest.param(lambda s: s.serve(SEARCH, ["x"]), id="a-list"),
        pytest.param(lambda s: s.serve(SEARCH, {"results": [{"title": "t"}]}), id="no-url"),
        pytest.param(lambda s: s.serve(SEARCH, b"<html>", content_type="text/html"), id="html"),
        # SearXNG's answer when the instance does not enable the json format:
        pytest.param(lambda s: s.serve(SEARCH, b"Forbidden", 403, "text/plain"), id="json-off"),
    ],
)
async def test_a_service_that_is_down_slow_or_nonsensical_gets_a_polite_reply_and_a_log_line(
    net, searxng, break_it, caplog
):
    break_it(searxng)
    with caplog.at_level(logging.WARNING, logger="botadmin.plugins.search"):
        assert await net.say("ann", "#pub", "!search python asyncio") == [POLITE]
    assert "search for 'python asyncio' failed" in caplog.text


async def test_answers_are_limited_per_channel(network_factory, searxng):
    config = {"url": searxng.url, "reply_interval": 3600}
    net = await network_factory([Search], [PluginSetting("search", config=config)])
    assert len(await net.say("ann", "#pub", "!search python asyncio")) == 3
    assert await net.say("ann", "#pub", "!search python asyncio") == [
        "NOTICE ann :search: one answer every 3600 seconds, please."
    ]
    assert len(await net.say("ann", "#priv", "!search python asyncio")) == 3
