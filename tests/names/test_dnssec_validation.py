"""Signed zones judged by a validating Unbound: every kind of answer comes back with AD, for an
NSEC zone and an NSEC3 zone, after an edit and after key rollovers; a broken signature does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from tests.names.validators import ORIGIN, Hierarchy, KeySet, Unbound
from tests.names.zones import ThreadedServer

pytestmark = pytest.mark.integration

ANSWERS = [
    ("www", "A", dns.rcode.NOERROR, "192.0.2.10"),  # positive
    ("nx", "A", dns.rcode.NXDOMAIN, None),  # closest encloser, next closer, wildcard
    ("nx.deeper.www", "TXT", dns.rcode.NXDOMAIN, None),
    ("www", "MX", dns.rcode.NOERROR, None),  # NODATA
    ("c", "A", dns.rcode.NOERROR, None),  # empty non-terminal
    ("b.c", "TXT", dns.rcode.NOERROR, None),
    ("x.wild", "A", dns.rcode.NOERROR, "192.0.2.99"),  # wildcard answer + proof
    ("x.y.wild", "TXT", dns.rcode.NOERROR, '"wildcard"'),
    ("x.wild", "MX", dns.rcode.NOERROR, None),  # wildcard NODATA
    ("deep.wild", "A", dns.rcode.NOERROR, "192.0.2.98"),
    ("one", "A", dns.rcode.NOERROR, "192.0.2.10"),  # CNAME chain
    ("any.wc", "AAAA", dns.rcode.NOERROR, "2001:db8::10"),  # wildcard CNAME
    ("a.dn", "A", dns.rcode.NOERROR, "192.0.2.5"),  # DNAME
    ("gone.dn", "A", dns.rcode.NXDOMAIN, None),
    ("", "DNSKEY", dns.rcode.NOERROR, None),
    ("", "SOA", dns.rcode.NOERROR, None),
    ("secure", "DS", dns.rcode.NOERROR, None),  # secure delegation
    ("host.secure", "A", dns.rcode.NOERROR, "192.0.2.77"),
    ("insecure", "DS", dns.rcode.NOERROR, None),  # the proof that no DS exists
]


def name(label: str) -> str:
    return f"{label}.{ORIGIN}" if label else ORIGIN


def values(response: dns.message.Message) -> set[str]:
    return {rdata.to_text() for rrset in response.answer for rdata in rrset}


def check_secure(unbound: Unbound, label: str, rdtype: str, rcode: int, value: str | None):
    response = unbound.ask(name(label), rdtype)
    assert response.rcode() == rcode, (label, rdtype, unbound.log())
    assert response.flags & dns.flags.AD, (label, rdtype, unbound.log())
    if value is not None:
        assert value in values(response), (label, rdtype, response)


class Served:
    """Our server and Unbound for one hierarchy, for the module."""

    def __init__(self, hierarchy: Hierarchy, directory: Path) -> None:
        self.hierarchy = hierarchy
        self.catalog = hierarchy.catalog()
        self.server = ThreadedServer(self.catalog)
        self.server.start()
        self.unbound = Unbound(directory, self.server.port)
        self.unbound.start(hierarchy.parent_keys.ds_text(ORIGIN))

    def replace(self, **kw) -> None:
        fresh = self.hierarchy.catalog(previous=self.catalog, **kw)
        for zone in fresh._zones.values():
            self.catalog.replace(zone)

    def stop(self) -> None:
        self.unbound.stop()
        self.server.stop()


@pytest.fixture(scope="module", params=["nsec3", "nsec"])
def served(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    hierarchy = Hierarchy(KeySet.new(), KeySet.new(), nsec3=request.param == "nsec3")
    running = Served(hierarchy, Path(tmp_path_factory.mktemp("unbound")))
    yield running
    running.stop()


def test_every_kind_of_answer_validates(served: Served):
    for label, rdtype, rcode, value in ANSWERS:
        check_secure(served.unbound, label, rdtype, rcode, value)


def test_an_insecure_delegation_resolves_without_ad(served: Served):
    response = served.unbound.ask(name("host.insecure"), "A")
    assert response.rcode() == dns.rcode.NOERROR, served.unbound.log()
    assert not response.flags & dns.flags.AD
    assert "192.0.2.78" in values(response)


def test_a_corrupted_signature_is_caught(served: Served):
    response = served.unbound.ask(name("corrupt"), "TXT")
    assert response.rcode() == dns.rcode.SERVFAIL
    check_secure(served.unbound, "www", "TXT", dns.rcode.NOERROR, '"hello"')


def test_an_edit_is_signed(served: Served):
    served.replace(extra="new IN A 192.0.2.200\nwww2 IN CNAME new\n")
    check_secure(served.unbound, "new", "A", dns.rcode.NOERROR, "192.0.2.200")
    check_secure(served.unbound, "www2", "A", dns.rcode.NOERROR, "192.0.2.200")
    check_secure(served.unbound, "new", "MX", dns.rcode.NOERROR, None)
    check_secure(served.unbound, "nx2", "A", dns.rcode.NXDOMAIN, None)


def test_a_zsk_rollover_by_pre_publication_validates(served: Served):
    keys = served.hierarchy.parent_keys
    old = next(k for k in keys.keys if k.zsk)
    new = keys.add(ksk=False, signing=False)  # published
    served.replace()
    check_secure(served.unbound, "www", "A", dns.rcode.NOERROR, "192.0.2.10")
    served.unbound.wait_ttls()
    keys.keys = [k for k in keys.keys if k not in (old, new)]
    keys.keys += [_with(old, signing=False), _with(new, signing=True)]  # active, old retired
    served.replace()
    for label, rdtype, rcode, value in ANSWERS[:4]:
        check_secure(served.unbound, label, rdtype, rcode, value)
    served.unbound.wait_ttls()
    keys.keys = [k for k in keys.keys if k.dnskey != old.dnskey]  # removed
    served.replace()
    check_secure(served.unbound, "x.wild", "A", dns.rcode.NOERROR, "192.0.2.99")


def test_a_ksk_rollover_with_the_ds_swapped_validates(served: Served):
    keys = served.hierarchy.parent_keys
    old = next(k for k in keys.keys if k.ksk)
    new = keys.add(ksk=True)  # double-KSK: both sign the key set
    served.replace()
    check_secure(served.unbound, "www", "A", dns.rcode.NOERROR, "192.0.2.10")
    # The parent's DS swapped: the resolver's anchor is the new key's alone.
    keys.keys = [k for k in keys.keys if k is not old]
    served.replace()
    served.unbound.start(keys.ds_text(ORIGIN))
    for label, rdtype, rcode, value in ANSWERS[:8]:
        check_secure(served.unbound, label, rdtype, rcode, value)
    assert new in keys.keys


def _with(key, **changes):
    from dataclasses import replace

    return replace(key, **changes)
