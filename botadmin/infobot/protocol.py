"""IRC wire format, sans I/O: decoding, parsing, folding, splitting.

Parsing leans on jaraco's ``irc`` pieces (``irc.message.Tag``/``Arguments``,
``irc.client.NickMask``) and decoding on ``jaraco.stream``'s lenient rule (UTF-8,
else latin-1), so a badly encoded line is still read, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from irc.client import NickMask
from irc.message import Arguments, Tag

# RFC 1459 section 2.3.1 plus IRCv3 tags: "@tags :prefix COMMAND params".
_LINE = re.compile(r"^(?:@(?P<tags>\S*) +)?(?::(?P<prefix>\S+) +)?(?P<command>\S+)(?P<args> .*)?$")
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
# RFC 1459/2812 cap the whole line, CR LF included.
MAX_LINE_BYTES = 512
CHANNEL_PREFIXES = "#&+!"


@dataclass(frozen=True)
class Message:
    """One parsed IRC line."""

    command: str
    params: list[str] = field(default_factory=list)
    source: NickMask | None = None
    tags: dict[str, str | None] = field(default_factory=dict)

    @property
    def nick(self) -> str | None:
        return self.source.nick if self.source else None

    def param(self, index: int, default: str = "") -> str:
        return self.params[index] if len(self.params) > index else default


def decode(raw: bytes) -> str:
    """Decode a line the way jaraco.stream's LenientDecodingLineBuffer does."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse(line: str) -> Message | None:
    """Parse one line (without CR LF); None for a line that is not IRC at all."""
    match = _LINE.match(line.strip("\r\n"))
    if match is None:
        return None
    tags = {item["key"]: item["value"] for item in Tag.from_group(match["tags"]) or ()}
    return Message(
        command=match["command"].upper(),
        params=list(Arguments.from_group(match["args"])),  # keeps the leading space it needs
        source=NickMask.from_group(match["prefix"]),
        tags=tags,
    )


def fold(name: str) -> str:
    """RFC 1459 case folding, the mapping most networks still announce."""
    return name.translate(_FOLD)


def is_channel(target: str | None) -> bool:
    return bool(target) and target[0] in CHANNEL_PREFIXES


def server_time(tags: dict[str, str | None]) -> datetime:
    """Return the IRCv3 server-time of a line, else the local UTC clock."""
    stamp = tags.get("time")
    if stamp:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(UTC)


def split_text(text: str, max_bytes: int) -> list[str]:
    """Cut text into pieces of at most max_bytes UTF-8 bytes each.

    Cuts prefer a space and never fall inside a UTF-8 sequence; newlines always cut,
    since a raw CR or LF would end the IRC line early.
    """
    pieces: list[str] = []
    for paragraph in text.replace("\r", "\n").split("\n"):
        pieces.extend(_split_paragraph(paragraph.encode("utf-8"), max(max_bytes, 4)))
    return [piece for piece in pieces if piece] or [""]


def _split_paragraph(data: bytes, max_bytes: int) -> list[str]:
    pieces = []
    while len(data) > max_bytes:
        cut = max_bytes
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: back up to the lead byte
            cut -= 1
        space = data.rfind(b" ", 0, cut + 1)
        if space > max_bytes // 2:
            cut = space
        pieces.append(data[:cut].decode("utf-8"))
        data = data[cut:].lstrip(b" ")
    pieces.append(data.decode("utf-8"))
    return pieces
