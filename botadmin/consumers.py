"""Live tail of a channel's log over a WebSocket.

The database is the source of truth and ids give the order: the consumer keeps a cursor
(the last line id it sent) and sends the lines after it, in id order, each exactly once.
A ``log.line`` event from the bot on the channel layer is only a hint to read now, rung
once the lines are stored (LogWriter publishes after each batch is written, so the read
finds them); without a cross-process layer (the embedded default) the consumer reads
every ``poll_interval`` anyway. A browser that reconnects passes ``?after=<last id>``
and misses nothing.

The reader is read again from the session on every read (every delivery, and at least
every ``poll_interval``): signing out, being deactivated, a password change (which ends
the session elsewhere) or losing staff or a grant ends a private tail within a second,
closed with ACCESS_ENDED, which the page explains.

Messages sent: {"type": "lines", "lines": [{"id", "time", "nick", "kind", "html"}]}, and
{"type": "drop", "ids": [...]} for lines shown that were deleted since (a REDACT from the
server, a retention or erasure run): the page removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser

from botadmin.live import log_group
from botadmin.models import Channel, LogLine
from botadmin.policy import Reader
from botadmin.views.lines import present

# Close codes in the private-use range: the client does not retry these.
NOT_FOUND = 4404
ACCESS_ENDED = 4403  # the signed-in reader signed out or lost access meanwhile
RECENT = 500  # lines shown that are checked for deletion


def readable(user: Reader, channel_id: int) -> Channel | None:
    return Channel.objects.readable_by(user).filter(pk=channel_id).first()


def current_reader(scope: dict) -> Reader:
    """Read the reader as the session says now, as Django's auth does for each request.

    A session signed out or flushed by a password change gives the anonymous reader, and
    so does a user deactivated since (the backend refuses them). Without a session (a
    scope given a user directly), the user is read again from the database.
    """
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(key)
        return auth.get_user(SimpleNamespace(session=store))
    user = scope.get("user") or AnonymousUser()
    if not user.is_authenticated:
        return user
    fresh = type(user)._default_manager.filter(pk=user.pk, is_active=True).first()
    return fresh or AnonymousUser()


def gone(ids: list[int]) -> list[int]:
    """Return which of these shown lines no longer exist."""
    found = set(LogLine.objects.filter(id__in=ids).values_list("id", flat=True))
    return [line_id for line_id in ids if line_id not in found]


def latest_id() -> int:
    return LogLine.objects.order_by("-id").values_list("id", flat=True).first() or 0


def lines_after(scope: dict, channel_id: int, cursor: int, limit: int) -> list[dict] | None:
    """Return the next lines as the client shows them; None once the reader may not read them."""
    if readable(current_reader(scope), channel_id) is None:
        return None
    rows = LogLine.objects.redacted().filter(channel_id=channel_id, id__gt=cursor)
    lines = []
    for row in rows.order_by("id")[:limit]:
        line = present(row)
        lines.append(
            {
                "id": line.id,
                "time": line.time.isoformat(),
                "nick": line.nick,
                "kind": line.kind,
                "html": line.row(),
            }
        )
    return lines


def start_cursor(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("after", [])
    try:
        return max(0, int(values[-1])) if values else None
    except ValueError:
        return None


class LogTailConsumer(AsyncJsonWebsocketConsumer):
    poll_interval = 1.0
    batch_size = 200

    async def connect(self) -> None:
        self.channel_id = int(self.scope["url_route"]["kwargs"]["channel_id"])
        self.user = self.scope.get("user") or AnonymousUser()
        channel = await database_sync_to_async(readable)(self.user, self.channel_id)
        if channel is None:
            await self.close(code=NOT_FOUND)
            return
        cursor = start_cursor(self.scope.get("query_string", b""))
        self.cursor = cursor if cursor is not None else await database_sync_to_async(latest_id)()
        self.wake = asyncio.Event()
        self.shown: deque[int] = deque(maxlen=RECENT)
        self.group = log_group(channel.network.name, channel.name)
        if self.channel_layer is not None:
            await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.follower = asyncio.create_task(self.follow())

    async def disconnect(self, code: int) -> None:
        follower = getattr(self, "follower", None)
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        if getattr(self, "group", None) and self.channel_layer is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def log_line(self, event: dict) -> None:
        """Read from the cursor now rather than at the next poll: the bot wrote a line here."""
        self.wake.set()

    async def follow(self) -> None:
        while True:
            if not await self.send_new_lines():
                await self.close(code=ACCESS_ENDED if self.user.is_authenticated else NOT_FOUND)
                return
            await self.drop_deleted()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_interval)
            self.wake.clear()

    async def send_new_lines(self) -> bool:
        """Send everything after the cursor; False when the channel became unreadable."""
        while True:
            lines = await database_sync_to_async(lines_after)(
                self.scope, self.channel_id, self.cursor, self.batch_size
            )
            if lines is None:
                return False
            if lines:
                await self.send_json({"type": "lines", "lines": lines})
                self.cursor = lines[-1]["id"]
                self.shown.extend(line["id"] for line in lines)
            if len(lines) < self.batch_size:
                return True

    async def drop_deleted(self) -> None:
        """Tell the page to remove the lines it shows that were deleted since."""
        if not self.shown:
            return
        ids = await database_sync_to_async(gone)(list(self.shown))
        if ids:
            await self.send_json({"type": "drop", "ids": ids})
            for line_id in ids:
                self.shown.remove(line_id)
