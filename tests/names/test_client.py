"""The client's lookups, one per record type, against BIND 9 serving a zone of every type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dns.rdata
import dns.rdatatype
import pytest

from dnsadmin.names import client
from tests.conftest import ROOT
from tests.names.client_fixtures import POINTED_V4, POINTED_V6, Named, named_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

EXPECTED = [
    (client.lookup_address, "www.client.test", ["192.0.2.1"]),
    (client.lookup_ipv6_address, "www.client.test", ["2001:db8::1"]),
    (client.lookup_mail_exchange, "client.test", ["10 mail.client.test."]),
    (client.lookup_nameservers, "client.test", ["ns1.client.test."]),
    (client.lookup_canonical_name, "alias.client.test", ["www.client.test."]),
    (
        client.lookup_authority,
        "client.test",
        ["ns1.client.test. hostmaster.client.test. 2024010101 7200 900 1209600 300"],
    ),
    (client.lookup_text, "client.test", ['"v=spf1 -all"']),
    (client.lookup_service, "_xmpp._tcp.client.test", ["5 10 5222 www.client.test."]),
    (client.lookup_naptr, "naptr.client.test", ['100 10 "S" "SIP+D2U" "" _sip._udp.client.test.']),
    (client.lookup_host_info, "host.client.test", ['"PC" "Linux"']),
    (
        client.lookup_responsibility,
        "host.client.test",
        ["hostmaster.client.test. info.client.test."],
    ),
    (client.lookup_afsdb, "afs.client.test", ["1 afsdb.client.test."]),
    (client.lookup_caa, "client.test", ['0 issue "letsencrypt.org"']),
    (
        client.lookup_tlsa,
        "_443._tcp.www.client.test",
        ["3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    ),
    (
        client.lookup_sshfp,
        "www.client.test",
        ["4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    ),
    (
        client.lookup_ds,
        "sub.client.test",
        ["12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    ),
    (
        client.lookup_dnskey,
        "client.test",
        [
            "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
            "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
        ],
    ),
    (client.lookup_svcb, "svc.client.test", ["1 www.client.test. port=8080"]),
    (client.lookup_https, "client.test", ['1 . alpn="h2,h3" port=8443']),
    (client.lookup_uri, "_http._tcp.client.test", ['10 1 "https://www.client.test/"']),
    (client.lookup_dname, "old.client.test", ["client.test."]),
    (client.lookup_pointer, POINTED_V4, ["www.client.test."]),
    (client.lookup_pointer, POINTED_V6, ["www.client.test."]),
    (client.lookup_pointer, "10.2.0.192.in-addr.arpa", ["www.client.test."]),
]


@pytest.mark.parametrize(
    ("lookup", "name", "expected"),
    EXPECTED,
    ids=[f"{lookup.__name__}-{name}" for lookup, name, _ in EXPECTED],
)
async def test_each_lookup_returns_the_typed_records_of_its_type(
    named: Named, lookup: client.Lookup, name: str, expected: list[str]
) -> None:
    result = await lookup(name, resolver=named.resolver())

    wanted = [dns.rdata.from_text("IN", result.rdtype, text) for text in expected]
    assert sorted(map(serial_aside, result.records)) == sorted(map(serial_aside, wanted))
    assert result.server == (named.address, named.port)


def serial_aside(rdata: dns.rdata.Rdata) -> dns.rdata.Rdata:
    """The appliance moves a loaded zone's SOA serial forward (YYYYMMDDnn) where BIND serves
    the file's, so SOA records are compared without it."""
    return rdata.replace(serial=0) if rdata.rdtype == dns.rdatatype.SOA else rdata


async def test_the_generic_query_takes_a_type_by_name_or_number(named: Named) -> None:
    by_name = await client.query("client.test", "MX", resolver=named.resolver())
    by_number = await client.query("client.test", 15, resolver=named.resolver())

    assert by_name.records == by_number.records
    assert by_name.records[0].exchange.to_text() == "mail.client.test."


async def test_an_address_lookup_follows_a_cname(named: Named) -> None:
    result = await client.lookup_address("alias.client.test", resolver=named.resolver())

    assert [rdata.address for rdata in result.records] == ["192.0.2.1"]
    assert result.canonical_name.to_text() == "www.client.test."
    assert [dns.rdatatype.to_text(rrset.rdtype) for rrset in result.answers] == ["CNAME", "A"]


async def test_a_lookup_follows_a_dname(named: Named) -> None:
    result = await client.lookup_address("www.old.client.test", resolver=named.resolver())

    assert [rdata.address for rdata in result.records] == ["192.0.2.1"]
    assert result.canonical_name.to_text() == "www.client.test."


async def test_the_additional_section_carries_the_exchange_address(named: Named) -> None:
    result = await client.lookup_mail_exchange("client.test", resolver=named.resolver())

    additional = {rrset.name.to_text(): [r.to_text() for r in rrset] for rrset in result.additional}
    assert additional["mail.client.test."] == ["192.0.2.25"]


async def test_a_referral_answer_lists_the_delegation_in_the_authority_section(
    named: Named,
) -> None:
    # DS is answered by the parent side of the cut, so ask below it for a referral instead.
    with pytest.raises(client.NoData) as raised:
        await client.lookup_address("host.sub.client.test", resolver=named.resolver())

    authority = raised.value.result.authority
    assert [dns.rdatatype.to_text(rrset.rdtype) for rrset in authority] == ["NS"]
    assert raised.value.result.additional[0].name.to_text() == "ns1.sub.client.test."


async def test_all_records_returns_every_type_at_the_name(named: Named) -> None:
    result = await client.lookup_all_records("client.test", resolver=named.resolver())

    types = {dns.rdatatype.to_text(rrset.rdtype) for rrset in result.answers}
    assert {"SOA", "NS", "MX", "TXT", "CAA", "HTTPS"} <= types
    assert len(result.records) == sum(len(rrset) for rrset in result.answers)


async def test_a_zone_transfer_returns_the_whole_zone_soa_first(named: Named) -> None:
    result = await client.lookup_zone("client.test", resolver=named.resolver())

    assert dns.rdatatype.to_text(result.answers[0].rdtype) == "SOA"
    owners = {
        (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in result.answers
    }
    assert ("www.client.test.", "A") in owners
    assert ("_443._tcp.www.client.test.", "TLSA") in owners
    assert ("ns1.sub.client.test.", "A") in owners
    assert len(owners) == len(result.answers)


async def test_get_host_by_name_returns_ipv4_then_ipv6_addresses(named: Named) -> None:
    addresses = await client.get_host_by_name("www.client.test", resolver=named.resolver())

    assert addresses == ["192.0.2.1", "2001:db8::1"]


async def test_get_host_by_name_returns_the_one_family_a_host_has(named: Named) -> None:
    addresses = await client.get_host_by_name("mail.client.test", resolver=named.resolver())

    assert addresses == ["192.0.2.25"]


async def test_a_fully_qualified_name_is_asked_as_given(named: Named) -> None:
    result = await client.lookup_address("www.client.test.", resolver=named.resolver())

    assert result.name.to_text() == "www.client.test."


async def test_module_functions_use_the_default_resolver(named: Named) -> None:
    client.set_default_resolver(named.resolver())
    try:
        result = await client.lookup_address("www.client.test")
    finally:
        client.set_default_resolver(None)

    assert [rdata.address for rdata in result.records] == ["192.0.2.1"]


def test_the_client_imports_no_django() -> None:
    code = "import sys, dnsadmin.names.client; print('django' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(client.__file__).parents[2],
    ).stdout

    assert output.strip() == "False"


def test_the_readme_mx_example_runs_as_printed(named: Named) -> None:
    readme = (ROOT / "README.md").read_text()
    example = readme.split("### Client API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert '"127.0.0.1:5300"' in example and '"example.org"' in example
    script = example.replace("127.0.0.1:5300", named.server).replace(
        '"example.org"', '"client.test"'
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout) == (0, "10 mail.client.test.\n"), result.stderr
