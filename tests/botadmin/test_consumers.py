"""The live tail: lines arrive in id order, once each, resumable, never from a private channel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from botadmin.bridge import DatabaseLogSink
from botadmin.consumers import NOT_FOUND, LogTailConsumer
from botadmin.infobot.logwriter import LogRecord, LogWriter
from botadmin.live import log_group
from botadmin.models import Channel, LogLine, Network, RedactedNick
from botadmin.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5  # seconds; generous for a loaded machine, the lines usually come in milliseconds


@pytest.fixture
def fast_polls(monkeypatch):
    monkeypatch.setattr(LogTailConsumer, "poll_interval", 0.05)


@pytest.fixture
def channel() -> Channel:
    network = Network.objects.create(name="libera", host="irc.example.org")
    return Channel.objects.create(network=network, name="#python")


def add_line(channel: Channel, text: str, nick: str = "alice") -> LogLine:
    return LogLine.objects.create(
        channel=channel, time=datetime.now(UTC), nick=nick, kind="message", text=text
    )


async def open_tail(channel: Channel, after: int | None = None, user=None):
    query = "" if after is None else f"?after={after}"
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/logs/{channel.pk}/{query}"
    )
    communicator.scope["user"] = user or AnonymousUser()
    connected, code = await communicator.connect()
    return communicator, connected, code


async def receive_ids(communicator, count: int) -> list[int]:
    ids: list[int] = []
    while len(ids) < count:
        message = await communicator.receive_json_from(timeout=WAIT)
        assert message["type"] == "lines"
        ids.extend(line["id"] for line in message["lines"])
    return ids


async def test_a_new_line_arrives(fast_polls, channel):
    communicator, connected, _ = await open_tail(channel)
    assert connected
    line = await sync_to_async(add_line)(channel, "<b>fresh</b>")
    message = await communicator.receive_json_from(timeout=WAIT)
    assert [entry["id"] for entry in message["lines"]] == [line.pk]
    assert "&lt;b&gt;fresh&lt;/b&gt;" in message["lines"][0]["html"]
    assert f'id="l{line.pk}"' in message["lines"][0]["html"]
    await communicator.disconnect()


async def test_a_push_on_the_channel_layer_wakes_the_tail_at_once(monkeypatch, channel):
    monkeypatch.setattr(LogTailConsumer, "poll_interval", 3600)
    communicator, _, _ = await open_tail(channel)
    await communicator.receive_nothing(0.2)  # the first read from the cursor is done
    line = await sync_to_async(add_line)(channel, "pushed")
    await get_channel_layer().group_send(
        log_group("libera", "#PYTHON"), {"type": "log.line", "text": "pushed"}
    )
    assert await receive_ids(communicator, 1) == [line.pk]
    await communicator.disconnect()


def ring_like_the_worker(rings: list[asyncio.Task]):
    """Make a LogWriter publish hook that announces on the channel layer, as the worker does."""

    def publish(record: LogRecord) -> None:
        group = log_group(record.network, record.channel)
        rings.append(
            asyncio.create_task(get_channel_layer().group_send(group, {"type": "log.line"}))
        )

    return publish


async def test_a_line_written_by_the_bot_wakes_the_tail_once_it_is_stored(monkeypatch, channel):
    # No polling to fall back on: only a ring after the write can deliver the line.
    monkeypatch.setattr(LogTailConsumer, "poll_interval", 3600)
    communicator, _, _ = await open_tail(channel)
    await communicator.receive_nothing(0.2)  # the first read from the cursor is done
    rings: list[asyncio.Task] = []
    writer = LogWriter(DatabaseLogSink(), ring_like_the_worker(rings), interval=3600)
    writer.add(LogRecord("libera", "#python", datetime.now(UTC), "alice", "message", "via bot"))
    # The writer stores in batches, later: a ring now would find nothing and be spent.
    await communicator.receive_nothing(0.2)
    assert await writer.flush()
    message = await communicator.receive_json_from(timeout=WAIT)
    assert [line["nick"] for line in message["lines"]] == ["alice"]
    assert "via bot" in message["lines"][0]["html"]
    await asyncio.gather(*rings)
    await communicator.disconnect()


async def test_it_resumes_after_the_given_line_without_gaps_or_repeats(fast_polls, channel):
    lines = [await sync_to_async(add_line)(channel, f"line {i}") for i in range(5)]
    communicator, _, _ = await open_tail(channel, after=lines[1].pk)
    assert await receive_ids(communicator, 3) == [line.pk for line in lines[2:]]
    newer = await sync_to_async(add_line)(channel, "line 5")
    assert await receive_ids(communicator, 1) == [newer.pk]
    assert await communicator.receive_nothing(0.3)
    await communicator.disconnect()


async def test_a_backlog_bigger_than_a_batch_arrives_whole_and_in_order(
    fast_polls, monkeypatch, channel
):
    monkeypatch.setattr(LogTailConsumer, "batch_size", 4)
    lines = [await sync_to_async(add_line)(channel, f"line {i}") for i in range(10)]
    communicator, _, _ = await open_tail(channel, after=0)
    assert await receive_ids(communicator, 10) == [line.pk for line in lines]
    await communicator.disconnect()


async def test_without_a_cursor_only_new_lines_are_sent(fast_polls, channel):
    await sync_to_async(add_line)(channel, "old")
    communicator, _, _ = await open_tail(channel)
    new = await sync_to_async(add_line)(channel, "new")
    assert await receive_ids(communicator, 1) == [new.pk]
    await communicator.disconnect()


async def test_only_this_channels_lines_are_sent(fast_polls, channel):
    other = await sync_to_async(Channel.objects.create)(network=channel.network, name="#other")
    communicator, _, _ = await open_tail(channel)
    await sync_to_async(add_line)(other, "elsewhere")
    mine = await sync_to_async(add_line)(channel, "here")
    assert await receive_ids(communicator, 1) == [mine.pk]
    await communicator.disconnect()


async def test_a_private_channel_refuses_anonymous_and_ungranted_readers(
    fast_polls, channel, django_user_model
):
    channel.public = False
    await sync_to_async(channel.save)()
    user = await sync_to_async(django_user_model.objects.create_user)("viewer", password="pw")
    for reader in (AnonymousUser(), user):
        _, connected, code = await open_tail(channel, user=reader)
        assert (connected, code) == (False, NOT_FOUND)


async def test_a_private_channel_tails_for_staff(fast_polls, channel, django_user_model):
    channel.public = False
    await sync_to_async(channel.save)()
    staff = await sync_to_async(django_user_model.objects.create_user)(
        "boss", password="pw", is_staff=True
    )
    communicator, connected, _ = await open_tail(channel, user=staff)
    assert connected
    await communicator.disconnect()


async def test_a_channel_made_private_during_the_tail_closes_it(fast_polls, channel):
    communicator, connected, _ = await open_tail(channel)
    assert connected
    await sync_to_async(Channel.objects.filter(pk=channel.pk).update)(public=False)
    await sync_to_async(add_line)(channel, "now secret")
    output = await communicator.receive_output(timeout=WAIT)
    assert output == {"type": "websocket.close", "code": NOT_FOUND}


async def test_a_redacted_nick_is_redacted_in_the_tail(fast_polls, channel):
    await sync_to_async(RedactedNick.objects.create)(
        network=channel.network, nick="mallory", display_nick="Mallory"
    )
    communicator, _, _ = await open_tail(channel)
    await sync_to_async(add_line)(channel, "my secret", nick="Mallory")
    message = await communicator.receive_json_from(timeout=WAIT)
    assert "my secret" not in message["lines"][0]["html"]
    assert "[redacted]" in message["lines"][0]["html"]
    await communicator.disconnect()
