"""loadzone and dumpzone: BIND files in and out, losslessly, all or nothing."""

from __future__ import annotations

import io
import textwrap

import dns.rdata
import dns.zone
import pytest
from django.core.management import CommandError, call_command

from dnsadmin.models import Record, Zone, serial_gt

pytestmark = pytest.mark.django_db

ZONE = textwrap.dedent(
    """\
    $ORIGIN example.org.
    $TTL 1800
    @       IN SOA ns1 hostmaster 2024010101 7200 1800 2419200 300
            IN NS  ns1
            IN NS  ns2.example.net.
            IN MX  10 mail
    ns1     IN A   192.0.2.53
    mail    IN A   192.0.2.25
    www 300 IN A   192.0.2.80
            IN AAAA 2001:db8::80
    ftp     IN CNAME www
    *.users IN TXT "wildcard" "two strings"
    _sip._tcp IN SRV 10 60 5060 sip
    sip     IN A 192.0.2.5
    sub     IN NS ns.sub
    ns.sub  IN A 192.0.2.99
    $GENERATE 1-5 host$ A 198.51.100.$
    """
)


def load(text: str, *args: str) -> str:
    out = io.StringIO()
    path = "-"
    import sys

    stdin, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        call_command("loadzone", path, *args, stdout=out)
    finally:
        sys.stdin = stdin
    return out.getvalue()


def dump(origin: str) -> str:
    out = io.StringIO()
    call_command("dumpzone", origin, stdout=out)
    return out.getvalue()


def zone_contents(text: str) -> set[tuple[str, int, str, str]]:
    zone = dns.zone.from_text(text, relativize=False)
    return {
        (name.to_text(), rdataset.ttl, rdataset.rdtype.name, rdata.to_text())
        for name, rdataset in zone.iterate_rdatasets()
        if rdataset.rdtype.name != "SOA"
        for rdata in rdataset
    }


def zone_soa(text: str) -> tuple[int, dns.rdata.Rdata]:
    """The SOA's TTL and rdata in a zone file."""
    zone = dns.zone.from_text(text, relativize=False)
    rdataset = zone.get_rdataset(zone.origin, "SOA")
    return rdataset.ttl, rdataset[0]


def test_a_zone_file_is_loaded_with_generate_and_its_soa():
    assert "Loaded example.org." in load(ZONE)
    zone = Zone.objects.get(origin="example.org.")
    assert (zone.primary_ns, zone.contact, zone.minimum, zone.refresh) == (
        "ns1.example.org.",
        "hostmaster.example.org.",
        300,
        7200,
    )
    assert zone.records.filter(owner__startswith="host").count() == 5
    assert zone.records.get(owner="www", rdtype="A").ttl == 300
    assert zone.serial > 2024010101


def test_load_dump_load_is_lossless():
    load(ZONE)
    first = dump("example.org")
    assert "already holds this data" in load(first, "--replace")
    second = dump("example.org.")
    assert zone_contents(first) == zone_contents(second) == zone_contents(ZONE)
    # Lossless for the SOA means every field and its TTL come back as the file had them,
    # except the serial: a load is a committed change, and the serial goes up on every
    # committed change and never back (YYYYMMDDnn, RFC 1982). So the first dump's serial is
    # ahead of the file's; loading it back changes nothing, so the serial stays.
    soas = [zone_soa(text) for text in (ZONE, first, second)]
    assert len({(ttl, soa.replace(serial=0)) for ttl, soa in soas}) == 1
    serials = [soa.serial for _, soa in soas]
    assert serial_gt(serials[1], serials[0]) and serials[2] == serials[1]
    assert Zone.objects.get().serial == serials[2]


def test_each_load_is_one_change_in_the_history_saying_what_it_did():
    load(ZONE)
    created = Zone.objects.get().changes.get()
    assert (created.source, created.via, created.serials) == (
        "loadzone",
        "<stdin>",
        f"created, serial {Zone.objects.get().serial}",
    )
    assert {r.action for r in created.rrsets.all()} == {"added"}
    edited = ZONE.replace("192.0.2.80", "192.0.2.81").replace("ftp     IN CNAME www\n", "")
    output = load(edited + "new IN A 192.0.2.9\n", "--replace")
    assert "(RRsets: 1 added, 1 changed, 1 removed)" in output
    zone = Zone.objects.get()
    change = zone.changes.first()
    assert (change.source, change.via, change.serial_after) == ("loadzone", "<stdin>", zone.serial)
    assert change.serial_before == created.serial_after
    assert {(r.owner, r.rdtype, r.action) for r in change.rrsets.all()} == {
        ("www", "A", "changed"),
        ("ftp", "CNAME", "removed"),
        ("new", "A", "added"),
    }
    assert change.author == "loadzone (<stdin>)"


def test_a_broken_file_names_the_line_and_changes_nothing():
    load(ZONE)
    before = list(Record.objects.values_list("owner", "rdtype", "rdata"))
    serial = Zone.objects.get().serial
    broken = ZONE.replace("mail    IN A   192.0.2.25", "mail    IN A   192.0.2.325")
    with pytest.raises(CommandError, match=r"<stdin>:8: .*\(mail +IN A +192\.0\.2\.325\)"):
        load(broken, "--replace")
    assert list(Record.objects.values_list("owner", "rdtype", "rdata")) == before
    assert Zone.objects.get().serial == serial


def test_include_is_refused():
    with pytest.raises(CommandError, match=r"\$INCLUDE"):
        load(ZONE + "$INCLUDE /etc/passwd\n")
    assert not Zone.objects.exists()


def test_an_error_found_before_the_end_of_the_line_names_that_line():
    with pytest.raises(CommandError, match=r"<stdin>:4: unknown rdatatype 'BOGUS'"):
        load(ZONE.replace("IN NS  ns1", "IN BOGUS ns1", 1))


def test_a_rule_violation_in_a_file_changes_nothing():
    with pytest.raises(CommandError, match="CNAME"):
        load(ZONE + "www IN CNAME elsewhere.example.net.\n")
    with pytest.raises(CommandError, match="delegation sub.example.org."):
        load(ZONE + "www.sub IN TXT hidden\n")
    assert not Zone.objects.exists()


def test_an_existing_zone_is_only_overwritten_with_replace():
    load(ZONE)
    with pytest.raises(CommandError, match="exists already"):
        load(ZONE)
    smaller = "\n".join(line for line in ZONE.splitlines() if "GENERATE" not in line) + "\n"
    load(smaller, "--replace")
    assert not Record.objects.filter(owner__startswith="host").exists()


def test_the_serial_never_goes_back_on_replace():
    load(ZONE)
    serial = Zone.objects.get().serial
    # The file's serial (2024010101) is older than the database's.
    load(ZONE.replace("192.0.2.80", "192.0.2.81"), "--replace")
    assert serial_gt(Zone.objects.get().serial, serial)


def test_a_merge_keeps_what_the_file_does_not_have():
    load(ZONE)
    load(
        "$ORIGIN example.org.\n$TTL 1800\n@ IN SOA ns1 hostmaster 1 2 3 4 5\n@ IN NS ns1\n"
        "extra IN A 192.0.2.77\n",
        "--merge",
    )
    zone = Zone.objects.get()
    assert zone.records.filter(owner="extra").exists() and zone.records.filter(owner="www").exists()
    assert (zone.refresh, zone.retry) == (2, 3)  # a zone file brings its SOA
    assert zone.changes.first().summary.startswith("Loaded (<stdin>) (merge): 1 add")


def test_origin_can_be_given_when_the_file_has_none():
    text = ZONE.replace("$ORIGIN example.org.\n", "")
    load(text, "--origin", "example.org")
    assert Zone.objects.filter(origin="example.org.").exists()


def test_a_zone_without_ns_is_refused():
    text = "\n".join(line for line in ZONE.splitlines() if " NS " not in line) + "\n"
    with pytest.raises(CommandError, match="no NS"):
        load(text)


def test_dumping_an_unknown_zone_is_an_operator_error():
    with pytest.raises(CommandError, match="No zone"):
        dump("nowhere.example")


def test_a_missing_file_is_an_operator_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("loadzone", str(tmp_path / "absent.zone"))
