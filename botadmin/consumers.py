"""Live tail of a channel's log over a WebSocket.

The database is the source of truth and ids give the order: the consumer keeps a cursor
(the last line id it sent) and sends the lines after it, in id order, each exactly once.
A ``log.line`` event from the bot on the channel layer is only a hint to read now, rung
once the lines are stored (LogWriter publishes after each batch is written, so the read
finds them); without a cross-process layer (the embedded default) the consumer reads
every ``poll_interval`` anyway. A browser that reconnects passes ``?after=<last id>``
and misses nothing.

Messages sent: {"type": "lines", "lines": [{"id", "time", "nick", "kind", "html"}]}.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth.models import AnonymousUser

from botadmin.live import log_group
from botadmin.models import Channel, LogLine
from botadmin.policy import Reader
from botadmin.views.lines import present

# Close codes in the private-use range: the client does not retry these.
NOT_FOUND = 4404


def readable(user: Reader, channel_id: int) -> Channel | None:
    return Channel.objects.readable_by(user).filter(pk=channel_id).first()


def latest_id() -> int:
    return LogLine.objects.order_by("-id").values_list("id", flat=True).first() or 0


def lines_after(user: Reader, channel_id: int, cursor: int, limit: int) -> list[dict] | None:
    """Return the next lines as the client shows them; None once user may not read them."""
    if readable(user, channel_id) is None:
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
                await self.close(code=NOT_FOUND)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_interval)
            self.wake.clear()

    async def send_new_lines(self) -> bool:
        """Send everything after the cursor; False when the channel became unreadable."""
        while True:
            lines = await database_sync_to_async(lines_after)(
                self.user, self.channel_id, self.cursor, self.batch_size
            )
            if lines is None:
                return False
            if lines:
                await self.send_json({"type": "lines", "lines": lines})
                self.cursor = lines[-1]["id"]
            if len(lines) < self.batch_size:
                return True
