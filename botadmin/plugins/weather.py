"""weather: current conditions and today's forecast for a place, in one line."""

from __future__ import annotations

import logging
import time
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

# WMO code table 4677 as Open-Meteo documents its subset.
WMO_CODES: dict[int, str] = {
    0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast",
    45: "fog", 48: "depositing rime fog",
    51: "light drizzle", 53: "moderate drizzle", 55: "dense drizzle",
    56: "light freezing drizzle", 57: "dense freezing drizzle",
    61: "slight rain", 63: "moderate rain", 65: "heavy rain",
    66: "light freezing rain", 67: "heavy freezing rain",
    71: "slight snow fall", 73: "moderate snow fall", 75: "heavy snow fall", 77: "snow grains",
    80: "slight rain showers", 81: "moderate rain showers", 82: "violent rain showers",
    85: "slight snow showers", 86: "heavy snow showers",
    95: "thunderstorm", 96: "thunderstorm with slight hail", 99: "thunderstorm with heavy hail",
}  # fmt: skip


@dataclass(frozen=True)
class Place:
    name: str
    region: str  # "England, United Kingdom"; may be empty
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Forecast:
    temperature: float
    code: int
    wind: float
    low: float
    high: float
    rain_chance: float | None  # percent; not every place has it
    temperature_unit: str = "°C"
    wind_unit: str = "km/h"


class WeatherProvider(Protocol):
    async def locate(self, query: str) -> Place | None: ...

    async def forecast(self, place: Place) -> Forecast: ...


class OpenMeteo:
    """Open-Meteo's geocoding and forecast APIs (no key needed)."""

    def __init__(self, client: HttpClient, geocoding_url: str, forecast_url: str) -> None:
        self.client = client
        self.geocoding_url = geocoding_url.rstrip("/")
        self.forecast_url = forecast_url.rstrip("/")

    async def locate(self, query: str) -> Place | None:
        url = f"{self.geocoding_url}/v1/search"
        answer = await self.client.get_json(
            url, {"name": query, "count": 1, "language": "en", "format": "json"}
        )
        data = body_of(url, answer)
        # Open-Meteo leaves "results" out altogether when nothing matches.
        results = parsed(url, lambda: (data or {}).get("results") or [])
        if not results:
            return None
        return parsed(url, lambda: _place(results[0]))

    async def forecast(self, place: Place) -> Forecast:
        url = f"{self.forecast_url}/v1/forecast"
        params = {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "current": "temperature_2m,weather_code,wind_speed_10m",
            "daily": "temperature_2m_max,temperature_2m_min,precipitation_probability_max",
            "timezone": "auto",
            "forecast_days": 1,
        }
        answer = await self.client.get_json(url, params)
        data = body_of(url, answer)
        return parsed(url, lambda: _forecast(data))


def _place(result: dict[str, Any]) -> Place:
    region = ", ".join(str(result[k]) for k in ("admin1", "country") if result.get(k))
    return Place(str(result["name"]), region, float(result["latitude"]), float(result["longitude"]))


def _forecast(data: dict[str, Any]) -> Forecast:
    current, daily = data["current"], data["daily"]
    units = data.get("current_units") or {}
    rain = (daily.get("precipitation_probability_max") or [None])[0]
    return Forecast(
        temperature=float(current["temperature_2m"]),
        code=int(current["weather_code"]),
        wind=float(current["wind_speed_10m"]),
        low=float(daily["temperature_2m_min"][0]),
        high=float(daily["temperature_2m_max"][0]),
        rain_chance=None if rain is None else float(rain),
        temperature_unit=units.get("temperature_2m", "°C"),
        wind_unit=units.get("wind_speed_10m", "km/h"),
    )


def describe(place: Place, forecast: Forecast) -> str:
    where = f"{place.name} ({place.region})" if place.region else place.name
    sky = WMO_CODES.get(forecast.code, f"weather code {forecast.code}")
    t = forecast.temperature_unit
    line = (
        f"{where}: {sky}, {forecast.temperature:g} {t}, wind {forecast.wind:g} {forecast.wind_unit}"
        f"; today {forecast.low:g} to {forecast.high:g} {t}"
    )
    if forecast.rain_chance is not None:
        line += f", {forecast.rain_chance:g}% chance of precipitation"
    return line


class Weather(HttpPlugin):
    """Answers the weather for a place."""

    settings = (
        Setting("geocoding_url", str, "https://geocoding-api.open-meteo.com", "Geocoding API."),
        Setting("forecast_url", str, "https://api.open-meteo.com", "Forecast API."),
        *http_settings("each API"),
    )

    def provider(self, network: str, channel: str | None) -> WeatherProvider:
        config = self.config(network, channel)
        return OpenMeteo(self.client, config["geocoding_url"], config["forecast_url"])

    @command("weather")
    async def weather(self, msg: Incoming, args: str) -> None:
        """weather PLACE: current conditions and today's forecast, e.g. weather Paris."""
        answer = await self.lookup(msg, args.strip()) if args.strip() else "Usage: weather PLACE"
        await self.limiter.reply(msg, self.name, answer, time.monotonic())

    async def lookup(self, msg: Incoming, query: str) -> str:
        provider = self.provider(msg.network, msg.channel)
        try:
            place = await provider.locate(query)
            if place is None:
                return f"weather: I do not know where {query} is."
            return describe(place, await provider.forecast(place))
        except ServiceUnavailable as exc:
            log.warning("weather for %r failed: %s", query, exc)
            return polite("weather", "forecast service")
