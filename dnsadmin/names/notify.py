"""Outgoing NOTIFY (RFC 1996): tell a zone's secondaries that its serial changed.

A NOTIFY is a query with opcode NOTIFY, AA set, QNAME the zone's origin and QTYPE SOA, carrying
the new SOA in its answer section as a hint (RFC 1996 3.7). The secondary answers with a NOTIFY
response and then checks our SOA and transfers the zone over TCP. NOTIFY travels over UDP and
is retransmitted until answered (RFC 1996 3.6), a few times with a growing interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig

from .addresses import DEFAULT_PORT, parse_address

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    """A secondary to notify: its address and port, and the TSIG key signing the NOTIFY."""

    address: str
    port: int = DEFAULT_PORT
    key: str = ""  # a key name, as in BIND's also-notify { ADDR key NAME; }

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def parse_target(text: str) -> Target:
    """Read ``ADDR``, ``ADDR:PORT`` or ``[IPv6]:PORT``; a ValueError says what is wrong."""
    return Target(*parse_address(text))


def parse_targets(text: str) -> list[Target]:
    """Read targets separated by spaces or lines, each optionally followed by ``key NAME``."""
    targets: list[Target] = []
    words = iter(text.split())
    for word in words:
        if word != "key":
            targets.append(parse_target(word))
            continue
        name = next(words, "")
        if not targets or targets[-1].key or not name:
            raise ValueError("'key NAME' follows an address, once.")
        targets[-1] = Target(targets[-1].address, targets[-1].port, name)
    return targets


def notify_message(origin: dns.name.Name | str, soa: dns.rrset.RRset | None) -> dns.message.Message:
    """Return a NOTIFY for origin, with the new SOA as a hint when there is one."""
    message = dns.message.make_query(origin, dns.rdatatype.SOA, dns.rdataclass.IN)
    message.flags = dns.flags.AA  # no RD: a NOTIFY asks for no recursion
    message.set_opcode(dns.opcode.NOTIFY)  # after the flags, which hold the opcode
    if soa is not None:
        message.answer.append(soa)
    return message


async def notify(
    origin: dns.name.Name | str,
    soa: dns.rrset.RRset | None,
    targets: Sequence[Target],
    *,
    timeout: float = 2.0,
    attempts: int = 5,
    keyring: Mapping[dns.name.Name, dns.tsig.Key] | None = None,
) -> dict[Target, bool]:
    """Send NOTIFY to every target at once, signed with its key from keyring when it names
    one (the response's TSIG is checked too); return which ones acknowledged."""
    keys = {
        t: (keyring or {}).get(dns.name.from_text(t.key.lower())) if t.key else None
        for t in targets
    }
    results = await asyncio.gather(
        *(_notify_one(origin, soa, target, timeout, attempts, keys[target]) for target in targets)
    )
    return dict(zip(targets, results, strict=True))


async def _notify_one(
    origin: dns.name.Name | str,
    soa: dns.rrset.RRset | None,
    target: Target,
    timeout: float,
    attempts: int,
    key: dns.tsig.Key | None = None,
) -> bool:
    if target.key and key is None:
        log.warning("NOTIFY %s to %s: no key named %s", origin, target, target.key)
        return False
    wait = timeout
    for _ in range(attempts):
        message = notify_message(origin, soa)  # a fresh ID for every try
        if key is not None:
            message.use_tsig(key)
        try:
            response = await dns.asyncquery.udp(
                message, target.address, port=target.port, timeout=wait, ignore_unexpected=True
            )
        except (dns.exception.DNSException, OSError) as error:
            log.debug("NOTIFY %s to %s: %r", origin, target, error)
            wait *= 2
            continue
        if response.opcode() == dns.opcode.NOTIFY:
            log.info("NOTIFY %s acknowledged by %s (%s)", origin, target, response.rcode())
            return True
        wait *= 2
    log.warning("NOTIFY %s to %s: no answer after %d tries", origin, target, attempts)
    return False
