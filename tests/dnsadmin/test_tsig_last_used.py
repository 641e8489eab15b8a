"""A TSIG key's last use is noted when it signs a NOTIFY, in or out, as when it signs an update
(transfers: test_ixfr_out_bind.py out, test_secondary_bind.py in), to the minute: a burst of
messages writes it once."""

from __future__ import annotations

import asyncio
import datetime
import socket
import threading

import dns.message
import dns.name
import dns.opcode
import dns.rcode

from dnsadmin.models import SecondaryZone, TsigKey
from dnsadmin.names.notify import Target
from dnsadmin.updates import keyring
from dnsadmin.worker import notify_noted
from tests.dnsadmin.test_secondary import ORIGIN, loaded, notify
from tests.dnsadmin.test_update_nsupdate import manage

__all__ = ["loaded"]  # a fixture


def last_used() -> datetime.datetime | None:
    return TsigKey.objects.get().last_used


def test_a_signed_notify_from_the_primary_notes_its_key_once_a_minute(loaded):
    manage("tsig", "add", "xfr")
    SecondaryZone.objects.update(tsig_key=TsigKey.objects.get())
    assert notify(ORIGIN, "127.0.0.1").rcode() == dns.rcode.REFUSED  # unsigned: no use
    assert last_used() is None and "never used" in manage("tsig", "list")
    key = next(iter(keyring().values()))
    assert notify(ORIGIN, "127.0.0.1", key=key).rcode() == dns.rcode.NOERROR
    first = last_used()
    assert first is not None and "never used" not in manage("tsig", "list")
    assert notify(ORIGIN, "127.0.0.1", key=key).rcode() == dns.rcode.NOERROR
    assert last_used() == first  # noted to the minute: the second one wrote nothing


class Secondary:
    """A secondary on loopback that answers each NOTIFY with ``rcode``, its answer signed
    with the key the NOTIFY was signed with."""

    def __init__(self, rcode: int) -> None:
        self.rcode = rcode
        self.keys = keyring()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, client = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data, keyring=self.keys)
            response = dns.message.make_response(query)
            response.set_rcode(self.rcode)
            assert response.opcode() == dns.opcode.NOTIFY
            self.socket.sendto(response.to_wire(), client)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.socket.close()


def test_a_signed_notify_a_secondary_acknowledged_notes_its_key(transactional_db):
    manage("tsig", "add", "xfr")
    secondary = Secondary(dns.rcode.NOERROR)
    try:
        target = Target("127.0.0.1", secondary.port, "xfr")
        origin = dns.name.from_text(ORIGIN)
        asyncio.run(notify_noted(origin, None, [target], keyring()))
    finally:
        secondary.close()
    assert last_used() is not None


def test_a_notify_no_secondary_acknowledged_notes_nothing(transactional_db):
    manage("tsig", "add", "xfr")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # it reads nothing: every try times out
    try:
        target = Target("127.0.0.1", silent.getsockname()[1], "xfr")
        origin = dns.name.from_text(ORIGIN)
        asyncio.run(notify_noted(origin, None, [target], keyring(), timeout=0.05, attempts=2))
    finally:
        silent.close()
    assert last_used() is None
