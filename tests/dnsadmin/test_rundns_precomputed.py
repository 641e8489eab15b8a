"""`rundns` precomputes the first answers of its zones before it starts answering, and of a
zone changed later in the background, having served the change as soon as its rows are read
(names.zone.precompute_served); it reports them once made."""

from __future__ import annotations

import asyncio

import pytest

from appliance.models import WorkerStatus
from dnsadmin import snapshot
from dnsadmin.changes import add_record, import_zone
from dnsadmin.names.zone import precompute_served
from dnsadmin.zonefile import parse_zone_text
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for

HOSTS = "".join(f"h{i} IN A 198.51.100.{i % 250 + 1}\n" for i in range(300))
HOSTS += "alias IN CNAME h7\n_http._tcp IN SRV 0 0 80 h9\n"


def precomputed(origin: str) -> int:
    """Return how many answers the zone's rows precompute, made here as rundns makes them."""
    zone = snapshot.load_zone(origin)
    assert zone.wire_due is not None and zone.wired_count() == 0  # served before they are made
    asyncio.run(precompute_served(lambda: zone))
    return zone.wired_count()


def reported(pid: int) -> int | None:
    """Return the precomputed answers a rundns process reported in its last heartbeat."""
    row = WorkerStatus.objects.filter(kind="dns", pid=pid).first()
    return row.details.get("kept_answers", {}).get("precomputed") if row else None


@pytest.mark.integration
def test_rundns_precomputes_the_answers_of_a_zone_it_serves_and_keeps_them_in_line(
    worker_env,
):
    zone = import_zone(parse_zone_text(ZONE + HOSTS))[0]
    expected = precomputed(zone.origin)
    assert expected > 300
    server = start_rundns(worker_env)
    try:
        pid = server.process.pid
        # Made before answering: the first heartbeat (every 5 s) reports them all.
        assert wait_for(lambda: reported(pid) is not None, 30)
        assert reported(pid) == expected
        add_record(zone, "new", "TXT", '"fresh"')  # patched into the zone served
        assert wait_for(lambda: reported(pid) == expected + 1, 30), reported(pid)
        assert server.short("new.example.org", "TXT") == '"fresh"'
        assert server.short("ALIAS.example.org", "A") == "h7.example.org.\n198.51.100.8"
    finally:
        stop(server)
