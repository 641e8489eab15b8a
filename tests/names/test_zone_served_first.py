"""A zone served before its answers are precomputed (Zone.wire_due): answered byte for byte
as one with them, given them in the background (zone.precompute_served) while it answers,
and patched meanwhile without losing or corrupting any."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref

import pytest

from dnsadmin.names import authority
from dnsadmin.names import zone as zone_module
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import build_zone, patch_zone, precompute_served
from tests.names.test_zone import record
from tests.names.test_zone_wired import (
    ALIASES,
    CLIENT,
    asked_of,
    assert_counted_as_built,
    authoritative,
    wire,
    wired,
)

ORIGIN = "example.com."
# Enough names for the answers to be made in many slices (WIRE_SLICE set to 0: 32 names).
HOSTS = [record(f"h{i}", "A", f"198.51.100.{i % 250 + 1}") for i in range(1500)]
HOSTS += [record(f"c{i}", "CNAME", f"h{i}.example.com.") for i in range(0, 1500, 7)]
HOSTS += [record(f"_s{i}._tcp", "SRV", f"0 0 80 h{i}.example.com.") for i in range(0, 1500, 11)]
ROWS = [*ALIASES, *HOSTS]


def questions(zone) -> list[bytes]:
    """The tests' questions, and some of the hosts' names, aliases and SRVs."""
    extra = [wire(f"{name}.example.com.", rdtype) for name in ("h3", "H14", "c7", "c700")
             for rdtype in ("A", "AAAA", "TXT", "CNAME")]  # fmt: skip
    extra += [wire("_s11._TCP.example.com.", "SRV"), wire("_s22._tcp.example.com.", "SRV")]
    return asked_of(zone) + extra


def assert_answers_as(zone, built) -> None:
    """Check that zone answers every question as the zone built with its answers does, by
    the chain as production runs it (at once, then the whole way)."""
    ours, theirs = authoritative(ZoneCatalog([zone])), authoritative(ZoneCatalog([built]))
    for chain in (ours, theirs):
        chain.resolve(wire("www.example.com.", "A"), tcp=False, client=CLIENT)  # client known
    for query in questions(built):
        assert ours.at_once(query, CLIENT) == theirs.at_once(query, CLIENT), query
        found = ours.resolve(query, tcp=False, client=CLIENT)
        assert found == theirs.resolve(query, tcp=False, client=CLIENT), query


def assert_precomputed_as(zone, built) -> None:
    """Check that zone holds and counts the precomputed answers of the zone built with them,
    and answers from them what the zone answers the long way."""
    assert zone.wire_due is None
    assert zone.precomputed() == built.wired
    assert_counted_as_built(zone, built)
    catalog = ZoneCatalog([zone])
    answered = [query for query in questions(built) if wired(query, catalog) is not None]
    assert len(answered) >= 12
    for query in answered:
        assert wired(query, catalog) == authority.answer(query, catalog)


@pytest.fixture
def sliced(monkeypatch):
    """Make the answers in slices of 32 names, so that the tests see the making under way."""
    monkeypatch.setattr(zone_module, "WIRE_SLICE", 0)


def test_a_zone_served_before_its_answers_are_made_answers_the_same_bytes():
    zone = build_zone(ORIGIN, ROWS, precompute=False)
    built = build_zone(ORIGIN, ROWS)
    assert zone.wire_due is not None and zone.wiring
    assert not zone.wired and zone.wired_count() == zone.wired_bytes() == 0  # reported true
    assert all(wired(query, ZoneCatalog([zone])) is None for query in questions(built))
    assert_answers_as(zone, built)


def test_the_answers_are_made_between_questions_and_installed(sliced):
    zone = build_zone(ORIGIN, ROWS, precompute=False)
    built = build_zone(ORIGIN, ROWS)
    catalog = ZoneCatalog([zone])

    async def main() -> int:
        making = asyncio.create_task(precompute_served(lambda: catalog.get(zone.origin)))
        slices = 0
        while not making.done():
            await asyncio.sleep(0)
            # Between slices, the zone served answers as the one with its answers.
            query = wire(f"h{slices * 7 % 1500}.example.com.", "A")
            assert authority.answer(query, catalog) == authority.answer(query, ZoneCatalog([built]))
            slices += 1
        await making
        return slices

    assert asyncio.run(main()) > 10  # made in slices, the loop free in between
    assert_precomputed_as(zone, built)
    assert_answers_as(zone, built)


CHANGES = [
    # A target's address changed, an alias to a host added, a host removed, an SRV target's
    # address changed, a name added.
    ([("www", 1)], [record("www", "A", "192.0.2.11")]),
    ([("alias", 5)], [record("alias", "CNAME", "h5.example.com.")]),
    ([("h21", 1)], []),
    ([("h22", 1)], [record("h22", "A", "192.0.2.22")]),
    ([("new", 16)], [record("new", "TXT", '"fresh"')]),
]
DELEGATION = ([("b", 2)], [record("b", "NS", "ns1.example.com.")])


@pytest.mark.parametrize("changes", [CHANGES, [*CHANGES[:2], DELEGATION, *CHANGES[2:]]])
def test_patches_during_the_making_leave_the_answers_of_a_zone_built_from_its_rows(sliced, changes):
    rows = list(ROWS)
    first = build_zone(ORIGIN, rows, precompute=False)
    catalog = ZoneCatalog()
    tasks: list[asyncio.Task] = []

    def served():
        return catalog.get(first.origin)

    def serve(zone) -> None:
        """As the DNS worker serves a zone (worker.serve)."""
        catalog.replace(zone)
        if zone.wire_due is not None:
            tasks.append(asyncio.create_task(precompute_served(served)))

    async def main() -> None:
        nonlocal rows
        serve(first)
        for serial, (changed, added) in enumerate(changes, start=2):
            for _ in range(3):
                await asyncio.sleep(0)  # a few slices made
            assert first.wire_due is not None  # the patch lands during the making
            zone = patch_zone(served(), changed, added, serial=serial)
            assert zone.wire_due is not None and not zone.wired  # none of first's yet
            dropped = set(changed)
            rows = [row for row in rows if (row[0], row[2]) not in dropped] + added
            serve(zone)
            assert_answers_as(zone, build_zone(ORIGIN, rows, serial=serial))
        for task in tasks:
            await task  # polls nothing: each ends when the zone it waits for is made

    asyncio.run(main())
    zone = served()
    rebuilt = build_zone(ORIGIN, rows, serial=len(changes) + 1)
    assert_precomputed_as(zone, rebuilt)
    assert_answers_as(zone, rebuilt)
    # The zone patched from first shares first's answers unless a delegation was made.
    assert (zone.wired is first.wired) == (DELEGATION not in changes)


def test_a_patch_after_the_making_takes_the_answers_and_redoes_its_changes():
    first = build_zone(ORIGIN, ROWS, precompute=False)
    patched = patch_zone(first, *CHANGES[0], serial=2)
    # The apex is touched by every patch (its SOA's serial).
    assert patched.wire_due.base is first and patched.wire_due.touched == {(), (b"www",)}
    again = patch_zone(patched, *CHANGES[1], serial=3)
    assert again.wire_due.base is first
    assert again.wire_due.touched == {(), (b"www",), (b"alias",)}
    catalog = ZoneCatalog([first])
    asyncio.run(precompute_served(lambda: catalog.get(first.origin)))
    assert first.wire_due is None and first.wired
    # A zone patched from first, served after first's answers were made: taken at once.
    catalog.replace(again)
    asyncio.run(precompute_served(lambda: catalog.get(first.origin)))
    rows = [row for row in ROWS if (row[0], row[2]) != ("www", 1)]
    rows += [*CHANGES[0][1], *CHANGES[1][1]]
    assert_precomputed_as(again, build_zone(ORIGIN, rows, serial=3))
    assert again.wired is first.wired  # shared, the changes beside them


def test_a_zone_replaced_during_the_making_is_given_up(sliced):
    first = build_zone(ORIGIN, ROWS, precompute=False)
    other = build_zone(ORIGIN, ALIASES, precompute=False)  # built afresh from other rows
    catalog = ZoneCatalog([first])

    async def main() -> None:
        making = asyncio.create_task(precompute_served(lambda: catalog.get(first.origin)))
        await asyncio.sleep(0)
        catalog.replace(other)
        await making
        await precompute_served(lambda: catalog.get(first.origin))

    asyncio.run(main())
    assert first.wire_due is not None and not first.wired
    assert_precomputed_as(other, build_zone(ORIGIN, ALIASES))


def test_a_zone_past_its_budget_served_first_precomputes_nothing(monkeypatch):
    whole = build_zone(ORIGIN, ROWS)
    monkeypatch.setattr(zone_module, "WIRED_BUDGET", whole.wired_bytes() - 1)
    zone = build_zone(ORIGIN, ROWS, precompute=False)
    patched = patch_zone(zone, *CHANGES[0], serial=2)
    catalog = ZoneCatalog([patched])
    asyncio.run(precompute_served(lambda: catalog.get(zone.origin)))
    for made in (zone, patched):
        assert not made.wiring and made.wire_due is None and not made.wired
        assert made.wired_count() == made.wired_bytes() == 0


def test_zones_patched_from_one_base_count_the_bytes_of_a_zone_built_afresh():
    first = build_zone(ORIGIN, ROWS, precompute=False)
    one = [record("c1", "CNAME", "t1.example.com.")]
    two = [record("c2", "CNAME", "t2.example.com.")]
    patched = patch_zone(first, [("c1", 5)], one, serial=2)
    catalog = ZoneCatalog([patched])
    # Patched in a thread from the zone served, still waiting, while the loop makes first's.
    again = patch_zone(patched, [("c2", 5)], two, serial=3)
    asyncio.run(precompute_served(lambda: catalog.get(first.origin)))
    assert patched.wire_due is None and again.wire_due.base is first  # a sibling caught up
    catalog.replace(again)
    asyncio.run(precompute_served(lambda: catalog.get(first.origin)))
    rebuilt = build_zone(ORIGIN, [*ROWS, *one, *two], serial=3)
    assert_precomputed_as(again, rebuilt)
    assert set(again.aliased) == set(rebuilt.aliased)  # nothing gone: counted the same
    assert again.wired_bytes() == rebuilt.wired_bytes()


def test_a_making_that_fails_is_logged_and_the_zone_answers_without(monkeypatch, caplog, sliced):
    made = zone_module.Zone._table
    tables = []

    def failing(zone):
        tables.append(zone)
        yield from made(zone)
        if len(tables) == 1:
            raise ValueError("broken")

    monkeypatch.setattr(zone_module.Zone, "_table", failing)
    first = build_zone(ORIGIN, ROWS, precompute=False)
    catalog = ZoneCatalog([first])

    def served():
        return catalog.get(first.origin)

    async def main() -> None:
        making = asyncio.create_task(precompute_served(served))
        await asyncio.sleep(0)
        catalog.replace(patch_zone(served(), *CHANGES[0], serial=2))  # waits for first's
        await making  # ends: raises nothing, logs

    with caplog.at_level(logging.ERROR, logger="dnsadmin.names.zone"):
        asyncio.run(main())
    [logged] = caplog.records
    assert "example.com" in logged.getMessage() and logged.exc_info[0] is ValueError
    for zone in (first, served()):
        assert zone.wire_due is None and not zone.wiring and not zone.wired
    # The zones patched from it answer the general way too: no making starts again.
    patched = patch_zone(served(), *CHANGES[1], serial=3)
    assert patched.wire_due is None and not patched.wiring
    assert tables == [first]
    rows = [row for row in ROWS if (row[0], row[2]) != ("www", 1)]
    rows += [*CHANGES[0][1], *CHANGES[1][1]]
    assert_answers_as(patched, build_zone(ORIGIN, rows, serial=3))


def test_the_zones_of_a_loop_are_made_one_at_a_time(monkeypatch, sliced):
    owned_at = zone_module.Zone.owned_at
    steps = []

    def noted(zone, *args):
        steps.append(zone.origin)  # a step of its making: a name's answers
        return owned_at(zone, *args)

    monkeypatch.setattr(zone_module.Zone, "owned_at", noted)
    zones = [build_zone(origin, ROWS, precompute=False) for origin in (ORIGIN, "example.net.")]
    catalog = ZoneCatalog(zones)

    async def main() -> None:
        # As the worker starts them: one task for each zone served, at once.
        await asyncio.gather(
            *(precompute_served(lambda zone=zone: catalog.get(zone.origin)) for zone in zones)
        )

    asyncio.run(main())
    assert all(zone.wire_due is None and zone.wired for zone in zones)
    # The slices of one zone all before the other's: one slice per turn of the loop.
    runs = [origin for i, origin in enumerate(steps) if i == 0 or steps[i - 1] != origin]
    assert len(runs) == 2 and len(steps) == 2 * len(zones[0])


def test_a_patch_changing_a_cut_while_waiting_is_made_afresh_at_once():
    first = build_zone(ORIGIN, ROWS, precompute=False)
    patched = patch_zone(first, *CHANGES[0], serial=2)
    delegated = patch_zone(patched, *DELEGATION, serial=3)
    assert patched.wire_due.base is first
    assert delegated.wire_due == zone_module.FRESH  # first's answers would not do
    catalog = ZoneCatalog([delegated])
    asyncio.run(precompute_served(lambda: catalog.get(first.origin)))
    assert first.wire_due is not None  # not made: needed by no zone served
    rows = [row for row in ROWS if (row[0], row[2]) != ("www", 1)]
    rows += [*CHANGES[0][1], *DELEGATION[1]]
    assert_precomputed_as(delegated, build_zone(ORIGIN, rows, serial=3))


def test_a_zone_replaced_while_waiting_is_not_kept(sliced):
    first = build_zone(ORIGIN, ROWS, precompute=False)
    catalog = ZoneCatalog()
    tasks: list[asyncio.Task] = []

    def serve(zone) -> None:
        """As worker.serve does: the task reads the zone served by its origin."""
        catalog.replace(zone)
        origin = zone.origin
        tasks.append(asyncio.create_task(precompute_served(lambda: catalog.get(origin))))

    async def main() -> None:
        serve(first)
        await asyncio.sleep(0)
        serve(patch_zone(first, *CHANGES[0], serial=2))
        await asyncio.sleep(0)
        replaced = weakref.ref(catalog.get(first.origin))
        serve(patch_zone(replaced(), *CHANGES[1], serial=3))
        await asyncio.sleep(0)
        gc.collect()
        assert first.wire_due is not None  # still under way
        assert replaced() is None  # nor its task nor the making holds it
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert catalog.get(first.origin).wire_due is None


def test_the_answers_made_join_what_the_process_froze():
    zone = build_zone(ORIGIN, ROWS, precompute=False)
    catalog = ZoneCatalog([zone])
    gc.freeze()  # as the DNS worker does once its zones are loaded
    try:
        frozen = gc.get_freeze_count()
        asyncio.run(precompute_served(lambda: catalog.get(zone.origin), freeze=True))
        assert zone.wired and gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
