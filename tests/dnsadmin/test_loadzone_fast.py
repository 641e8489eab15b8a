"""The fast zone file reader gives exactly what dnspython's gives, and loads big files fast.

Every case is read twice through ``parse_zone_text``: as it is (the fast reader, falling back
to dnspython where it must) and with the fast reader turned off (dnspython alone); records,
their order, TTLs, SOA and error messages must be equal.
"""

from __future__ import annotations

import json
import random

import pytest
from django.core.management import call_command

from dnsadmin import zonefast, zonefile
from dnsadmin.changes import RecordData, import_zone, record_json
from dnsadmin.models import Record, RRsetChange, Zone, ZoneChange, record_sort_key
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for

HEAD = """\
$ORIGIN example.test.
$TTL 3600
@ IN SOA ns1 hostmaster ( 2026120601 ; serial
        7200 900 1209600 300 )
@ IN NS ns1
ns1 IN A 192.0.2.1
"""


def outcome(text: str, origin: str | None, whole: bool, default_ttl: int | None):
    """What parse_zone_text gives: the parsed zone's content, or the error message."""
    try:
        parsed = zonefile.parse_zone_text(
            text, origin=origin, filename="t.zone", whole=whole, default_ttl=default_ttl
        )
    except zonefile.ZoneFileError as error:
        return "error", str(error)
    soa = parsed.soa.to_text() if parsed.soa is not None else None
    records = [(r.owner, r.rdtype, r.ttl, r.rdata, r.wire) for r in parsed.records]
    return parsed.origin.to_text(), soa, parsed.soa_ttl, records


def both(monkeypatch, text: str, origin=None, whole=True, default_ttl=None):
    """Return (fast outcome, dnspython outcome, whether the fast reader read the file)."""
    used = []
    read = zonefast.read

    def watched(*args, **kwargs):
        try:
            result = read(*args, **kwargs)
        except (zonefast.RecordDataError, zonefast.CnameConflict):
            used.append(True)  # an error the fast reader places itself
            raise
        used.append(True)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(zonefast, "read", watched)
        fast = outcome(text, origin, whole, default_ttl)
    with monkeypatch.context() as patch:

        def unsupported(*args, **kwargs):
            raise zonefast.Unsupported("turned off")

        patch.setattr(zonefast, "read", unsupported)
        slow = outcome(text, origin, whole, default_ttl)
    return fast, slow, bool(used)


def generated_zone(count: int, seed: int) -> str:
    """A zone of the common types in many spellings, owners repeated and out of order."""
    rng = random.Random(seed)
    lines = [HEAD]
    alias = False
    for i in range(count):
        owner = rng.choice(
            [f"h{i}", f"H{i % 50}", f"h{i}.Sub", "@", "", f"h{i}.example.test.", "*.w"]
        )
        owner = owner or (f"h{i}" if alias else " ")  # a blank owner: the previous one
        alias = False
        ttl = rng.choice(["", "300 ", "1h ", "IN 60 ", "120 IN "])
        klass = "" if "IN" in ttl else rng.choice(["", "IN ", "in "])
        kind = rng.randrange(10)
        if kind == 0:
            data = f"A 10.{i >> 8 & 255}.{i & 255}.{rng.randrange(256)}"
        elif kind == 1:
            data = rng.choice(
                [f"AAAA 2001:db8::{i:x}", f"aaaa 2001:DB8:0:0::{i:X}", "AAAA ::ffff:192.0.2.1"]
            )
        elif kind == 2:
            data = rng.choice(["MX 10 mail", "MX 20 Mail.Example.Net.", "mx 0 @"])
        elif kind == 3:
            data = rng.choice(
                ['TXT "v=spf1 -all"', "TXT plain words", 'TXT "a;b" "c(d)"', 'TXT ""']
            )
        elif kind == 4:
            data = rng.choice(["SRV 10 5 5060 sip", "SRV 0 0 443 Target.Example.Org."])
        elif kind == 5:
            data = rng.choice(
                ['CAA 0 issue "ca.example.net"', "CAA 128 iodef mailto:x@example.net"]
            )
        elif kind == 6:
            data = rng.choice(["PTR host.example.net.", "NS ns.elsewhere.", "NS ns1"])
            owner = "@" if data.startswith("NS") else owner  # no delegations: no glue rules
        elif kind == 7:
            data = rng.choice(
                ['TXT "caf\\195\\169"', 'TXT "quote \\" inside"', "SSHFP 1 1 " + "ab" * 20]
            )
        elif kind == 8:
            data = rng.choice(
                ["A 192.0.2.7 ; a comment", 'TXT ( "one"\n  "two" )', "A \\# 4 0A000001"]
            )
        else:
            data = f"CNAME c{i}.Elsewhere.Test."
            owner, alias = f"alias{i}", True
        lines.append(f"{owner} {ttl}{klass}{data}")
    return "\n".join(lines) + "\n"


def test_a_generated_zone_reads_the_same_as_with_dnspython(monkeypatch):
    for seed in range(3):
        fast, slow, read_fast = both(monkeypatch, generated_zone(400, seed))
        assert fast == slow
        assert fast[0] != "error" and len(fast[3]) > 250
    # Without errors in it (delegations may catch names below them): the fast reader read it.
    text = HEAD + "".join(
        f'h{i} IN A 10.0.{i >> 8}.{i & 255}\nh{i} TXT "t {i}"\n' for i in range(300)
    )
    fast, slow, read_fast = both(monkeypatch, text)
    assert fast == slow and read_fast


CASES = {
    "origin changes": HEAD + "$ORIGIN sub.example.test.\nwww A 192.0.2.2\n@ MX 10 www\n"
    "$ORIGIN example.test.\nwww A 192.0.2.3\n",
    "relative $ORIGIN": HEAD + "$ORIGIN deeper\nx A 192.0.2.9\n",
    "blank owners and class before TTL": HEAD + "www IN 300 A 192.0.2.1\n  A 192.0.2.2\n\tTXT hi\n",
    "TTL units and last TTL": "$ORIGIN example.test.\n@ 1h IN SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 2d A 192.0.2.1\nx A 192.0.2.4\n",
    "SOA minimum as default": "$ORIGIN example.test.\n@ IN SOA ns1 h 1 2 3 4 55\n@ NS ns1\nx A 192.0.2.4\n",
    "duplicates and TTLs merge": HEAD + "a 300 A 192.0.2.1\na 200 A 192.0.2.1\na 400 A 192.0.2.2\n"
    "c CNAME Target.Example.\nc CNAME target.example.\nm MX 10 X.example.\nm MX 10 x.example.\n",
    "types move last when added to": HEAD + "a A 192.0.2.1\na TXT t\na A 192.0.2.2\n",
    "parentheses and comments": HEAD
    + 'txt TXT ( "one" ; first\n "two" ) ; done\n; alone\n   ; indented\n',
    "escapes and non-ASCII": HEAD + 'e TXT "a\\"b" "c\\;d" "caf\u00e9" x\\ y\n',
    "generic and other types": HEAD + "g A \\# 4 0A000001\nt TYPE65534 \\# 2 0102\n"
    "d DS 12345 13 2 " + "AB" * 32 + "\ntl TLSA 3 1 1 " + "cd" * 32 + "\n",
    "uppercase everything": HEAD.replace("ns1 IN A", "NS1 IN A")
    + "WWW.Example.Test. IN A 192.0.2.5\nWww Cname Ns1\n".replace(
        "Www Cname Ns1", "alias CNAME NS1"
    ),
    "CRLF": HEAD.replace("\n", "\r\n") + "crlf A 192.0.2.8\r\n",
    "wildcards and underscores": HEAD
    + '*.w A 192.0.2.1\n_dmarc TXT "v=DMARC1; p=none"\n_sip._tcp SRV 0 0 5060 ns1\n',
    "AAAA spellings": HEAD
    + "v6 AAAA 2001:DB8:0000::1\nv6 AAAA ::ffff:1.2.3.4\nv6 AAAA 2001:db8:0:0:0:0:2:1\n",
    "AAAA edge cases in hex": HEAD
    + "".join(
        f"v6 AAAA {address}\n"
        for address in (
            "::",
            "::1",
            "1::",
            "1:0:0:2:0:0:3:4",
            "1:0:0:1:0:0:0:1",
            "1:0:2:3:4:5:6:7",
            "0:0:0:0:0:ffff:102:304",
            "0:0:0:0:0:0:102:304",
            "::ffff:0:0",
            "0:0:0:0:0:1:0:0",
            "0:0:0:0:1:ffff:1:2",
            "1:2:3:4:5:6:7::",
            "FFFF::A",
            "0000:0000::0001",
        )
    ),
    "CAA spellings": HEAD
    + 'c CAA 0 issue ";"\nc CAA 0 ISSUEWILD ca.example.\nc CAA 0 iodef "mailto:a@b"\n',
    "delegation with glue": HEAD
    + "sub NS ns.sub\nns.sub A 192.0.2.53\nsub DS 1 13 2 "
    + "ef" * 32
    + "\n",
    "words written together": HEAD + 'svc SVCB 1 svc alpn="h2,h3" port=8443\n'
    'two TXT "a""b" ( "c")\n',
    "$GENERATE": HEAD + "$GENERATE 1-3 host$ A 192.0.2.$\n",
    "names outside the zone dropped": HEAD + "other.example. A 192.0.2.1\n",
    "SOA after records": "$ORIGIN example.test.\n$TTL 60\nwww A 192.0.2.1\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n",
    "bad A": HEAD + "x A 192.0.2.01\n",
    "bad MX": HEAD + "x MX ten mail\n",
    "too many A fields": HEAD + "x A 192.0.2.1 192.0.2.2\n",
    "bad AAAA": HEAD + "x AAAA 2001:db8::10002\n",
    "CNAME and other data": HEAD + "x A 192.0.2.1\nx CNAME www\n",
    "other data after a CNAME": HEAD + "x CNAME www\ny A 192.0.2.1\nx A 192.0.2.1\n",
    "CNAME at the apex": HEAD + "@ CNAME www.example.net.\n",
    "data below a delegation": HEAD + "sub NS ns.sub\nwww.sub TXT hello\n",
    "unknown type": HEAD + "x BOGUS 1\n",
    "no NS": "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n",
    "no SOA": "$ORIGIN example.test.\n$TTL 60\n@ NS ns1\n",
    "$INCLUDE": HEAD + "$INCLUDE /etc/passwd\n",
    "bad SOA over lines": "$ORIGIN example.test.\n@ SOA ns1 h ( 1 2\n 3 x 5 )\n@ NS ns1\n",
    "no TTL at all": "$ORIGIN example.test.\nwww A 192.0.2.1\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n",
}


@pytest.mark.parametrize("name", CASES)
def test_tricky_files_read_as_dnspython_reads_them(monkeypatch, name):
    fast, slow, _ = both(monkeypatch, CASES[name])
    assert fast == slow


@pytest.mark.parametrize(
    "name",
    [
        "origin changes",
        "blank owners and class before TTL",
        "TTL units and last TTL",
        "SOA minimum as default",
        "duplicates and TTLs merge",
        "types move last when added to",
        "parentheses and comments",
        "escapes and non-ASCII",
        "words written together",
        "generic and other types",
        "CRLF",
        "wildcards and underscores",
        "AAAA spellings",
        "AAAA edge cases in hex",
        "CAA spellings",
        "bad A",
        "bad MX",
        "too many A fields",
        "CNAME and other data",
        "other data after a CNAME",
    ],
)
def test_the_fast_reader_reads_the_common_cases_itself(monkeypatch, name):
    assert both(monkeypatch, CASES[name])[2], name


def test_records_to_merge_read_the_same_with_the_zones_default_ttl(monkeypatch):
    text = "www A 192.0.2.1\nwww 60 TXT hi\n@ NS ns2.example.net.\n"
    fast, slow, read_fast = both(monkeypatch, text, "example.test.", False, 900)
    assert fast == slow and read_fast
    assert fast[3][0][2] == 900


def test_a_bad_line_is_named_with_dnspythons_words():
    with pytest.raises(zonefile.ZoneFileError) as caught:
        zonefile.parse_zone_text(HEAD + "ok A 192.0.2.1\nx MX ten mail\n", filename="big.zone")
    assert str(caught.value).startswith("big.zone:8: ")
    assert "(x MX ten mail)" in str(caught.value)


def database_state(origin: str) -> tuple:
    """What an import leaves: the zone's settings, rows (with sort keys) and its history."""
    zone = Zone.objects.get(origin=origin)
    settings = (zone.default_ttl, zone.primary_ns, zone.contact, zone.minimum)
    rows = sorted(
        (r.owner, r.rdtype, r.ttl, r.rdata, bytes(r.wire), r.enabled, r.comment, bytes(r.sort_key))
        for r in Record.objects.filter(zone=zone)
    )
    history = [
        (
            c.source,
            c.via,
            c.summary,
            c.serial_after,
            sorted((r.owner, r.rdtype, str(r.before), str(r.after)) for r in c.rrsets.all()),
        )
        for c in ZoneChange.objects.filter(zone=zone).order_by("id")
    ]
    return settings, rows, history


BIG = HEAD + "".join(
    f'h{i} 300 IN A 10.1.{i >> 8}.{i & 255}\nh{i} IN TXT "n {i}"\n' for i in range(700)
)
NEWER = (
    HEAD.replace("2026120601", "2026120602")
    + "".join(f"h{i} 300 IN A 10.2.{i >> 8}.{i & 255}\n" for i in range(0, 1400, 2))
    + "mail IN MX 10 h2\n"
)


def loaded_twice(monkeypatch, bulk: bool) -> tuple:
    """Create the zone from BIG, then replace it with NEWER; return the database state."""
    monkeypatch.setattr("dnsadmin.changes.BULK_RRSETS", 0 if bulk else 10**9)
    parsed = zonefile.parse_zone_text(BIG, filename="big.zone")
    parsed.checked = bulk  # unchecked: the change service's general path
    import_zone(parsed, via="big.zone")
    import_zone(zonefile.parse_zone_text(NEWER), mode="replace", via="newer.zone")
    state = database_state("example.test.")
    Zone.objects.all().delete()
    return state


def test_the_history_writes_a_record_as_json_dumps_does():
    for record in (
        RecordData('"a\\b" caf\u00e9 \u2028 \x01', 300, False, 'note "x"'),
        RecordData("192.0.2.1"),
        RecordData("x", 0, True, "\u00fc"),
    ):
        assert record_json(record) == json.dumps(record.as_dict())


@pytest.mark.django_db
def test_bulk_writes_leave_what_the_general_path_leaves(monkeypatch):
    general = loaded_twice(monkeypatch, bulk=False)
    bulk = loaded_twice(monkeypatch, bulk=True)
    assert bulk == general
    settings, rows, history = bulk
    assert len(rows) == 2 + 700 + 1 and len(history) == 2
    assert len(history[0][4]) == 2 + 1400 and history[1][2].startswith("Loaded (newer.zone)")


@pytest.mark.django_db
def test_loadzone_reports_progress_and_a_broken_file_changes_nothing(tmp_path):
    seen = []
    import_zone(
        zonefile.parse_zone_text(BIG), progress=lambda done, total: seen.append((done, total))
    )
    assert seen[-1][0] == seen[-1][1] == 1402 + 1402  # rows, then history rows
    broken = tmp_path / "broken.zone"
    broken.write_text(NEWER + "bad IN A 10.0.0.300\n")
    with pytest.raises(Exception, match=r"broken.zone:\d+: .*bad IN A 10.0.0.300"):
        call_command("loadzone", str(broken), "--replace")
    assert RRsetChange.objects.count() == 1402 and Record.objects.filter(owner="h1").count() == 2
    assert all(
        bytes(r.sort_key) == record_sort_key(r.owner, r.rdtype) for r in Record.objects.all()
    )


@pytest.mark.integration
def test_a_file_loaded_while_rundns_runs_is_answered(worker_env, tmp_path):
    server = start_rundns(worker_env)
    try:
        path = tmp_path / "big.zone"
        path.write_text(BIG + 'last IN A 198.51.100.7\nlast IN TXT "the end" "of it"\n')
        call_command("loadzone", str(path))
        assert wait_for(lambda: server.short("last.example.test.", "A") == "198.51.100.7", 60)
        assert server.short("last.example.test.", "TXT") == '"the end" "of it"'
        assert server.short("h699.example.test.", "A") == "10.1.2.187"
    finally:
        stop(server)
