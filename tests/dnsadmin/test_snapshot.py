"""What the workers load from the database: a disabled record is kept but not served."""

from __future__ import annotations

from dataclasses import replace

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dnsadmin.changes import RRsetEdit, apply_changes, current_rrset, fingerprint
from dnsadmin.models import Zone
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.snapshot import load_zone
from tests.dnsadmin.test_rundns import rundns, wait_for  # noqa: F401 (rundns is a fixture)
from tests.names.zones import answer


def set_enabled(zone: Zone, owner: str, rdata: str, enabled: bool) -> None:
    """As the zone page's enable/disable button does: through the change service."""
    records = current_rrset(zone, owner, "A")
    flipped = tuple(replace(r, enabled=enabled) if r.rdata == rdata else r for r in records)
    apply_changes(zone, [RRsetEdit(owner, "A", flipped, fingerprint(records))])


def ask(name: str) -> tuple[str, set[str]]:
    """The rcode and A addresses the freshly loaded example.org. answers for name."""
    catalog = ZoneCatalog([load_zone("example.org.")])
    query = dns.message.make_query(name, "A")
    response = dns.message.from_wire(answer(query.to_wire(), catalog))
    addresses = {
        rdata.to_text()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.A
        for rdata in rrset
    }
    return dns.rcode.to_text(response.rcode()), addresses


@pytest.mark.django_db
def test_a_disabled_record_is_not_answered_and_enabling_it_brings_it_back(zone):
    assert ask("www.example.org.") == ("NOERROR", {"192.0.2.80"})
    set_enabled(zone, "www", "192.0.2.80", False)
    assert zone.records.filter(owner="www", enabled=False).exists()  # kept, not deleted
    assert ask("www.example.org.") == ("NXDOMAIN", set())
    set_enabled(zone, "www", "192.0.2.80", True)
    assert ask("www.example.org.") == ("NOERROR", {"192.0.2.80"})


@pytest.mark.django_db
def test_a_disabled_record_leaves_the_rest_of_its_rrset_answered(zone):
    www = current_rrset(zone, "www", "A")
    apply_changes(zone, [RRsetEdit("www", "A", (*www, replace(www[0], rdata="192.0.2.81")))])
    set_enabled(zone, "www", "192.0.2.80", False)
    assert ask("www.example.org.") == ("NOERROR", {"192.0.2.81"})


@pytest.mark.integration
def test_rundns_stops_answering_a_disabled_record_and_answers_it_again(rundns):  # noqa: F811
    zone = Zone.objects.get()
    set_enabled(zone, "www", "192.0.2.80", False)
    assert wait_for(lambda: "status: NXDOMAIN" in rundns.dig("www.example.org", "A"), 3)
    set_enabled(zone, "www", "192.0.2.80", True)
    assert wait_for(lambda: rundns.short("www.example.org", "A") == "192.0.2.80", 3)
