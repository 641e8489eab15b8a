"""Which pages may open a WebSocket: this site (scheme, host and port) or a trusted origin.

The check Django's CSRF protection makes for a POST. Before it, only the host was
compared, so a page on another port or over plain HTTP could open a signed-in reader's
private tail.
"""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from appliance.asgi import application
from botadmin.models import Channel, Network

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tail_path() -> str:
    network = Network.objects.create(name="libera", host="irc.example.org")
    return f"/ws/logs/{Channel.objects.create(network=network, name='#python').pk}/"


async def opens(path: str, origin: str, host: str, *extra: tuple[bytes, bytes]) -> bool:
    headers = [(b"origin", origin.encode()), (b"host", host.encode()), *extra]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


async def test_the_sites_own_origin_is_accepted(tail_path):
    assert await opens(tail_path, "http://localhost:8000", "localhost:8000")
    assert await opens(tail_path, "http://127.0.0.1", "127.0.0.1")


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:9999",  # another port: another site
        "https://localhost:8000",  # another scheme
        "http://evil.example",
        "null",
    ],
)
async def test_another_origin_is_refused(tail_path, origin):
    assert not await opens(tail_path, origin, "localhost:8000")


async def test_no_origin_and_a_host_not_allowed_are_refused(tail_path):
    communicator = WebsocketCommunicator(application, tail_path, headers=[(b"host", b"localhost")])
    assert (await communicator.connect())[0] is False
    assert not await opens(tail_path, "http://evil.example", "evil.example")


async def test_behind_a_tls_proxy_the_origin_is_https(tail_path, settings):
    settings.ALLOWED_HOSTS = ["logs.example.org"]
    proxied = (b"x-forwarded-proto", b"https")
    assert await opens(tail_path, "https://logs.example.org", "logs.example.org", proxied)
    assert not await opens(tail_path, "http://logs.example.org", "logs.example.org", proxied)
    assert not await opens(tail_path, "https://logs.example.org", "logs.example.org")


async def test_csrf_trusted_origins_are_accepted_by_scheme_host_and_port(tail_path, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://admin.example.org", "https://*.example.net"]
    assert await opens(tail_path, "https://admin.example.org", "localhost")
    assert await opens(tail_path, "https://logs.example.net", "localhost")
    assert not await opens(tail_path, "http://admin.example.org", "localhost")
    assert not await opens(tail_path, "https://admin.example.org:8443", "localhost")
    assert not await opens(tail_path, "http://logs.example.net", "localhost")
