"""The RFC 2136 engine: UPDATE bytes in, an rcode or the RRsets changed out (no sockets)."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.update
import pytest

from dnsadmin.names import tsig, update
from dnsadmin.names.update import Rule, UpdateError, ZoneData

ORIGIN = dns.name.from_text("example.org.")
ACME = dns.name.from_text("acme.")
ALL = [Rule(True, ACME, "zonesub")]


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text, origin=ORIGIN)


def zone() -> ZoneData:
    data = ZoneData(ORIGIN)
    for owner, rdtype, value in [
        ("@", "SOA", "ns1 hostmaster 2026010100 7200 900 1209600 300"),
        ("@", "NS", "ns1"), ("ns1", "A", "192.0.2.53"), ("www", "A", "192.0.2.80"),
        ("alias", "CNAME", "www"),
    ]:  # fmt: skip
        rdtype = dns.rdatatype.from_text(rdtype)
        data.add(name(owner), rdtype, 300, dns.rdata.from_text("IN", rdtype, value, ORIGIN, False))
    return data


def message() -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage("example.org")


def run(msg, data: ZoneData | None = None, rules=ALL, signer=ACME):
    data = data if data is not None else zone()
    return update.evaluate(update.parse(msg.to_wire()), data, rules, signer), data


def rcode_of(msg, **kw) -> str:
    with pytest.raises(UpdateError) as caught:
        run(msg, **kw)
    return dns.rcode.to_text(caught.value.rcode)


def values(data: ZoneData, owner: str, rdtype: str) -> list[str]:
    _, records = data.at(name(owner)).get(dns.rdatatype.from_text(rdtype), (0, []))
    return sorted(r.to_text() for r in records)


def test_an_add_joins_the_rrset_once_and_sets_its_ttl():
    msg = message()
    msg.add("www", 60, "A", "192.0.2.81")
    msg.add("www", 60, "A", "192.0.2.81")
    changed, data = run(msg)
    assert values(data, "www", "A") == ["192.0.2.80", "192.0.2.81"]
    assert changed[(name("www"), dns.rdatatype.A)][0] == 60


def test_the_five_prerequisites_answer_with_their_rcodes():
    cases = {
        "NXDOMAIN": lambda m: m.present("nothere"),
        "YXDOMAIN": lambda m: m.absent("www"),
        "NXRRSET": lambda m: m.present("www", "TXT"),
        "YXRRSET": lambda m: m.absent("www", "A"),
    }
    for rcode, prerequisite in cases.items():
        msg = message()
        prerequisite(msg)
        msg.add("new", 60, "A", "192.0.2.1")
        assert rcode_of(msg) == rcode
    msg = message()
    msg.present("www", dns.rdata.from_text("IN", "A", "192.0.2.99"))
    assert rcode_of(msg) == "NXRRSET"  # value-dependent: the whole RRset must match


def test_a_failed_prerequisite_changes_nothing():
    data = zone()
    msg = message()
    msg.absent("www")
    msg.delete("www")
    assert rcode_of(msg, data=data) == "YXDOMAIN"
    assert values(data, "www", "A") == ["192.0.2.80"]


def test_the_soa_and_the_last_apex_ns_are_never_deleted():
    msg = message()
    msg.delete("@", "SOA")
    msg.delete("@", "NS", "ns1")
    msg.delete("@")
    changed, data = run(msg, rules=[Rule(True, ACME, "zonesub", types=frozenset({255}))])
    assert changed == {}
    assert values(data, "@", "NS") == ["ns1.example.org."]


def test_the_soa_is_replaced_only_by_a_greater_serial():
    soa = "ns1 hostmaster {} 7200 900 1209600 300"
    every = [Rule(True, ACME, "zonesub", types=frozenset({dns.rdatatype.ANY}))]
    for serial, moved in ((2026010099, False), (2026010101, True)):
        msg = message()
        msg.add("@", 300, "SOA", soa.format(serial))
        changed, _ = run(msg, rules=every)
        assert bool(changed) is moved


def test_cname_and_other_data_do_not_mix_and_a_cname_replaces_a_cname():
    msg = message()
    msg.add("www", 60, "CNAME", "elsewhere.test.")
    msg.add("alias", 60, "A", "192.0.2.1")
    msg.add("alias", 60, "CNAME", "ns1")
    _, data = run(msg)
    assert values(data, "www", "CNAME") == []
    assert values(data, "alias", "A") == []
    assert values(data, "alias", "CNAME") == ["ns1.example.org."]


def test_deleting_a_name_a_type_and_one_value():
    msg = message()
    msg.add("www", 60, "A", "192.0.2.81")
    msg.delete("www", "A", "192.0.2.80")
    msg.delete("alias")
    changed, data = run(msg)
    assert values(data, "www", "A") == ["192.0.2.81"]
    assert changed[(name("alias"), dns.rdatatype.CNAME)] == (0, [])


def test_updates_are_applied_in_order():
    msg = message()
    msg.add("t", 60, "TXT", '"a"')
    msg.delete("t", "TXT", '"a"')
    msg.add("t", 60, "TXT", '"a"')
    _, data = run(msg)
    assert values(data, "t", "TXT") == ['"a"']


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.add("out.example.net.", 60, "A", "192.0.2.1"),
        lambda m: m.present("out.example.net."),
    ],
)
def test_names_outside_the_zone_are_notzone(build):
    msg = message()
    build(msg)
    assert rcode_of(msg) == "NOTZONE"


def test_malformed_updates_are_formerr():
    wire = bytearray(message().to_wire())
    wire[5] = 2  # two zones
    with pytest.raises(UpdateError) as caught:
        update.parse(bytes(wire))
    assert caught.value.rcode == dns.rcode.FORMERR
    msg = message()
    msg.add("www", 60, "A", "192.0.2.1")
    wire = msg.to_wire()
    with pytest.raises(UpdateError) as caught:
        update.parse(wire[:-3])
    assert caught.value.rcode == dns.rcode.FORMERR
    for rdtype in ("ANY", "AXFR"):
        msg = message()
        msg.add("www", 60, dns.rdata.GenericRdata("IN", dns.rdatatype.from_text(rdtype), b"\0"))
        assert rcode_of(msg) == "FORMERR"


def test_an_update_is_read_as_dnspython_reads_it_and_its_names_compare_as_dnspythons():
    """Compressed names (in owners and in MX data) are followed; records without names are
    kept, so the one an update adds is the very object the next one deletes; names keep
    their hash, equal to dnspython's, and compare without regard to case."""
    msg = message()
    msg.present("WWW", "A", "192.0.2.1")
    msg.add("www", 60, "MX", "10 mail")
    msg.add("www", 60, "TXT", '"one"')
    msg.delete("www", "TXT", '"one"')
    read = update.parse(msg.to_wire())
    full = dns.message.from_wire(msg.to_wire())
    ours = [(r.name, r.rdtype, r.rdclass, r.ttl, r.rdata) for r in read.updates]
    theirs = [(s.name, s.rdtype, s.deleting or s.rdclass, s.ttl, r) for s in full.update for r in s]
    assert ours == theirs
    assert read.updates[1].rdata is read.updates[2].rdata  # TXT: the same object
    assert read.prerequisites[0].name == name("www") and read.zone == ORIGIN
    for ours_, plain in [(read.prerequisites[0].name, name("www")), (read.zone, ORIGIN)]:
        assert type(ours_) is update.HashedName and hash(ours_) == hash(plain)
        assert ours_ == plain and plain == ours_ and (ours_ != plain) is False
        assert ours_.is_subdomain(ORIGIN) and not ours_.is_subdomain(name("mail"))
    assert read.prerequisites[0].name != read.updates[0].rdata.exchange
    assert update.hashed(name("mail")) in read.names


def test_rules_decide_in_order_and_refuse_by_default():
    other = dns.name.from_text("other.")
    scoped = [
        Rule(False, ACME, "name", name("www")),
        Rule(True, ACME, "subdomain", name("dyn"), frozenset({dns.rdatatype.TXT})),
        Rule(True, ACME, "wildcard", name("*.hosts")),
        Rule(True, name("box.hosts"), "self"),
        Rule(True, ACME, "zonesub"),
    ]
    granted = {
        ("www", "A", ACME): False,
        ("a.b.dyn", "TXT", ACME): True,
        ("dyn", "TXT", ACME): True,
        ("x.hosts", "A", ACME): True,
        ("box.hosts", "A", name("box.hosts")): True,
        ("other.hosts", "A", name("box.hosts")): False,
        ("mail", "A", ACME): True,
        ("mail", "NS", ACME): False,
        ("mail", "A", other): False,
        ("mail", "A", None): False,
    }
    for (owner, rdtype, signer), expected in granted.items():
        code = dns.rdatatype.from_text(rdtype)
        assert update.permitted(scoped, signer, ORIGIN, name(owner), code) is expected


def test_policy_is_checked_before_prerequisites_so_keys_cannot_probe():
    msg = message()
    msg.absent("www")  # would fail with YXDOMAIN
    msg.add("www", 60, "TXT", '"x"')
    assert rcode_of(msg, signer=None) == "REFUSED"


def test_an_mx_must_point_at_an_address_in_the_zone():
    msg = message()
    msg.add("@", 60, "MX", "10 alias")
    assert rcode_of(msg) == "REFUSED"
    msg = message()
    msg.add("@", 60, "MX", "10 www")
    msg.add("@", 60, "MX", "20 mail.example.net.")
    changed, _ = run(msg)
    assert len(changed[(ORIGIN, dns.rdatatype.MX)][1]) == 2


def test_a_new_ttl_checks_every_mx_of_the_rrset_again_as_bind_does():
    data = zone()
    mx = dns.rdatatype.MX
    data.add(name("www"), mx, 300, dns.rdata.from_text("IN", "MX", "10 nowhere", ORIGIN, False))
    msg = message()
    msg.add("www", 300, "MX", "20 www")
    run(msg, data=zone())  # the same TTL: only the new record is checked
    msg = message()
    msg.add("www", 60, "MX", "20 www")
    assert rcode_of(msg, data=data) == "REFUSED"  # nowhere has no address


def test_the_apex_name_servers_keep_their_addresses():
    msg = message()
    msg.delete("ns1", "A")
    assert rcode_of(msg) == "REFUSED"
    every = [Rule(True, ACME, "zonesub", types=frozenset({dns.rdatatype.ANY}))]
    msg = message()
    msg.add("@", 60, "NS", "ns2.example.net.")
    msg.add("@", 60, "NS", "ns3")
    assert rcode_of(msg, rules=every) == "REFUSED"


# An UPDATE's TSIG, read without reading the update twice ----------------------------

KEY = tsig.make_key("acme", b"0123456789abcdef0123456789abcdef", "hmac-sha256")


def signed(msg: dns.update.UpdateMessage, *, rd: bool = False) -> bytes:
    msg.use_tsig(KEY)
    if rd:
        msg.flags |= dns.flags.RD
    return msg.to_wire()


def read_by_dnspython(wire: bytes) -> dns.message.Message:
    return dns.message.from_wire(wire, keyring=tsig._unchecked, ignore_trailing=False)


@pytest.mark.parametrize("rd", [False, True])
def test_a_signed_update_is_read_as_dnspython_reads_it_and_answered_byte_for_byte(rd):
    msg = message()
    msg.present("www")
    msg.add("www", 60, "TXT", '"one"')
    msg.delete("mail", "MX")
    wire = signed(msg, rd=rd)
    read, start = tsig.signed_update(wire)
    full = read_by_dnspython(wire)
    assert start == tsig.tsig_offset(wire)
    zone = [(z.name, z.rdtype, z.rdclass) for z in read.question]
    assert (read.id, read.flags, zone, read.keyname, read.edns, read.opcode()) == (
        full.id, full.flags, [(z.name, z.rdtype, z.rdclass) for z in full.question],
        full.keyname, full.edns, full.opcode(),
    )  # fmt: skip
    assert read.tsig[0] == full.tsig[0]
    request = tsig.verify(wire, {KEY.name: KEY})
    assert request.error == 0
    for rcode in (dns.rcode.NOERROR, dns.rcode.NXRRSET, dns.rcode.NOTAUTH):
        response = tsig.error_response(request, rcode)
        checked = dns.message.from_wire(response, keyring=KEY, request_mac=full.tsig[0].mac)
        assert checked.had_tsig and checked.tsig_error == 0
        made = dns.message.make_response(full)  # what the response was made from before
        made.set_rcode(rcode)
        made.keyring, made.tsig = None, None
        assert tsig.unsigned(response, tsig.tsig_offset(response)) == made.to_wire()


def test_other_messages_are_left_to_dnspython_and_misplaced_records_are_malformed():
    with_edns = message()
    with_edns.use_edns(0)
    assert tsig.signed_update(signed(with_edns)) is None  # an OPT beside the TSIG
    assert tsig.signed_update(message().to_wire()) is None  # unsigned
    query = dns.message.make_query("example.org", "SOA")
    query.use_tsig(KEY)
    assert tsig.signed_update(query.to_wire()) is None  # not an UPDATE
    wire = signed(message())
    for broken in (wire + b"\0", wire[:-1]):  # trailing junk, cut short
        with pytest.raises(dns.exception.DNSException):
            tsig.signed_update(broken)
        with pytest.raises(dns.exception.DNSException):
            read_by_dnspython(broken)
    start = tsig.tsig_offset(wire)  # the TSIG once more, in the update section
    misplaced = wire[:8] + b"\0\1" + wire[10:] + wire[start:]
    for read in (tsig.signed_update, read_by_dnspython):
        with pytest.raises(dns.exception.DNSException):
            read(misplaced)
    assert wire[-2:] == b"\0\0"  # no other data: the error code is the two bytes before
    out_of_range = wire[:-4] + (5000).to_bytes(2, "big") + wire[-2:]  # rcodes stop at 4095
    for read in (tsig.signed_update, read_by_dnspython):
        with pytest.raises(dns.exception.FormError):
            read(out_of_range)


def test_a_response_is_not_answered():
    wire = bytearray(signed(message()))
    wire[2] |= 0x80  # QR: a response, which dnspython refuses to answer
    request = tsig.verify(bytes(wire), {KEY.name: KEY})
    with pytest.raises(dns.exception.FormError):
        tsig.error_response(request, dns.rcode.FORMERR)
