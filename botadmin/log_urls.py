"""The published channel logs, under /logs/.

A channel appears in URLs without its '#' (``/logs/libera/python/``); a channel with another
prefix, or a second '#', keeps its name, percent-encoded where needed (``/logs/x/&local/``,
``/logs/x/%23%23linux/``), so every legal name has one clean address.
"""

from datetime import date
from urllib.parse import unquote

from django.urls import URLPattern, URLResolver, path, register_converter

from botadmin.infobot.protocol import CHANNEL_PREFIXES
from botadmin.views import logs, search


def channel_from_url(segment: str) -> str:
    """Return the channel name of a URL segment: '#' is implied unless another prefix is given."""
    name = unquote(segment)
    return name if name[:1] in CHANNEL_PREFIXES else f"#{name}"


def channel_to_url(name: str) -> str:
    """Return a channel's URL segment: '#python' → 'python'; '##linux', '&local' keep theirs.

    A '/' (legal in channel names) would end the path segment and a '%' would be decoded
    twice, so both are escaped once more here; the URL layer quotes the rest.
    """
    if name.startswith("#") and name[1:2] not in CHANNEL_PREFIXES:
        name = name[1:]
    return name.replace("%", "%25").replace("/", "%2F")


class ChannelConverter:
    regex = r"[^/]+"

    def to_python(self, value: str) -> str:
        return channel_from_url(value)

    def to_url(self, value: str) -> str:
        return channel_to_url(value)


class DayConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        return date.fromisoformat(value)  # ValueError (say 2024-02-30) makes it a 404

    def to_url(self, value: date | str) -> str:
        return value.isoformat() if isinstance(value, date) else value


register_converter(ChannelConverter, "irc_channel")
register_converter(DayConverter, "day")

app_name = "logs"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", logs.index, name="index"),
    path("search/", search.search, name="search"),
    path("seen/", logs.seen, name="seen"),
    path("line/<int:line_id>/", logs.permalink, name="line"),
    path("<slug:network>/<irc_channel:channel>/", logs.channel, name="channel"),
    path("<slug:network>/<irc_channel:channel>/<day:day>/", logs.day, name="day"),
    path("<slug:network>/<irc_channel:channel>/<day:day>.log", logs.day_text, name="day-text"),
]
