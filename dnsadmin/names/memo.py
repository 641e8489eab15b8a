"""The one rendered-answer cache: responses worked out once, sent again for the same question.

Every answer the chain can send again (from our zones, from the cache, a REFUSED) is kept here
as bytes without its ID, by the kind of client and transport it was made for and the question;
a repeated question costs a dict lookup and a concatenation. Answers from the cache keep the
offsets of their TTLs and are counted down once a second.

One invalidation scheme: an answer is indexed by the names it was made of, and new data or a
negative answer at one of them retires it (``forget``); a zone change or a flush drops every
answer (``clear``). Two budgets (entries and bytes) bound it, a separate one for negative
answers, so that a flood of questions for random names cannot push the useful answers out.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import dns.name

from . import wire
from .zone import Key, lower_labels

FOREVER = float("inf")  # an answer from our zones stays right until the zones change
TTL = struct.Struct("!I")
RR_FIXED = struct.Struct("!HHIH")
# A question gets a different answer by transport and by whether the client may recurse
# (which sets RA, and lets the cache answer): the bits of its kind.
TCP, RECURSIVE = 1, 2
UDP, UDP_RECURSIVE = 0, RECURSIVE


def flavour(*, tcp: bool, recursive: bool) -> int:
    """Return the kind of answer a client gets: by transport, and whether it may recurse."""
    return (RECURSIVE if recursive else 0) | (TCP if tcp else 0)


class Sized(Protocol):
    size: int
    expires: float

    @property
    def names(self) -> tuple[Key, ...]: ...


V = TypeVar("V", bound=Sized)


class Budget(Generic[V]):
    """Values in insertion order, bounded in number and in bytes (the oldest go first), and
    indexed by the names they depend on, so forgetting one name needs no scan."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: dict[Hashable, V] = {}
        self.by_name: dict[Key, set[Hashable]] = {}
        self.bytes = 0

    def put(self, key: Hashable, value: V) -> None:
        """Keep value under key, dropping the oldest values until it fits."""
        self.pop(key)
        while self.entries and (
            len(self.entries) >= self.max_entries or self.bytes + value.size > self.max_bytes
        ):
            self.pop(next(iter(self.entries)))
        if value.size <= self.max_bytes and self.max_entries > 0:
            self.entries[key] = value
            self.bytes += value.size
            for labels in value.names:
                self.by_name.setdefault(labels, set()).add(key)

    def get(self, key: Hashable, now: float) -> V | None:
        """Return the value under key unless it has expired (then it is dropped)."""
        value = self.entries.get(key)
        if value is not None and value.expires <= now:
            self.pop(key)
            return None
        return value

    def pop(self, key: Hashable) -> None:
        """Drop the value under key, if any."""
        value = self.entries.pop(key, None)
        if value is None:
            return
        self.bytes -= value.size
        for labels in value.names:
            keys = self.by_name.get(labels)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_name[labels]

    def forget(self, labels: Key) -> int:
        """Drop every value that depends on the name; return how many there were."""
        keys = list(self.by_name.get(labels, ()))
        for key in keys:
            self.pop(key)
        return len(keys)

    def clear(self) -> None:
        """Drop every value."""
        self.entries.clear()
        self.by_name.clear()
        self.bytes = 0


@dataclass(slots=True)
class Memo:
    """One answer kept to send again."""

    body: bytes  # the response without its ID
    source: str  # the link of the chain that made it
    expires: float
    ttls: tuple[tuple[int, float], ...] = ()  # (offset in body, expiry) of each TTL to count
    names: tuple[Key, ...] = ()
    size: int = 0
    # The body with its TTLs counted down, for the second it was counted in: a popular
    # answer is rewritten once a second, not once a query.
    second: int = -1
    counted: bytes = b""


class AnswerMemo:
    """The rendered answers, by kind of answer (``flavour``) and question (the query without
    its ID)."""

    def __init__(
        self, max_entries: int, max_bytes: int, max_negative_entries: int, max_negative_bytes: int
    ) -> None:
        self.positive: Budget[Memo] = Budget(max_entries, max_bytes)
        self.negative: Budget[Memo] = Budget(max_negative_entries, max_negative_bytes)

    @property
    def bytes(self) -> int:
        """Return what the kept answers cost."""
        return self.positive.bytes + self.negative.bytes

    def get(self, kind: int, query: bytes, clock: Callable[[], float]) -> tuple[bytes, str] | None:
        """Return the response kept for query (its ID put in) and its source, while right."""
        key = (kind, query[2:])
        memo = self.positive.entries.get(key) or self.negative.entries.get(key)
        if memo is None:
            return None
        if not memo.ttls and memo.expires == FOREVER:
            return query[:2] + memo.body, memo.source
        now = clock()
        if memo.expires <= now:
            self.positive.pop(key)
            self.negative.pop(key)
            return None
        return query[:2] + _count_down(memo, now), memo.source

    def put(
        self, kind: int, query: bytes, response: bytes, source: str, *,
        expires: float = FOREVER, expiries: dict[tuple[Key, int], float] | None = None,
        names: Iterable[Key] = (),
    ) -> None:  # fmt: skip
        """Keep response to send again for query until expires.

        expiries gives the expiry of each RRset by (owner labels, type), for its TTLs to count
        down; names, what the answer was made of, retire it when data changes there.
        """
        body = response[2:]
        ttls = tuple(_ttl_offsets(response, expiries)) if expiries else ()
        # Roughly what it costs: the body, the key's copy of the query, and the objects.
        size = len(body) + len(query) + 24 * len(ttls) + 200
        memo = Memo(body, source, expires, ttls, tuple(dict.fromkeys(names)), size)
        # Data answers (NOERROR with answer records and no authority) go in the budget of
        # data; anything else counts against the negative one.
        positive = not body[1] & 0xF and body[4:6] != b"\0\0" and body[6:8] == b"\0\0"
        (self.positive if positive else self.negative).put((kind, query[2:]), memo)

    def forget(self, labels: Key) -> int:
        """Drop the answers made of the name; return how many there were."""
        return self.positive.forget(labels) + self.negative.forget(labels)

    def clear(self) -> None:
        """Drop every answer."""
        self.positive.clear()
        self.negative.clear()


def _count_down(memo: Memo, now: float) -> bytes:
    second = int(now)
    if memo.second == second:
        return memo.counted
    body = bytearray(memo.body)
    for offset, expires in memo.ttls:
        TTL.pack_into(body, offset, max(0, int(expires - now)))
    memo.second, memo.counted = second, bytes(body)
    return memo.counted


def _ttl_offsets(response: bytes, expires: dict[tuple[Key, int], float]) -> Iterator[tuple]:
    """Yield (offset in the body after the ID, expiry) for each record whose TTL counts down."""
    _, _, qdcount, ancount, nscount, _ = wire.HEADER.unpack_from(response)
    position = 12
    for _ in range(qdcount):
        position += dns.name.from_wire(response, position)[1] + 4
    for _ in range(ancount + nscount):
        owner, used = dns.name.from_wire(response, position)
        position += used
        rdtype, _, _, rdlength = RR_FIXED.unpack_from(response, position)
        expiry = expires.get((lower_labels(owner), rdtype))
        if expiry is not None:
            yield position + 4 - 2, expiry
        position += 10 + rdlength
