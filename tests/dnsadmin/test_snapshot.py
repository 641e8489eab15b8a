"""What the workers load from the database: a disabled record is kept but not served."""

from __future__ import annotations

import contextlib
import random
from dataclasses import replace

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dnsadmin import snapshot
from dnsadmin.changes import (
    ChangeError,
    RecordData,
    RRsetEdit,
    apply_changes,
    current_rrset,
    fingerprint,
)
from dnsadmin.models import Zone
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.snapshot import PATCH_ROWS, changed_rrsets, load_zone, refresh_zone
from tests.dnsadmin.test_rundns import rundns, wait_for  # noqa: F401 (rundns is a fixture)
from tests.dnsadmin.test_update_differential import VALUES  # the same random records
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
    assert wait_for(lambda: "status: NXDOMAIN" in rundns.dig("www.example.org", "A"), 30)
    set_enabled(zone, "www", "192.0.2.80", True)
    assert wait_for(lambda: rundns.short("www.example.org", "A") == "192.0.2.80", 30)


# a worker patches the zone it serves with the RRsets a change rewrote ----------------------


def served_form(zone) -> dict:
    """Everything a served zone answers from: its nodes (names as spelt, RRsets in wire form
    and order), serial, SOA, cuts, DNAMEs and transfer ACL."""
    nodes = {
        key: (node._labels, {t: (node.records(t).ttl, node.records(t).wires) for t in node.types()})
        for key, node in zone._nodes.items()
    }
    return {
        "nodes": nodes,
        "serial": zone.serial,
        "soa": zone.soa_records,
        "cuts": zone._cuts,
        "dnames": zone._dnames,
        "acl": (zone.transfer_acl, zone.transfer_keys),
        "negative": zone._negative_soa,
    }


OWNERS = ["www", "a.b.c", "b.c", "x.a.b.c", "*.w", "deep.er.name", "mail", "_acme-challenge", "@"]
TYPES = [*VALUES, "NS", "DNAME"]  # cuts and DNAMEs come and go too
MARKED = {"NS": ["ns.example.net."], "DNAME": ["example.net."]}


def random_edit(rng: random.Random) -> RRsetEdit:
    owner = rng.choice(OWNERS)
    rdtype = rng.choice(TYPES)
    choices = VALUES.get(rdtype) or MARKED[rdtype]
    values = rng.sample(choices, rng.randint(0, len(choices)))
    ttl = rng.choice([None, 60, 300])
    records = tuple(RecordData(v, ttl, rng.random() > 0.2) for v in values)
    return RRsetEdit(owner, rdtype, records)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(4))
def test_a_patched_zone_equals_the_zone_built_from_every_row(zone, seed):
    rng = random.Random(seed)
    served = load_zone("example.org.")
    patched_times = 0
    for step in range(60):
        for _ in range(rng.choice([1, 1, 2, 3, 5])):  # often several changes in between
            edits = {}
            for _ in range(rng.randint(1, 3)):
                edit = random_edit(rng)
                edits[(edit.owner, edit.rdtype)] = edit
            settings = {"default_ttl": rng.choice([3600, 1800])} if rng.random() < 0.05 else None
            with contextlib.suppress(ChangeError):  # a rule broken: nothing changed
                apply_changes(zone, list(edits.values()), settings=settings)
        before = served
        served = refresh_zone("example.org.", before)
        patched_times += served is not before and served._nodes is not before._nodes
        assert served_form(served) == served_form(load_zone("example.org.")), step
    assert patched_times


@pytest.mark.django_db
def test_a_zone_is_built_again_when_its_settings_or_missed_history_say_so(zone):
    served = load_zone("example.org.")
    apply_changes(zone, [RRsetEdit("new", "A", (RecordData("192.0.2.9"),))])
    assert changed_rrsets(zone, served.serial) == {("new", "A")}
    for n in range(PATCH_ROWS + 1):
        apply_changes(zone, [RRsetEdit(f"n{n}", "A", (RecordData("192.0.2.9"),))])
    assert changed_rrsets(zone, served.serial) is None  # too far behind: built again
    assert served_form(refresh_zone("example.org.", served)) == served_form(
        load_zone("example.org.")
    )
    current = refresh_zone("example.org.", served)
    apply_changes(zone, [], settings={"refresh": zone.refresh + 1})
    assert served_form(refresh_zone("example.org.", current)) == served_form(
        load_zone("example.org.")
    )


@pytest.mark.django_db
def test_a_zone_to_sign_is_built_afresh_not_patched(zone):
    from dnsadmin import dnssec

    served = load_zone("example.org.")
    dnssec.enable(zone)
    apply_changes(zone, [RRsetEdit("new", "A", (RecordData("192.0.2.9"),))])
    fresh = refresh_zone("example.org.", served)
    # The signer writes into the nodes of the zone it signs: none may be the served zone's.
    assert not any(node is served._nodes.get(key) for key, node in fresh._nodes.items())
    assert served_form(fresh) == served_form(load_zone("example.org."))


@pytest.mark.django_db
def test_a_name_added_and_deleted_between_two_loads_leaves_no_trace(zone):
    served = load_zone("example.org.")
    apply_changes(zone, [RRsetEdit("n.new.deep", "A", (RecordData("192.0.2.9"),))])
    apply_changes(zone, [RRsetEdit("n.new.deep", "A", ())])
    patched = refresh_zone("example.org.", served)
    assert patched._nodes is not served._nodes  # patched, not built again
    assert served_form(patched) == served_form(load_zone("example.org."))


@pytest.mark.django_db
def test_a_zone_build_that_fails_leaves_no_rows_being_read(zone, monkeypatch):
    # Their statement closed at once, not once the collector frees the exception's frames:
    # open, it holds a read snapshot of the database (on SQLite, no checkpoint meanwhile).
    closed = []
    rows_of = snapshot.enabled_rows

    def watched(zone):
        try:
            yield from rows_of(zone)
        finally:
            closed.append(True)

    def failing_build(origin, records, **options):
        next(records)  # the SOA
        next(records)  # a record read from the database, with more to come
        raise ValueError("a record the zone cannot take")

    monkeypatch.setattr(snapshot, "enabled_rows", watched)
    monkeypatch.setattr(snapshot, "build_zone", failing_build)
    with pytest.raises(ValueError) as raised:
        snapshot.served_zone(zone)
    assert closed == [True]  # while the error and its frames live on (logged, in a cycle)
    assert "cannot take" in str(raised.value)
