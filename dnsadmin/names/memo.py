"""The one rendered-answer cache: responses worked out once, sent again for the same question.

Every answer the chain can send again (from our zones, from the cache, a REFUSED) is kept here
as bytes without its ID, by the kind of client and transport it was made for and the question
with its name case-folded (as PowerDNS's packet cache keys them); a repeated question costs a
dict lookup and a concatenation that puts the client's question back in, so that its exact case
is echoed ("0x20") and compression pointers to the question still land on the same bytes.
Answers from the cache keep the offsets of their TTLs and are counted down once a second.

One invalidation scheme: an answer is indexed by the names it was made of, and new data or a
negative answer at one of them retires it (``forget``); a zone change or a flush drops every
answer (``clear``). Two budgets (entries and bytes) bound it, a separate one for negative
answers, so that a flood of questions for random names cannot push the useful answers out.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar

import dns.name

from . import wire
from .render import pointers
from .zone import Key, Zone, lower_labels

FOREVER = float("inf")  # an answer from our zones stays right until the zones change
TTL = struct.Struct("!I")
# What a kept answer costs beside its body and its key's bytes, roughly, in the budget's count:
# its key's tuple, the objects' headers, the entries of the dicts that hold it, and a Memo's
# fields for the answers that have one (an overcount for those that do not: see Bodies).
KEPT_OVERHEAD = 200
RR_FIXED = struct.Struct("!HHIH")
# A question gets a different answer by transport and by whether the client may recurse
# (which sets RA, and lets the cache answer): the bits of its kind.
TCP, RECURSIVE = 1, 2
UDP, UDP_RECURSIVE = 0, RECURSIVE
KINDS = 4


def flavour(*, tcp: bool, recursive: bool) -> int:
    """Return the kind of answer a client gets: by transport, and whether it may recurse."""
    return (RECURSIVE if recursive else 0) | (TCP if tcp else 0)


class Sized(Protocol):
    size: int
    expires: float

    @property
    def names(self) -> tuple[Key, ...]: ...


V = TypeVar("V", bound=Sized)
# The answers of several budgets, a dict per kind of answer (``flavour``) by question.
Index = tuple[dict[bytes, Any], ...]


class Budget(Generic[V]):
    """Values in insertion order, bounded in number and in bytes (the oldest go first, a 64th
    of the budget at a time), and indexed by the names they depend on, so forgetting one
    name needs no scan."""

    def __init__(self, max_entries: int, max_bytes: int, index: Index | None = None) -> None:
        """``index``: dicts that hold this budget's values too, for one lookup in several
        budgets (one key lives in one of them), a dict per kind of answer (``flavour``) by
        the question: the keys are then (kind, question)."""
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: dict[Hashable, V] = {}
        # The keys of the values that depend on each name: the one key itself for a name with
        # one (most: an entry at its owner's name), a set for more. A set each cost every
        # cached name 216 bytes and one more object for the collector to walk, a young one
        # first (a cache miss makes one, a random-subdomain storm thousands a second).
        self.by_name: dict[Key, Hashable | set[Hashable]] = {}
        self.bytes = 0
        self.index = index

    def put(self, key: Hashable, value: V) -> None:
        """Keep value under key, dropping the oldest values until it fits (a value bigger
        than the whole budget is not kept)."""
        self.pop(key)
        self.add(key, value)

    def add(self, key: Hashable, value: V) -> None:
        """Keep value under key, which holds none (``put`` without its look for one)."""
        if value.size > self.max_bytes or self.max_entries <= 0:
            return
        if len(self.entries) >= self.max_entries or self.bytes + value.size > self.max_bytes:
            self._make_room(value.size)
        self.entries[key] = value
        if self.index is not None:
            self.index[key[0]][key[1]] = value
        self.bytes += value.size
        by_name = self.by_name
        for labels in value.names:
            held = by_name.get(labels)
            if held is None:
                by_name[labels] = key
            elif type(held) is set:
                held.add(key)
            elif held != key:
                by_name[labels] = {held, key}

    def _make_room(self, size: int) -> None:
        """Drop the oldest values until one of size fits with a 64th of each budget to spare:
        a dict finds its oldest keys by skipping the slots of those dropped before them, so
        one at a time, each drop of a full budget would cost such a scan."""
        spare = max(1, self.max_entries // 64)
        keep, room = self.max_entries - spare, self.max_bytes - self.max_bytes // 64 - size
        while self.entries and (len(self.entries) > keep or self.bytes > room):
            for key in _oldest(self.entries, max(len(self.entries) - keep, spare)):
                self.pop(key)

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
        if self.index is not None:
            del self.index[key[0]][key[1]]
        self.bytes -= value.size
        by_name = self.by_name
        for labels in value.names:
            held = by_name.get(labels)
            if type(held) is set:
                held.discard(key)
                if len(held) == 1:
                    by_name[labels] = next(iter(held))
            elif held == key:
                del by_name[labels]

    def forget(self, labels: Key) -> int:
        """Drop every value that depends on the name; return how many there were."""
        held = self.by_name.get(labels)
        keys = list(held) if type(held) is set else [] if held is None else [held]
        for key in keys:
            self.pop(key)
        return len(keys)

    def clear(self) -> None:
        """Drop every value."""
        if self.index is not None and any(self.index):  # (none left when cleared first: see
            for kind, question in self.entries:  # AnswerMemo.clear)
                self.index[kind].pop(question, None)
        self.entries.clear()
        self.by_name.clear()
        self.bytes = 0


class Bodies:
    """Answers from our zones kept to send again (``AnswerMemo.put_body``) as their bodies
    alone, without a Memo each: most precomputed ones are kept for a question asked once (a
    fresh server's, a mix over many names), and making a Memo and budgeting it cost more
    than the answer. They need none of its fields: their source is the authority, they stay
    right until the zones change (which drops every answer), and they have no TTL to count
    down. Bounded in number and in bytes as a Budget is, the oldest going first.

    They are kept in the index alone (the dict of their kind of answer, by question), and
    their order in a queue beside it: a dict of their own would cost every answer kept a
    second insertion in a large dict, a memory fetch. A body replaced in the index (by a
    Memo, ``AnswerMemo.put``) or dropped with it (``AnswerMemo.clear``) stays in the queue,
    and in the count, until its turn to go comes."""

    def __init__(self, max_entries: int, max_bytes: int, index: Index) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.index = index
        self.bytes = 0
        self.order: deque[tuple[int, bytes, bytes]] = deque()  # (kind, question, body)

    def __len__(self) -> int:
        """Return how many bodies are counted (those replaced since included)."""
        return len(self.order)

    def add(self, kind: int, question: bytes, body: bytes) -> None:
        """Keep the body for the question, which holds nothing in the index."""
        size = len(body) + len(question) + KEPT_OVERHEAD
        if len(self.order) >= self.max_entries or self.bytes + size > self.max_bytes:
            if size > self.max_bytes or self.max_entries <= 0:
                return
            self._make_room(size)
        self.index[kind][question] = body
        self.order.append((kind, question, body))
        self.bytes += size

    def _make_room(self, size: int) -> None:
        """Drop the oldest bodies until one of size fits with a 64th of each budget to spare
        (as Budget._make_room); those replaced meanwhile are only counted out."""
        spare = max(1, self.max_entries // 64)
        keep, room = self.max_entries - spare, self.max_bytes - self.max_bytes // 64 - size
        order, index = self.order, self.index
        while order and (len(order) > keep or self.bytes > room):
            kind, question, body = order.popleft()
            kept = index[kind]
            if kept.get(question) is body:
                del kept[question]
            self.bytes -= len(body) + len(question) + KEPT_OVERHEAD

    def clear(self) -> None:
        """Forget every body: only with the index (AnswerMemo.clear), or the bodies left
        there would be counted by no budget."""
        self.order.clear()
        self.bytes = 0


class Memo:
    """One answer kept to send again (a plain class: one is made for every first answer)."""

    __slots__ = ("body", "source", "expires", "ttls", "names", "size", "second", "counted",
                 "lasting", "exact")  # fmt: skip

    def __init__(
        self, body: bytes, source: str, expires: float,
        ttls: tuple[tuple[int, float], ...] = (), names: tuple[Key, ...] = (), size: int = 0,
    ) -> None:  # fmt: skip
        self.body = body  # the response without its ID
        self.source = source  # the link of the chain that made it
        self.expires = expires
        self.ttls = ttls  # (offset in body, expiry) of each TTL to count
        self.names = names
        self.size = size
        # The body with its TTLs counted down, for the second it was counted in: a popular
        # answer is rewritten once a second, not once a query.
        self.second = -1
        self.counted = b""
        # Right until the zones change: no expiry, no TTL to count.
        self.lasting = expires == FOREVER and not ttls
        # For the very question only, in its case (see case_free), though its key is that
        # of the question in any case (a question in lowercase).
        self.exact = False


def question_end(query: bytes) -> int:
    """Return where the name of query's one question ends, or 0 when its question is not one
    plain name (compressed, or several questions): such a query is kept as it is, unfolded."""
    if query[4:6] != b"\0\1":
        return 0
    position = 12
    try:
        while length := query[position]:
            if length > 63:
                return 0
            position += length + 1
    except IndexError:
        return 0
    return position + 1


def _foldable(query: bytes, end: int) -> bool:
    """Tell whether the answer to a plain question (ending at end) may be kept by its
    question case-folded: its name has no zero byte but the root's (see AnswerMemo.get)."""
    return query.find(b"\0", 12) + 1 == end


def _true_name(query: bytes) -> bytes:
    """Return the name of query's one question case-folded, or b"" for a query that is not
    one plain question (``question_end``)."""
    return query[12 : question_end(query)].lower()


def _capital_name(query: bytes) -> bool:
    """Tell whether the name of query's question, as far as its first zero byte (as
    ``AnswerMemo.get`` reads it), has a capital letter."""
    name = query[12 : query.find(b"\0", 12) + 1]
    return name != name.lower()


def _into_id(query: bytes) -> bool:
    """Tell whether query may hold a compression pointer into its ID (C0 00 or C0 01 after
    its header): the name read so is made of the ID, so the answer is the one query's, not
    one to send again to the same bytes with another ID (the key has no ID)."""
    rest = query[12:]
    return b"\xc0\x00" in rest or b"\xc0\x01" in rest


def folded(query: bytes, end: int) -> bytes:
    """Return the key of query: without its ID, the name of its question case-folded.

    Only the name is folded: the bytes after it (type, class, EDNS) are numbers, not text.
    """
    return keyed(query, end, query[12:end].lower()) if end else query[2:]


def keyed(query: bytes, end: int, name: bytes) -> bytes:
    """Return query without its ID, name (its question's name case-folded) in place of the
    name of its question (which ends at end)."""
    return query[2:12] + name + query[end:]


def with_question(query: bytes, body: bytes, end: int) -> bytes:
    """Return body as the response to query: its ID, and its question as the client wrote it."""
    if not end:
        return query[:2] + body
    return b"".join((query[:2], body[:10], query[12:end], body[end - 2 :]))


def case_free(query: bytes, response: bytes, end: int) -> bool:
    """Tell whether response carries the client's case in its question only, so that it may
    be sent to the same question in any case (a name made from the question's labels, as a
    DNAME substitution makes, would carry it further on)."""
    if _substituted(response, end):
        return False
    name = query[12:end]
    if name == name.lower():
        return True
    rest = response[end:]
    if rest == rest.lower():
        return True  # no capital letter after the question, so none of the client's labels
    position = 12
    while length := query[position]:
        label = query[position + 1 : position + 1 + length]
        if label != label.lower() and label in rest:
            return False
        position += length + 1
    return True


def _substituted(response: bytes, end: int) -> bool:
    """Tell whether response's answer opens with a DNAME: the CNAME after it copies the
    question's labels as the client wrote them (in lowercase too), so it is kept for that
    very question only. (A DNAME met further on, past a CNAME, copies the zone's labels.)"""
    if response[6:8] == b"\0\0":
        return False
    position = end + 4  # the answer's first owner, written by us: labels, then 0 or a pointer
    try:
        while 0 < (length := response[position]) < 0xC0:
            position += length + 1
        position += 2 if length else 1
    except IndexError:
        return True
    return response[position : position + 2] == b"\0\x27"


class AnswerMemo:
    """The rendered answers, by kind of answer (``flavour``) and question (the query without
    its ID)."""

    def __init__(
        self, max_entries: int, max_bytes: int, max_negative_entries: int, max_negative_bytes: int
    ) -> None:
        # Every budget's answers in one dict per kind of answer, looked up on every datagram:
        # one lookup for an answer not kept, not one a budget; by the question alone, a
        # bytes key, which the lookup compares without a tuple to make, hash and fetch.
        self._kept: Index = tuple({} for _ in range(KINDS))
        self.positive: Budget[Memo] = Budget(max_entries, max_bytes, self._kept)
        self.negative: Budget[Memo] = Budget(max_negative_entries, max_negative_bytes, self._kept)
        # Answers kept as their bodies alone (put_body), in budgets of their own as large.
        self.bodies = Bodies(max_entries, max_bytes, self._kept)
        self.negative_bodies = Bodies(max_negative_entries, max_negative_bytes, self._kept)

    @property
    def bytes(self) -> int:
        """Return what the kept answers cost."""
        budgets = self.positive, self.negative, self.bodies, self.negative_bodies
        return sum(budget.bytes for budget in budgets)

    def __len__(self) -> int:
        """Return how many answers are kept."""
        return sum(len(kept) for kept in self._kept)

    def get(self, kind: int, query: bytes, clock: Callable[[], float]) -> tuple[bytes, str] | bytes:
        """Return the response kept for query (its ID put in) and its source, while right;
        when none is, what may be the name of its question case-folded, unchecked (see
        below; it ends at 12 + its length), or b"" for a query that has none, for the caller
        to go on with.

        A query with a capital letter in its name is looked up by its question case-folded,
        and only so; any other query is its own key (the hot path of a repeated question in
        lowercase: one lookup, one join). One lookup either way, in the one dict of every
        budget: a lookup by the query's own bytes first cost a question in another case a
        lookup that finds nothing (most of the time: resolvers vary the case of each
        question, 0x20), in dicts this large a cold memory access (the mix's questions in
        random case, asked of a fresh server, cost about a tenth more with it). So an answer
        kept for that very question only (Memo.exact) is kept for a name without capitals
        only (``put``).

        The name is taken to end at the query's first zero byte, found at C speed where
        walking its labels (``question_end``) costs a Python loop: only names without a zero
        byte in a label are kept by their question case-folded (``_foldable``), so a key
        found so is one of those, in another case, ending there. A query that finds none
        gets the bytes up to that zero byte, case-folded, not checked: walking them costs as
        much as the lookups, and most such questions are found or refused by a lookup whose
        keys are all names (a zone's precomputed answers, the name errors below a zone's
        origin), which no other bytes match. The caller checks them (``question_end``) before
        it reads their labels, and asks the general path when they are not the question's
        name (a zero byte in a label, several questions, a pointer).
        """
        kept = self._kept[kind]
        key = query[2:]
        if not key.islower():  # a capital letter (or no letter at all) after the ID
            end = query.find(b"\0", 12) + 1
            name = query[12:end]
            # (islower first: the capital may be after the name, type 65's "A", HTTPS)
            folded_name = name if name.islower() else name.lower()
            if folded_name != name:
                question = query[2:12] + folded_name + query[end:]  # (keyed's, inline)
                memo = kept.get(question)
                if memo is not None:
                    if type(memo) is bytes:  # (with_question inline, as below)
                        body = b"".join((query[:2], memo[:10], query[12:end], memo[end - 2 :]))
                        return body, "authority"
                    if not memo.exact:
                        if memo.lasting:  # (_sent's first case, with_question inline: the
                            body = memo.body  # hot path of a name in any case)
                            answer = b"".join(
                                (query[:2], body[:10], query[12:end], body[end - 2 :])
                            )
                            return answer, memo.source
                        return self._sent((kind, question), memo, query, end, clock) or folded_name
                return folded_name  # (unchecked: see above)
        memo = kept.get(key)
        if memo is not None:
            if type(memo) is bytes:  # a precomputed answer's body (Bodies)
                return query[:2] + memo, "authority"
            if memo.lasting:
                return query[:2] + memo.body, memo.source
            return self._sent((kind, key), memo, query, 0, clock) or _true_name(query)
        return query[12 : query.find(b"\0", 12) + 1]  # its name, in lowercase (unchecked)

    def get_folded(
        self, kind: int, query: bytes, end: int, name: bytes, clock: Callable[[], float]
    ) -> tuple[bytes, str] | None:
        """Return what ``get`` returns for a plain question (ending at end, name: its name
        case-folded) kept by its key case-folded, or None: for a caller that has worked out
        end and name already."""
        question = query[2:12] + name + query[end:]  # (keyed's, inline: every miss)
        memo = self._kept[kind].get(question)
        if memo is None:  # (first: every cache miss)
            return None
        if type(memo) is bytes:  # a precomputed answer's body (Bodies)
            return with_question(query, memo, end), "authority"
        if memo.exact and name != query[12:end]:
            return None
        return self._sent((kind, question), memo, query, end, clock)

    def _sent(
        self, key: Hashable, memo: Memo, query: bytes, end: int, clock: Callable[[], float]
    ) -> tuple[bytes, str] | None:
        """Return memo (kept under key) as the response to query (end: where the name of its
        question ends, 0 to send the question as kept) and its source; None once it has
        expired (then it is dropped)."""
        if memo.lasting:
            return with_question(query, memo.body, end), memo.source
        now = clock()
        if memo.expires <= now:
            self.positive.pop(key)
            self.negative.pop(key)
            return None
        return with_question(query, _count_down(memo, now), end), memo.source

    def put(
        self, kind: int, query: bytes, response: bytes, source: str, *,
        expires: float = FOREVER, expiries: dict[tuple[Key, int], float] | None = None,
        names: Iterable[Key] = (), end: int | None = None,
    ) -> None:  # fmt: skip
        """Keep response to send again for query until expires.

        expiries gives the expiry of each RRset by (owner labels, type), for its TTLs to count
        down; names, what the answer was made of, retire it when data changes there; end,
        question_end(query) when the caller has it already.
        """
        if end is None:
            end = question_end(query)
        if end:
            name = query[12:end]
            lowered = name.lower()
            if (
                response[4:6] == b"\0\1"
                and response[12:end] == name
                and _foldable(query, end)
                and case_free(query, response, end)
            ):
                # The question as its key has it (folded), for the lowercase questions to
                # go out as is.
                key = (kind, keyed(query, end, lowered))
                body = response[2:12] + lowered + response[end:]
            else:
                end = 0  # kept for this very question only (Memo.exact)
        if not end:
            if _into_id(query) or _capital_name(query):
                return  # (get looks a name with capitals up case-folded only)
            key = (kind, query[2:])
            body = response[2:]
        ttls = tuple(_ttl_offsets(response, expiries)) if expiries else ()
        # Roughly what it costs: the body, the key's copy of the query, and the objects.
        size = len(body) + len(query) + 24 * len(ttls) + KEPT_OVERHEAD
        memo = Memo(body, source, expires, ttls, tuple(dict.fromkeys(names)) if names else (), size)
        memo.exact = not end
        # Data answers (NOERROR with answer records and no authority) go in the budget of
        # data; anything else counts against the negative one.
        positive = not body[1] & 0xF and body[4:6] != b"\0\0" and body[6:8] == b"\0\0"
        kept = self._kept[kind].get(key[1])
        if type(kept) is bytes:  # a body (Bodies): it goes out of the index at once
            del self._kept[kind][key[1]]
        elif kept is not None:  # kept again: by one budget only, the one it goes in now
            self.positive.pop(key)
            self.negative.pop(key)
        (self.positive if positive else self.negative).put(key, memo)

    def put_body(self, kind: int, query: bytes, end: int, name: bytes, response: bytes) -> None:
        """Keep response, an answer to query made of our zones' data and of the question as
        the client wrote it, which ends at end (name: its name case-folded), for the question
        in any case, as its body alone (Bodies), in the budget of data or of the others as
        ``put`` would: a zone's precomputed answer (``authority.wired_answer``), or one kept
        by what decides it (``Templates``: no data, a wildcard's, a referral). A fraction of
        ``put``'s cost: nothing after its question is the client's (no case to check), and it
        is made of no name to forget it by (a zone change drops it, as it drops every
        answer). An answer kept for that very question only (Memo.exact) stays."""
        question = query[2:12] + name + query[end:]
        if question not in self._kept[kind] and query.find(b"\0", 12) + 1 == end:  # (_foldable)
            # (with data, as put tells it, for these answers: no authority records)
            bodies = self.bodies if response[8:10] == b"\0\0" else self.negative_bodies
            bodies.add(kind, question, response[2:12] + name + response[end:])

    def forget(self, labels: Key) -> int:
        """Drop the answers made of the name; return how many there were."""
        return self.positive.forget(labels) + self.negative.forget(labels)

    def clear(self) -> None:
        """Drop every answer."""
        for kept in self._kept:
            kept.clear()
        self.positive.clear()
        self.negative.clear()
        self.bodies.clear()
        self.negative_bodies.clear()


Decided = tuple[
    Hashable, int
]  # what decides an answer, and the length of the name's part that varies


class Templates:
    """Answers decided by something else than their question's name (a name error, a
    wildcard's answer, a referral from above, no data), kept by what decides them
    (``Zone.decider``) instead of by name, as Knot answers from what it worked out when the
    zone loaded: such answers differ from name to name in their question only, so a flood of
    unique names costs a few dict lookups each and no room. At most max_entries (the oldest
    go first): one per decider, question length, header and query tail (type, class, EDNS)
    seen; and as many again of its name errors by the name they are below (``below``).
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self.entries: dict[Hashable, bytes | tuple[bytes, tuple[bytes, ...]]] = {}
        # The name errors of names whose first label alone varies (a random-subdomain
        # flood's), by the rest of the name case-folded: the response without its ID split
        # around its question, the zone, what decided it there and the type asked.
        self.below: dict[Hashable, tuple[bytes, bytes, Zone, tuple, int, frozenset]] = {}

    def get(self, kind: int, query: bytes, end: int, decided: Decided) -> bytes | None:
        """Return the answer to query (a plain question ending at end) decided so, if known."""
        body = self.entries.get((kind, decided[0], end, query[2:12], query[end:]))
        if type(body) is tuple:  # (body, hazards: see put)
            body, hazards = body
            # (the labels that vary ending so: rarely not as a label, then worked out)
            if query[12 : 12 + decided[1]].lower().endswith(hazards):
                return None
        return None if body is None else with_question(query, body, end)

    def below_name(
        self, kind: int, query: bytes, end: int, name: bytes, zones: dict[bytes, Zone]
    ) -> bytes | None:
        """Return the answer to query (a plain question ending at end, name: its name
        case-folded) from the one kept for a name that differs in its first label only and
        was decided the same way, without locating the question: the rest of the name finds
        the answer, the zone tells whether the first label decides it the same way, and
        zones (the catalog's by wire name) that no zone of ours starts at the name itself.
        None when it does not, or no such answer is kept."""
        first = name[0]
        kept = self.below.get((kind, name[first + 1 :], end, query[2:12], query[end:]))
        if kept is None:
            return None
        header, rest, zone, found, qtype, hazards = kept
        # (found[1]: the closest encloser, the labels the first one goes before)
        if zone.decider((name[1 : first + 1],) + found[1], qtype) != found or name in zones:
            return None
        if hazards and name[: first + 1] in hazards:
            return None
        return b"".join((query[:2], header, query[12:end], rest))

    def below_origin(
        self, kind: int, query: bytes, end: int, name: bytes, zone: Zone
    ) -> bytes | None:
        """Return ``below_name``'s answer for a name right below zone's origin (where
        ``authority.closest`` found it: no zone's origin itself), told by the zone at the cost
        of a few set lookups (``Zone.name_error_below_origin``). name need not be checked
        (AnswerMemo.get): an answer kept by its ending and length makes it one label, as long
        as the name kept had, before that ending."""
        first = name[0]
        kept = self.below.get((kind, name[first + 1 :], end, query[2:12], query[end:]))
        if kept is None or kept[2] is not zone:
            return None
        if not zone.name_error_below_origin(name[1 : first + 1]):
            return None
        if kept[5] and name[: first + 1] in kept[5]:
            return None
        return b"".join((query[:2], kept[0], query[12:end], kept[1]))

    def put(self, kind: int, query: bytes, end: int, decided: Decided, response: bytes) -> bool:
        """Keep response as the answer to every question like query decided the same way,
        unless it depends on more than that (then return False): a compression pointer into
        the labels that vary (but for an answer's owner pointing at the whole name, as a
        wildcard's answers are owned), or the client's case outside the question.

        A name written as labels and a pointer to the labels that do not vary (an SOA's
        hostmaster.<origin> in a name error below the origin) would point further into the
        question whose varying labels end with the last of those (hostmaster.<origin>
        itself): such questions (its hazards, that label case-folded) are not answered so.
        """
        decider, varying = decided
        if response[4:6] != b"\0\1" or response[12:end] != query[12:end]:
            return False
        if not case_free(query, response, end):
            return False
        hazards = set()
        for offset, owner, last in pointers(response):
            if 12 <= offset < 12 + varying and not (owner and offset == 12):
                return False
            if varying and offset == 12 + varying and last:
                label = response[last : last + 1 + response[last]].lower()
                if len(label) <= varying:  # (a longer one is no question's of this length)
                    hazards.add(label)
        tail = (end, query[2:12], query[end:])
        body = (response[2:], tuple(hazards)) if hazards else response[2:]
        _bounded(self.entries, self.max_entries)[(kind, decider, *tail)] = body
        zone, how, _ = decider
        if how == b"" and varying == query[12] + 1:
            # A name error (a random subdomain's): kept by the rest of the name too.
            above = query[13 + query[12] : end].lower()
            qtype = int.from_bytes(query[end : end + 2], "big")
            # (the first label varies: only a hazard of its length can be it)
            hazards = frozenset(label for label in hazards if len(label) == varying)
            kept = (response[2:12], response[end:], zone, decider[1:], qtype, hazards)
            _bounded(self.below, self.max_entries)[(kind, above, *tail)] = kept
        return True

    def clear(self) -> None:
        """Drop every answer."""
        self.entries.clear()
        self.below.clear()


def _bounded(entries: dict, max_entries: int) -> dict:
    """Return entries with room for one more, its oldest 64th dropped if need be (see
    Budget._make_room)."""
    if len(entries) >= max_entries:
        for key in _oldest(entries, max(1, max_entries // 64)):
            del entries[key]
    return entries


def _oldest(entries: dict, count: int) -> list:
    """Return the count oldest keys of entries (a dict keeps the order of insertion)."""
    return list(islice(entries, count))


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
