"""DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018).

A query carrying a COOKIE option gets a server cookie in its answer: version 1, three reserved
bytes, a timestamp, and SipHash-2-4 keyed with the server secret over the client cookie, those
eight bytes and the client's address, so that every server sharing the secret (several
``rundns`` workers, an anycast set of any make) accepts the cookies of the others. A server
cookie presented back is valid for an hour (and five minutes ahead, for clocks that differ);
a valid one spares the client the rate limits (rrl.py), as NSD does. An invalid one is answered
as if only the client cookie had been sent, with a fresh server cookie, as BIND does; a
malformed option (a client cookie that is not 8 bytes, or a total outside 16 to 40) earns
FORMERR, as from BIND.

The server takes the option out of the query before the resolver chain sees it, so that answers
stay shareable in the rendered-answer memo, and puts the cookie into the response's OPT record
after (``Cookies.take``, ``Cookies.add``): bytes in, bytes out.
"""

from __future__ import annotations

import hmac
import os
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from siphashc import siphash

from .wire import MIN_PAYLOAD, OUR_PAYLOAD

COOKIE = 10  # the EDNS option code
OPT = 41
CLIENT_SIZE = 8
SERVER_SIZE = 16  # what we hand out (RFC 9018); others' may be 8 to 32 bytes
MIN_SERVER, MAX_SERVER = 8, 32
VERSION = b"\x01\x00\x00\x00"  # version 1 and the reserved bytes, zero when we make one
MAX_AGE = 3600  # RFC 9018 4.3: seconds a server cookie stays valid
MAX_AHEAD = 300  # and how far in the future its timestamp may be
SECRET_SIZE = 16
OPTION_HEADER = struct.Struct("!HH")
RR_FIXED = struct.Struct("!HHIH")
COUNTS = struct.Struct("!HHHH")
# What the option adds to a response: the room the answer must leave for it.
ROOM = OPTION_HEADER.size + CLIENT_SIZE + SERVER_SIZE
EMPTY_OPT_END = b"\x00\x00"  # an OPT record ending the message with no options


class Malformed:
    """Stand for a malformed COOKIE option, which earns FORMERR."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MALFORMED"


MALFORMED = Malformed()


@dataclass(frozen=True, slots=True)
class Cookie:
    """The cookie a query carried: the client's part, whether our server cookie came back
    valid, the client's address (packed), and the UDP size the client takes."""

    client: bytes
    valid: bool
    address: bytes
    payload: int


class Cookies:
    """Makes and checks server cookies; secrets[0] makes them, any of secrets checks them
    (a secret being rolled over: the old one is kept for an hour)."""

    def __init__(self, secrets: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not secrets or any(len(secret) != SECRET_SIZE for secret in secrets):
            raise ValueError(f"cookie secrets are {SECRET_SIZE} bytes (32 hex digits) each")
        self.secrets = tuple(secrets)
        self.clock = clock

    def server_cookie(self, client: bytes, address: bytes, now: int) -> bytes:
        """Return our server cookie for client cookie and address at now (Unix seconds)."""
        head = VERSION + (now & 0xFFFFFFFF).to_bytes(4, "big")
        return head + _hash(self.secrets[0], client + head + address)

    def valid(self, client: bytes, server: bytes, address: bytes) -> bool:
        """Tell whether server is a cookie we (or a server sharing a secret) made for client
        cookie and address, less than an hour ago."""
        if len(server) != SERVER_SIZE or server[0] != 1:
            return False
        # RFC 1982 serial arithmetic: the timestamp wraps in 2106.
        age = (int(self.clock()) - int.from_bytes(server[4:8], "big")) & 0xFFFFFFFF
        if age >= 1 << 31:
            age -= 1 << 32
        if not -MAX_AHEAD <= age <= MAX_AGE:
            return False
        data = client + server[:8] + address
        return any(hmac.compare_digest(_hash(s, data), server[8:]) for s in self.secrets)

    def take(self, query: bytes, client: str) -> tuple[bytes, Cookie | None] | Malformed:
        """Return query without its COOKIE options and the cookie it carried (None when it
        carried none), or MALFORMED.

        The query taken apart asks for ROOM bytes less of UDP payload, so that the answer
        rendered for it leaves room for the cookie. A query whose records cannot be walked is
        returned as it is, for the resolver chain to answer FORMERR.
        """
        if query[-11:-8] == b"\x00\x00\x29" and query[-2:] == EMPTY_OPT_END:
            return query, None  # the common case: EDNS without options, and it is last
        found = _find_opt(query)
        if found is None:
            return query, None
        record, start, end = found
        options, cookies = [], []
        position = start
        while position + 4 <= end:
            code, length = OPTION_HEADER.unpack_from(query, position)
            following = position + 4 + length
            if following > end:
                return query, None  # bad framing: the chain answers FORMERR
            if code == COOKIE:
                cookies.append(query[position + 4 : following])
            else:
                options.append(query[position:following])
            position = following
        if not cookies:
            return query, None
        if any(not _well_formed(cookie) for cookie in cookies):
            return MALFORMED
        return self._taken(query, record, start, end, b"".join(options), cookies[0], client)

    def _taken(self, query, record, start, end, options, option, client) -> tuple[bytes, Cookie]:
        payload = int.from_bytes(query[record + 3 : record + 5], "big")
        smaller = max(0, min(payload, OUR_PAYLOAD) - ROOM).to_bytes(2, "big")
        without = b"".join(
            (
                query[: record + 3],
                smaller,
                query[record + 5 : start - 2],
                len(options).to_bytes(2, "big"),
                options,
                query[end:],
            )
        )
        address = _packed(client)
        valid = len(option) == CLIENT_SIZE + SERVER_SIZE and self.valid(
            option[:CLIENT_SIZE], option[CLIENT_SIZE:], address
        )
        return without, Cookie(option[:CLIENT_SIZE], valid, address, max(payload, MIN_PAYLOAD))

    def add(self, response: bytes, cookie: Cookie, *, tcp: bool = False) -> bytes:
        """Return response with a fresh server cookie for the client in its OPT record; over
        UDP, cut to the question and TC set if the cookie would make it too big for the
        client. A response without an OPT record is returned as it is."""
        server = self.server_cookie(cookie.client, cookie.address, int(self.clock()))
        option = b"\x00\x0a\x00\x18" + cookie.client + server
        if response[-11:-8] == b"\x00\x00\x29" and response[-2:] == EMPTY_OPT_END:
            with_cookie = response[:-2] + len(option).to_bytes(2, "big") + option
        else:
            found = _find_opt(response)
            if found is None:
                return response
            _, start, end = found
            length = (end - start + len(option)).to_bytes(2, "big")
            with_cookie = response[: start - 2] + length + response[start:end] + option
            with_cookie += response[end:]
        if tcp or len(with_cookie) <= cookie.payload:
            return with_cookie
        return _truncated(with_cookie)


def _well_formed(option: bytes) -> bool:
    """RFC 7873 5.2.2: a client cookie alone, or followed by a server cookie of 8 to 32."""
    return len(option) == CLIENT_SIZE or (
        CLIENT_SIZE + MIN_SERVER <= len(option) <= CLIENT_SIZE + MAX_SERVER
    )


def _hash(secret: bytes, data: bytes) -> bytes:
    return siphash(secret, data).to_bytes(8, "little")


def _packed(client: str) -> bytes:
    if ":" in client:
        return socket.inet_pton(socket.AF_INET6, client.partition("%")[0])
    return socket.inet_aton(client)


def _find_opt(message: bytes) -> tuple[int, int, int] | None:
    """Return where the OPT record starts, and where its data starts and ends; None when the
    message has none or cannot be walked."""
    try:
        qdcount, ancount, nscount, arcount = COUNTS.unpack_from(message, 4)
        position = 12
        for _ in range(qdcount):
            position = _skip_name(message, position) + 4
        for index in range(ancount + nscount + arcount):
            record = position
            position = _skip_name(message, position)
            rdtype, _, _, rdlength = RR_FIXED.unpack_from(message, position)
            position += RR_FIXED.size
            if position + rdlength > len(message):
                return None
            if rdtype == OPT and index >= ancount + nscount and record + 1 == position - 10:
                return record, position, position + rdlength
            position += rdlength
    except (IndexError, struct.error):
        return None
    return None


def _skip_name(message: bytes, position: int) -> int:
    while True:
        length = message[position]
        if length >= 0xC0:
            return position + 2
        if length > 63:
            raise IndexError("unknown label type")
        position += length + 1
        if length == 0:
            return position


def _truncated(response: bytes) -> bytes:
    """Return response cut to its question and its OPT record, TC set (RFC 7873 5.4: the
    cookie is worth more than records the client can have over TCP)."""
    _, start, end = _find_opt(response)
    question_end = _skip_name(response, 12) + 4
    opt = response[start - 11 : end]
    header = response[:2] + bytes([response[2] | 0x02, response[3]])
    return header + b"\x00\x01\x00\x00\x00\x00\x00\x01" + response[12:question_end] + opt


def load_secrets(configured: Sequence[str], path: Path) -> list[bytes]:
    """Return the cookie secrets: the configured ones (hex, the first making cookies), else
    the one in path, created the first time (readable by its owner only) and shared by every
    worker that reads the same file."""
    if configured:
        try:
            secrets = [bytes.fromhex(text) for text in configured]
        except ValueError:
            raise ValueError("cookie secrets are written in hex (32 digits each)") from None
        if any(len(secret) != SECRET_SIZE for secret in secrets):
            raise ValueError("cookie secrets are 16 bytes (32 hex digits) each")
        return secrets
    if not path.exists():
        _create_secret(path)
    return load_secrets([path.read_text().strip()], path)


def _create_secret(path: Path) -> None:
    """Write a new secret to path unless another process got there first (a link is atomic:
    nobody ever reads a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(os.urandom(SECRET_SIZE).hex() + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another worker made it: theirs is the one
    finally:
        draft.unlink()
