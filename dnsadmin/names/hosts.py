"""Answers from an /etc/hosts style file: A, AAAA and PTR, reread when the file changes.

A name the file lists answers A and AAAA itself, with NODATA for the family it lacks, so a
local name never leaks upstream; anything else passes to the next resolver. The file's mtime is
looked at no more than once a second, so a busy server does not stat it per packet.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset

from .answer import Kind, Sections
from .zone import Key, lower_labels

log = logging.getLogger(__name__)

IN = dns.rdataclass.IN
A, AAAA, PTR = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.PTR
TTL = 3600  # as Twisted Names' hosts resolver
CHECK_INTERVAL = 1.0


@dataclass
class HostsData:
    """What a hosts file says: addresses by name and type, a name by reverse name."""

    addresses: dict[Key, dict[int, list[str]]] = field(default_factory=dict)
    names: dict[Key, dns.name.Name] = field(default_factory=dict)  # reverse name -> first name

    def lookup(self, qname: dns.name.Name, qtype: int) -> list[str] | None:
        """Return the addresses (A, AAAA) or the name (PTR) the file gives qname, as text.

        None when the file does not list qname at all (or qtype is another type); an empty
        list when it lists the name with addresses of the other family only.
        """
        labels = lower_labels(qname)
        if qtype == PTR:
            target = self.names.get(labels)
            return None if target is None else [target.to_text()]
        by_type = self.addresses.get(labels)
        if by_type is None or qtype not in (A, AAAA):
            return None
        return by_type.get(qtype, [])


def parse_hosts(text: str) -> HostsData:
    """Read the names and addresses of a hosts file, skipping malformed lines as glibc does.

    An address with an interface scope (fe80::1%eth0) is skipped too: an AAAA record has no
    room for the scope, and the address alone would lead elsewhere.
    """
    data = HostsData()
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or "%" in fields[0]:
            continue
        try:
            address = ipaddress.ip_address(fields[0])
            names = [dns.name.from_text(name) for name in fields[1:]]
        except (ValueError, dns.exception.DNSException):
            continue
        _add(data, address, names)
    return data


def _add(data: HostsData, address: ipaddress.IPv4Address | ipaddress.IPv6Address, names) -> None:
    rdtype = A if address.version == 4 else AAAA
    for name in names:
        by_type = data.addresses.setdefault(lower_labels(name), {})
        by_type.setdefault(rdtype, []).append(str(address))
    reverse = lower_labels(dns.reversename.from_address(str(address)))
    data.names.setdefault(reverse, names[0])  # the first line naming an address wins, as glibc


class Hosts:
    """The hosts file as a link of the resolver chain."""

    source = "hosts"

    def __init__(
        self, path: Path | str, *, ttl: int = TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = Path(path)
        self.ttl = ttl
        self.clock = clock
        self.data = HostsData()
        self._mtime: int | None = None
        self._checked = float("-inf")
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        """Reread the file when its mtime moved; at most one stat per CHECK_INTERVAL."""
        now = self.clock()
        if now - self._checked < CHECK_INTERVAL:
            return
        self._checked = now
        try:
            mtime = os.stat(self.path).st_mtime_ns
            if mtime != self._mtime:
                self.data = parse_hosts(self.path.read_text(errors="replace"))
                self._mtime = mtime
        except OSError as error:
            if self._mtime is not None:
                log.warning("hosts file %s unreadable: %s", self.path, error)
            self.data, self._mtime = HostsData(), None

    def find(self, qname: dns.name.Name, qtype: int) -> Sections | None:
        """Return the hosts file's answer to qname/qtype, or None when it says nothing of it."""
        self.reload_if_changed()
        texts = self.data.lookup(qname, qtype)
        if texts is None:
            return None
        if not texts:
            return Sections(Kind.NODATA)
        rrset = dns.rrset.from_text_list(qname, self.ttl, IN, qtype, texts)
        return Sections(Kind.ANSWER, [rrset])
