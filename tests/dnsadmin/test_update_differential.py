"""Differential test: the same random updates (prerequisites, grants, refusals) sent to BIND 9
with the equivalent update-policy and to rundns get the same rcode, one by one, and leave the
same zone (compared by AXFR; the SOA serial aside, as BIND counts by one and we by date)."""

from __future__ import annotations

import random
import subprocess

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest

from dnsadmin.changes import change_settings
from dnsadmin.models import Zone
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import wait_for
from tests.dnsadmin.test_update_nsupdate import manage, primary, read_secret, shared_secrets_key
from tests.names.zones import NAMED_CONF
from tests.services import free_port

pytestmark = pytest.mark.integration
__all__ = ["primary", "shared_secrets_key"]  # fixtures

UPDATES = 300
NAMES = ["@", "www", "a", "b", "c.b", "x.c.b", "host", "_acme-challenge", "out.example.net."]
VALUES = {
    "A": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
    "TXT": ['"one"', '"two"', '"three"'],
    "MX": ["10 www.example.org.", "20 a.example.org."],
    "CNAME": ["www.example.org.", "a.example.org."],
    "AAAA": ["2001:db8::1", "2001:db8::2"],
    "NS": ["ns1.example.org.", "ns9.example.org."],
}
TYPES = list(VALUES)
POLICY = """
update-policy {
    grant acme zonesub; grant admin zonesub ANY; grant scoped name _acme-challenge.example.org TXT;
};
allow-transfer { any; };
"""


@pytest.fixture
def admin(primary, tmp_path):
    """A third key, which may change every type (the apex NS included)."""
    (tmp_path / "admin.key").write_text(manage("tsig", "add", "admin"))
    manage("zone", "grant", "example.org", "admin", "zonesub", "ANY")


@pytest.fixture
def bind(tmp_path, primary, admin):
    """named serving the same zone, with the keys the appliance made and the same policy."""
    directory = tmp_path / "named"
    directory.mkdir()
    (directory / "example.org").write_text(ZONE)
    keys = "".join((tmp_path / f"{name}.key").read_text() for name in ("acme", "scoped", "admin"))
    zone = f'zone "example.org" {{ type primary; file "example.org"; {POLICY} }};'
    conf = directory / "named.conf"
    port = free_port()
    conf.write_text(keys + NAMED_CONF.format(directory=directory, port=port, zones=zone))
    log = (directory / "named.log").open("w")
    process = subprocess.Popen(["named", "-g", "-n", "1", "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_answering(port, process, directory)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


def wait_answering(port: int, process, directory) -> None:
    query = dns.message.make_query("example.org.", "SOA")
    for _ in range(300):
        assert process.poll() is None, (directory / "named.log").read_text()[-2000:]
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
            return
        except (dns.exception.Timeout, OSError):
            continue
    raise AssertionError((directory / "named.log").read_text()[-2000:])


def absolute(name: str) -> str:
    if name.endswith("."):
        return name
    return "example.org." if name == "@" else f"{name}.example.org."


def pick(rng: random.Random) -> tuple[str, str]:
    """A name and a type; an underscore name only gets TXT (BIND's check-names refuses it
    as the owner of an address or a mail exchanger), and NS goes to the apex only."""
    name, rdtype = rng.choice(NAMES), rng.choice(TYPES)
    if name.startswith("_"):
        rdtype = "TXT"
    if rdtype == "NS":
        name = "@"  # a delegation would leave data below it, which BIND keeps and we refuse
    return absolute(name), rdtype


def random_update(rng: random.Random) -> tuple[str, list]:
    """Return which key signs (or none) and the prerequisite and update operations."""
    ops = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        name, rdtype = pick(rng)
        form = rng.choice(["yxdomain", "nxdomain", "yxrrset", "nxrrset", "yxvalue"])
        ops.append(("prereq", form, name, rdtype, rng.choice(VALUES[rdtype])))
    for _ in range(rng.randint(1, 3)):
        name, rdtype = pick(rng)
        kind = rng.choice(["add", "add", "add", "delete_rrset", "delete_name", "delete_rr"])
        ops.append((kind, name, rdtype, rng.choice(VALUES[rdtype]), rng.choice([60, 300])))
    return rng.choice(["acme", "acme", "admin", "admin", "scoped", None]), ops


def build(ops: list, keyring) -> dns.message.Message:
    message = dns.update.UpdateMessage("example.org", keyring=keyring)
    for op in ops:
        if op[0] == "prereq":
            _, form, name, rdtype, value = op
            if form == "yxdomain":
                message.present(name)
            elif form == "nxdomain":
                message.absent(name)
            elif form == "yxrrset":
                message.present(name, rdtype)
            elif form == "nxrrset":
                message.absent(name, rdtype)
            else:
                message.present(name, dns.rdata.from_text("IN", rdtype, value))
            continue
        kind, name, rdtype, value, ttl = op
        if kind == "add":
            message.add(name, ttl, rdtype, value)
        elif kind == "delete_rrset":
            message.delete(name, rdtype)
        elif kind == "delete_name":
            message.delete(name)
        else:
            message.delete(name, rdtype, value)
    return message


def served_serial(port: int) -> int:
    query = dns.message.make_query("example.org.", "SOA")
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=2).answer[0][0].serial


def zone_contents(port: int, keyring) -> set:
    """The zone by AXFR (signed, so rundns's key ACL lets it through), SOA serial left out."""
    records = set()
    for message in dns.query.xfr("127.0.0.1", "example.org.", port=port, keyring=keyring):
        for rrset in message.answer:
            for rdata in rrset:
                if rdata.rdtype == dns.rdatatype.SOA:
                    rdata = rdata.replace(serial=0)
                records.add((rrset.name.to_text(), rrset.ttl, rdata.to_text()))
    return records


def test_random_updates_get_the_same_rcodes_and_leave_the_same_zone_as_bind(
    primary, bind, tmp_path
):
    keyrings = {
        name: dns.tsigkeyring.from_text(
            {name: ("hmac-sha256", read_secret(tmp_path / f"{name}.key"))}
        )
        for name in ("acme", "scoped", "admin")
    }
    change_settings(Zone.objects.get(), {"transfer_acl": "key acme"})
    rng = random.Random(2136)
    differences, seen = [], set()
    for number in range(UPDATES):
        signer, ops = random_update(rng)
        keyring = keyrings.get(signer)
        rcodes = [
            dns.query.tcp(build(ops, keyring), "127.0.0.1", port=port, timeout=5).rcode()
            for port in (bind, primary.port)
        ]
        seen.add(rcodes[0])
        if rcodes[0] != rcodes[1]:
            differences.append((number, signer, ops, [dns.rcode.to_text(r) for r in rcodes]))
    assert differences == [], "\n".join(map(str, differences[:5]))
    assert {dns.rcode.to_text(r) for r in seen} >= {
        "NOERROR", "REFUSED", "NOTZONE", "NXDOMAIN", "YXDOMAIN", "NXRRSET", "YXRRSET",
    }  # fmt: skip
    manage("zone", "policy", "example.org")  # still readable after it all
    # Answers are sent once committed; the served copy follows within a second.
    serial = Zone.objects.get().serial
    assert wait_for(lambda: served_serial(primary.port) == serial, 30)
    ours, theirs = zone_contents(primary.port, keyrings["acme"]), zone_contents(bind, None)
    assert ours - theirs == set() and theirs - ours == set()
