"""The one answer model: what zones, the hosts file, the cache and recursion say about a question.

Each of them answers with :class:`Sections` and one vocabulary, :class:`Kind`; the rcode of a
response follows from the kind, and the wire writer (``wire.write_response``) renders any of
them. Zones hold their records in wire form (``(owner, Records)`` pairs); the cache and
recursion hold dnspython RRsets, which ``wire.owned`` turns into the same pairs when written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import dns.name

MAX_CHAIN = 16  # CNAME/DNAME links followed for one question, as BIND's restart limit

NOERROR, SERVFAIL, NXDOMAIN, YXDOMAIN = 0, 2, 3, 6


class Kind(enum.Enum):
    """What an answer says about its question; the value is how the cache table spells it."""

    ANSWER = "answer"  # the data asked for
    ALIAS = "alias"  # a CNAME or DNAME chain whose end (the target) is answered elsewhere
    REFERRAL = "referral"  # the name is delegated: here are the zone cut's servers
    NXDOMAIN = "NXDOMAIN"  # the name does not exist
    NODATA = "NODATA"  # the name exists, without data of the type asked
    YXDOMAIN = "YXDOMAIN"  # a DNAME substitution made a name too long (RFC 6672 2.2)
    SERVFAIL = "SERVFAIL"  # the question could not be resolved


RCODES = {Kind.NXDOMAIN: NXDOMAIN, Kind.YXDOMAIN: YXDOMAIN, Kind.SERVFAIL: SERVFAIL}


@dataclass(slots=True)
class Sections:
    """What a response says besides its header.

    answer and authority hold RRsets (or ``(owner, Records)`` pairs), additional pairs of an
    RRset and whether it is required (glue that does not fit sets TC, RFC 9471). target is
    where an ALIAS continues; error is an rcode the query itself earned (FORMERR, NOTIMP,
    REFUSED, NOTAUTH) whatever the kind. expires and names are what a cached answer was made
    of: each RRset's expiry by (owner labels, type), for its TTLs to count down, and every
    name it depends on, so that new data at one of them retires it.
    """

    kind: Kind = Kind.ANSWER
    answer: list[Any] = field(default_factory=list)
    authority: list[Any] = field(default_factory=list)
    additional: list[tuple[Any, bool]] = field(default_factory=list)
    target: dns.name.Name | None = None
    aa: bool = False
    error: int = NOERROR
    expires: dict[tuple[tuple[bytes, ...], int], float] = field(default_factory=dict)
    names: list[tuple[bytes, ...]] = field(default_factory=list)

    @property
    def rcode(self) -> int:
        """Return the rcode of the response (RFC 6604: that of the chain's last name)."""
        return self.error or RCODES.get(self.kind, NOERROR)
