"""Differential test with DO=1: BIND serves the same zone signed with the same keys
(dnssec-signzone and our keys in BIND's files) and must agree with us on rcode, flags and the
owner names and types (RRSIGs by type covered) of the answer and authority sections.

Signatures themselves differ (ECDSA is randomised, the windows differ): only their presence
and what they cover are compared. The queries are test_differential's.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rdatatype
import pytest

from dnsadmin.names import signer
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import zone_from_text
from tests.names.test_differential import NAMES, TYPES, absolute
from tests.names.validators import KeySet, policy
from tests.names.zones import EXAMPLE_COM, EXAMPLE_NET, Bind, ThreadedServer, query_server

pytestmark = pytest.mark.integration

ORIGIN = "example.com."


def sign_with_bind(directory: Path, keys: KeySet, *, nsec3: bool) -> str:
    """Return EXAMPLE_COM signed by dnssec-signzone with the keys' BIND files."""
    files = []
    for key in keys.keys:
        stem = directory / f"K{ORIGIN}+{keys.algorithm:03d}+{key.tag:05d}"
        Path(f"{stem}.key").write_text(f"{ORIGIN} 3600 IN DNSKEY {key.dnskey.to_text()}\n")
        Path(f"{stem}.private").write_text(signer.bind_private_text(key.private, keys.algorithm))
        files.append(str(stem))
    unsigned = directory / "example.com.unsigned"
    dnskeys = "".join(f"@ 3600 IN DNSKEY {key.dnskey.to_text()}\n" for key in keys.keys)
    unsigned.write_text(EXAMPLE_COM + dnskeys)
    signed = directory / "example.com.signed"
    denial = ["-3", "-", "-H", "0"] if nsec3 else []
    command = ["dnssec-signzone", "-o", ORIGIN, "-f", str(signed), "-x", *denial]
    subprocess.run(
        [*command, str(unsigned), *files], check=True, capture_output=True, cwd=directory
    )
    return signed.read_text()


class Pair:
    def __init__(self, directory: Path, nsec3: bool) -> None:
        keys = KeySet.new()
        zone = zone_from_text(EXAMPLE_COM, ORIGIN, transfer_acl=["127.0.0.1/32"])
        signer.sign_zone(zone, keys.keys, policy(nsec3=nsec3))
        self.ours = ThreadedServer(ZoneCatalog([zone, zone_from_text(EXAMPLE_NET, "example.net.")]))
        zones = {ORIGIN: sign_with_bind(directory, keys, nsec3=nsec3), "example.net.": EXAMPLE_NET}
        self.bind = Bind(directory, zones)
        self.ours.start()
        self.bind.start()

    def stop(self) -> None:
        self.ours.stop()
        self.bind.stop()


@pytest.fixture(scope="module", params=["nsec3", "nsec"])
def pair(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    running = Pair(Path(tmp_path_factory.mktemp("signed-named")), request.param == "nsec3")
    yield running
    running.stop()


def shape(section) -> frozenset:
    return frozenset(
        (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rrset.covers)
        for rrset in section
    )


def summary(response: dns.message.Message) -> tuple:
    flags = response.flags & (dns.flags.AA | dns.flags.TC)
    if response.flags & dns.flags.TC:
        return response.rcode(), flags
    return response.rcode(), flags, shape(response.answer), shape(response.authority)


def test_it_agrees_with_bind_on_signed_answers_with_do(pair: Pair):
    found = []
    for name, rdtype in itertools.product(NAMES, [*TYPES, "DNSKEY", "NSEC3PARAM", "RRSIG"]):
        query = dns.message.make_query(absolute(name), rdtype, want_dnssec=True, payload=1232)
        for tcp in (False, True):
            ours = summary(query_server(pair.ours.port, query, tcp=tcp))
            bind = summary(query_server(pair.bind.port, query, tcp=tcp))
            if ours != bind:
                found.append(f"{name}/{rdtype} tcp={tcp}:\n  ours {ours}\n  BIND {bind}")
    assert not found, "\n".join(found[:10]) + f"\n({len(found)} disagreements)"
