"""How a stored log line is shown: control codes stripped, escaped, links made, nicks coloured."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.urls import get_script_prefix, reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from botadmin.infobot.protocol import fold
from botadmin.models import LogLine

NICK_COLOURS = 16

# mIRC formatting: colour (\x03 with up to two 1-2 digit numbers), hex colour (\x04),
# then bold, reset, monospace, reverse, italic, strike-through, underline.
FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
# Whatever control characters remain would only garble the page or the .log file.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
URL = re.compile(r"\bhttps?://[^\s<>\"'\x00-\x1f]+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the URL it follows.
URL_TRAILER = ".,;:!?'\")]}>"


def plain(text: str) -> str:
    """Strip IRC formatting and other control characters from text."""
    return CONTROL.sub("", FORMATTING.sub("", text))


def split_url(match: str) -> tuple[str, str]:
    """Split a match into (url, trailing punctuation), keeping a ')' that has its opener."""
    url = match
    while url and url[-1] in URL_TRAILER:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url, match[len(url) :]


def linkify(text: str) -> SafeString:
    """Escape ``text``, making http(s) URLs links that pass no ranking and no opener."""
    parts: list[str] = []
    position = 0
    for match in URL.finditer(text):
        url, trailer = split_url(match.group())
        parts.append(escape(text[position : match.start()]))
        parts.append(format_html('<a href="{0}" rel="nofollow noopener">{0}</a>', url))
        parts.append(escape(trailer))
        position = match.end()
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # every piece was escaped above


def permalink(line_id: int) -> str:
    return f"{permalink_prefix(get_script_prefix())}{line_id}/"


@lru_cache
def permalink_prefix(script_prefix: str) -> str:
    """Reverse /logs/line/ under the site's script prefix once instead of for every line."""
    return reverse("logs:line", args=[0]).removesuffix("0/")


def nick_colour(nick: str) -> int:
    """Pick a nick's colour class, the same on every page and for every reader."""
    return zlib.crc32(fold(nick).encode()) % NICK_COLOURS


@dataclass(frozen=True)
class Line:
    """A LogLine as a reader sees it (redacted when its nick asked to be)."""

    id: int
    time: datetime
    nick: str
    kind: str
    text: str
    msgid: str
    redacted: bool

    @property
    def anchor(self) -> str:
        return f"l{self.id}"

    @property
    def colour(self) -> int:
        return nick_colour(self.nick)

    @property
    def html(self) -> SafeString:
        return linkify(self.text)

    def row(self) -> SafeString:
        """Render the line as an <li>; built here, not by a template, since a day has thousands.

        Plain formatting rather than format_html, for speed: the nick is escaped and the
        text linkified (escaped) here, and everything else is an int or our own markup.
        """
        nick = f'<span class="nick n{self.colour}">{escape(self.nick)}</span>'
        body = pick(ROW_FORMATS, self.kind, self.text).format(nick=nick, text=self.html)
        classes = f"line k-{self.kind}"
        classes += " presence" if self.is_presence else ""
        classes += " redacted" if self.redacted else ""
        return mark_safe(
            f'<li id="{self.anchor}" class="{classes}" data-id="{self.id}">'
            f'<a class="stamp" href="{permalink(self.id)}" title="Permalink">'
            f'<time datetime="{self.time.isoformat()}">{self.time.astimezone(UTC):%H:%M:%S}</time>'
            f"</a> {body}</li>"
        )

    @property
    def is_presence(self) -> bool:
        """Joins, parts and quits: what the "hide joins/parts" toggle hides."""
        return self.kind in ("join", "part", "quit")

    def as_text(self) -> str:
        """Format the line as the conventional plain-text log does."""
        body = pick(TEXT_FORMATS, self.kind, self.text).format(nick=self.nick, text=self.text)
        return f"[{self.time.astimezone(UTC):%H:%M:%S}] {body}"


def pick(formats: dict[str, str], kind: str, text: str) -> str:
    """Pick the format for a kind; a part or quit without a reason has no empty parentheses."""
    if not text and f"{kind}-bare" in formats:
        return formats[f"{kind}-bare"]
    return formats.get(kind, formats["mode"])


# {nick} is the coloured nick and {text} the linkified text, both escaped already.
ROW_FORMATS = {
    "message": '&lt;{nick}&gt; <span class="text">{text}</span>',
    "action": '<span class="text">* {nick} {text}</span>',
    "notice": '-{nick}- <span class="text">{text}</span>',
    "join": '<span class="event">→ {nick} joined</span>',
    "part": '<span class="event">← {nick} left ({text})</span>',
    "quit": '<span class="event">← {nick} quit ({text})</span>',
    "part-bare": '<span class="event">← {nick} left</span>',
    "quit-bare": '<span class="event">← {nick} quit</span>',
    "nick": '<span class="event">{nick} is now known as {text}</span>',
    "topic": '<span class="event">{nick} set the topic: {text}</span>',
    "kick": '<span class="event">{nick} kicked {text}</span>',
    "mode": '<span class="event">{nick} set mode {text}</span>',
}

TEXT_FORMATS = {
    "message": "<{nick}> {text}",
    "action": "* {nick} {text}",
    "notice": "-{nick}- {text}",
    "join": "--> {nick} joined",
    "part": "<-- {nick} left ({text})",
    "quit": "<-- {nick} quit ({text})",
    "part-bare": "<-- {nick} left",
    "quit-bare": "<-- {nick} quit",
    "nick": "--- {nick} is now known as {text}",
    "topic": "--- {nick} set the topic: {text}",
    "kick": "<-- {nick} kicked {text}",
    "mode": "--- {nick} set mode {text}",
}


def present(row: LogLine) -> Line:
    """Show a row as read through the policy (botadmin.policy), redacted or not."""
    if row.redacted:
        return Line(row.id, row.time, row.nick, row.kind, row.text, "", True)
    return Line(row.id, row.time, plain(row.nick), row.kind, plain(row.text), row.msgid, False)
