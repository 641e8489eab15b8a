"""Rollovers driven by the service's clock, judged at every step by a validating Unbound.

The keys and states come from the database exactly as a DNS worker gets them
(``signing_plan(origin, now)``) at moments picked along each rollover's timeline; between
steps Unbound forgets its cached key sets, as the waits of RFC 7583 let them expire.
"""

from __future__ import annotations

import datetime

import dns.flags
import dns.rcode
import pytest
from django.utils import timezone

from dnsadmin import dnssec, snapshot
from dnsadmin.models import SigningKey
from dnsadmin.names import signer
from dnsadmin.names.catalog import ZoneCatalog
from tests.names.validators import Unbound
from tests.names.zones import ThreadedServer

pytestmark = pytest.mark.integration
ORIGIN = "example.org."
SECOND = datetime.timedelta(seconds=1)


class Validated:
    def __init__(self, zone, directory) -> None:
        self.zone = zone
        self.catalog = ZoneCatalog()
        self.server = ThreadedServer(self.catalog)
        self.server.start()
        self.unbound = Unbound(directory, self.server.port, zones=(ORIGIN,))

    def serve(self, now: datetime.datetime) -> None:
        """Serve the zone as a worker would sign it at ``now``."""
        built = snapshot.load_zone(ORIGIN)
        plan = dnssec.signing_plan(ORIGIN, now)
        signer.sign_zone(built, plan.keys, plan.policy)
        self.catalog.replace(built)

    def secure(self) -> list[tuple[str, int, bool]]:
        found = []
        for name, rdtype in (("www", "A"), ("nx", "A"), ("www", "MX"), ("", "DNSKEY")):
            response = self.unbound.ask(f"{name}.{ORIGIN}" if name else ORIGIN, rdtype)
            found.append((name, response.rcode(), bool(response.flags & dns.flags.AD)))
        return found

    def all_secure(self) -> bool:
        return all(ad and rcode != dns.rcode.SERVFAIL for _, rcode, ad in self.secure())

    def stop(self) -> None:
        self.unbound.stop()
        self.server.stop()


@pytest.fixture
def validated(zone, tmp_path):
    start = timezone.now()
    dnssec.enable(zone, now=start)
    running = Validated(zone, tmp_path)
    running.serve(start)
    running.unbound.start(dnssec.ds_lines(zone, start))
    running.start = start
    yield running
    running.stop()


def test_a_zsk_rollover_validates_at_every_step_of_its_timeline(validated):
    start = validated.start
    old = SigningKey.objects.get(role="zsk")
    dnssec.rollover(validated.zone, "zsk", now=start)
    new = SigningKey.objects.filter(role="zsk").exclude(pk=old.pk).get()
    old.refresh_from_db()
    for moment in (start, new.active - SECOND, new.active + SECOND, old.removed + SECOND):
        validated.serve(moment)
        validated.unbound.wait_ttls()
        assert validated.all_secure(), (moment, validated.secure(), validated.unbound.log())
    assert dnssec.signing_plan(ORIGIN, old.removed + SECOND).keys[-1].tag == new.tag


def test_a_ksk_rollover_validates_with_the_ds_swapped(validated):
    start = validated.start
    zone = validated.zone
    dnssec.ds_seen(zone, now=start)
    old = SigningKey.objects.get(role="ksk")
    dnssec.rollover(zone, "ksk", now=start)
    validated.serve(start)
    assert validated.all_secure(), validated.secure()  # old DS, both KSKs sign the key set
    seen = start + datetime.timedelta(hours=2)
    dnssec.ds_seen(zone, now=seen)
    old.refresh_from_db()
    after = old.removed + SECOND
    validated.serve(after)
    validated.unbound.start(dnssec.ds_lines(zone, after))  # the parent's DS swapped
    assert validated.all_secure(), (validated.secure(), validated.unbound.log())
    assert old.tag not in {k.tag for k in dnssec.signing_plan(ORIGIN, after).keys}
