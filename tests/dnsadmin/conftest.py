"""A small zone most DNS tests start from."""

from __future__ import annotations

import pytest

from dnsadmin.changes import import_zone
from dnsadmin.models import Zone, ZoneChange
from dnsadmin.zonefile import parse_zone_text

ZONE = """\
$ORIGIN example.org.
$TTL 3600
@    IN SOA ns1 hostmaster 2026010100 7200 900 1209600 300
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.80
"""


@pytest.fixture
def zone(db) -> Zone:
    """example.org. loaded through the importer, as an operator would."""
    return import_zone(parse_zone_text(ZONE))[0]


def edits():
    """Return the history made after the fixture's zone was loaded (its creation is loadzone's)."""
    return ZoneChange.objects.exclude(source="loadzone")
