"""The published channel logs, under /logs/.

A channel appears in URLs without its '#' (``/logs/libera/python/``); a channel with another
prefix, or a second '#', keeps its name, percent-encoded where needed (``/logs/x/&local/``,
``/logs/x/%23%23linux/``), so every legal name has one clean address.
"""

from datetime import date

from django.urls import URLPattern, URLResolver, path, register_converter

from botadmin.views import logs, search
from botadmin.views.access import channel_from_url, channel_to_url


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
