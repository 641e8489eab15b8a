"""!weather against a local server answering with recorded Open-Meteo responses."""

import logging

import pytest

from botadmin.infobot import PluginSetting
from botadmin.plugins.weather import Weather

GEOCODING = "/v1/search"
FORECAST = "/v1/forecast"
POLITE = "PRIVMSG #pub :weather: the forecast service is not answering right now, sorry"


@pytest.fixture
async def net(network_factory, http_service):
    config = {
        "geocoding_url": http_service.url,
        "forecast_url": http_service.url + "/",
        "timeout": 0.5,
        "reply_interval": 0,
    }
    return await network_factory([Weather], [PluginSetting("weather", config=config)])


@pytest.fixture
def berlin(http_service):
    http_service.serve(GEOCODING, "openmeteo_geocoding_berlin.json")
    http_service.serve(FORECAST, "openmeteo_forecast_berlin.json")
    return http_service


async def test_it_answers_current_conditions_and_todays_forecast_in_one_line(net, berlin):
    assert await net.say("ann", "#pub", "!weather Berlin") == [
        "PRIVMSG #pub :Berlin (Land Berlin, Germany): slight rain, 3.4 °C, wind 14.8 km/h;"
        " today 1.2 to 5.9 °C, 80% chance of precipitation"
    ]


async def test_it_asks_for_the_forecast_where_the_geocoder_put_the_place(net, berlin):
    await net.say("ann", "#pub", "!weather  Berlin ")
    [located] = berlin.asked(GEOCODING)
    assert located.query["name"] == "Berlin"
    [forecast] = berlin.asked(FORECAST)
    assert (forecast.query["latitude"], forecast.query["longitude"]) == ("52.52437", "13.41053")
    assert forecast.query["forecast_days"] == "1"


async def test_it_says_politely_that_it_does_not_know_a_place(net, http_service):
    http_service.serve(GEOCODING, "openmeteo_geocoding_nothing.json")
    assert await net.say("ann", "#pub", "!weather Xyzzyville") == [
        "PRIVMSG #pub :weather: I do not know where Xyzzyville is."
    ]
    assert http_service.asked(FORECAST) == []


async def test_it_explains_its_usage_without_a_place(net, http_service):
    assert await net.say("ann", "#pub", "!weather") == ["PRIVMSG #pub :Usage: weather PLACE"]
    assert http_service.requests == []


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda s: s.fail(FORECAST, 503), id="forecast-down"),
        pytest.param(lambda s: s.stall(FORECAST), id="forecast-slower-than-the-timeout"),
        pytest.param(lambda s: s.stall(GEOCODING), id="geocoder-slower-than-the-timeout"),
        pytest.param(lambda s: s.serve(FORECAST, b"<html>maintenance</html>"), id="not-json"),
        pytest.param(lambda s: s.serve(FORECAST, {"current": {}}), id="forecast-wrong-shape"),
        pytest.param(lambda s: s.serve(GEOCODING, ["Berlin"]), id="geocoder-list"),
        pytest.param(lambda s: s.serve(GEOCODING, {"results": ["x"]}), id="geocoder-strings"),
        pytest.param(lambda s: s.serve(GEOCODING, {"error": True}, 400), id="geocoder-400"),
    ],
)
async def test_a_provider_that_is_down_slow_or_nonsensical_gets_a_polite_reply_and_a_log_line(
    net, berlin, break_it, caplog
):
    break_it(berlin)
    with caplog.at_level(logging.WARNING, logger="botadmin.plugins.weather"):
        assert await net.say("ann", "#pub", "!weather Berlin") == [POLITE]
    assert "weather for 'Berlin' failed" in caplog.text


async def test_answers_are_limited_per_channel(network_factory, berlin):
    config = {"geocoding_url": berlin.url, "forecast_url": berlin.url, "reply_interval": 3600}
    net = await network_factory([Weather], [PluginSetting("weather", config=config)])
    assert len(await net.say("ann", "#pub", "!weather Berlin")) == 1
    assert await net.say("bob", "#pub", "!weather Berlin") == [
        "NOTICE bob :weather: one answer every 3600 seconds, please."
    ]
    assert await net.say("bob", "#pub", "!weather Berlin") == []
    [other_channel] = await net.say("bob", "#priv", "!weather Berlin")
    assert other_channel.startswith("PRIVMSG #priv :Berlin (Land Berlin, Germany): slight rain")
