"""A private live tail ends when its reader's access does, and drops lines deleted since.

Through the session middleware with a real session cookie, as a browser connects: before
this, an open tail kept streaming a private channel after its reader signed out, was
deactivated, changed password or lost staff.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.test import Client

from botadmin.consumers import ACCESS_ENDED, LogTailConsumer
from botadmin.models import Channel, LogLine, Network
from botadmin.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 5  # seconds; a guard against hanging, not a measure


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setattr(LogTailConsumer, "poll_interval", 0.05)


@pytest.fixture
def private() -> Channel:
    network = Network.objects.create(name="libera", host="irc.example.org")
    return Channel.objects.create(network=network, name="#staff", public=False)


def signed_in(username: str = "boss") -> tuple[Client, object]:
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    client = Client()
    # django-axes needs the request that signs in.
    assert client.login(request=HttpRequest(), username=username, password="pw")
    return client, user


async def open_tail(channel: Channel, client: Client) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
        f"/ws/logs/{channel.pk}/",
        headers=[(b"cookie", cookie)],
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def add_line(channel: Channel, text: str) -> LogLine:
    return LogLine.objects.create(
        channel=channel, time=datetime.now(UTC), nick="alice", kind="message", text=text
    )


def log_out(client: Client, user) -> None:
    client.logout()


def deactivate(client: Client, user) -> None:
    type(user).objects.filter(pk=user.pk).update(is_active=False)


def change_password(client: Client, user) -> None:
    user.set_password("another")  # elsewhere: this session's hash no longer matches
    user.save()


def lose_staff(client: Client, user) -> None:
    type(user).objects.filter(pk=user.pk).update(is_staff=False)


@pytest.mark.parametrize("change", [log_out, deactivate, change_password, lose_staff])
async def test_a_private_tail_closes_when_the_readers_access_ends(private, change):
    client, user = await sync_to_async(signed_in)()
    communicator = await open_tail(private, client)
    first = await sync_to_async(add_line)(private, "before")
    message = await communicator.receive_json_from(timeout=WAIT)
    assert [line["id"] for line in message["lines"]] == [first.pk]
    await sync_to_async(change)(client, user)
    await sync_to_async(add_line)(private, "after: not for them")
    assert await communicator.receive_output(timeout=WAIT) == {
        "type": "websocket.close",
        "code": ACCESS_ENDED,
    }


async def test_a_tail_goes_on_while_the_reader_keeps_access(private):
    client, _ = await sync_to_async(signed_in)()
    other, _ = await sync_to_async(signed_in)("other")
    communicator = await open_tail(private, client)
    await sync_to_async(other.logout)()  # someone else signing out changes nothing here
    line = await sync_to_async(add_line)(private, "still here")
    message = await communicator.receive_json_from(timeout=WAIT)
    assert [entry["id"] for entry in message["lines"]] == [line.pk]
    await communicator.disconnect()


async def test_a_line_deleted_after_it_was_shown_is_dropped_from_the_page(private):
    client, _ = await sync_to_async(signed_in)()
    communicator = await open_tail(private, client)
    spam = await sync_to_async(add_line)(private, "spam")
    await communicator.receive_json_from(timeout=WAIT)
    await sync_to_async(LogLine.objects.filter(pk=spam.pk).delete)()
    assert await communicator.receive_json_from(timeout=WAIT) == {"type": "drop", "ids": [spam.pk]}
    await communicator.disconnect()
