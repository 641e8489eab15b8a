"""How the client reports failures: each DNS outcome maps to its own exception."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import client
from tests.names.client_fixtures import (  # noqa: F401 (fixtures)
    Named,
    StartServer,
    failing_with,
    named_fixture,
    scripted_server_fixture,
    silent_server_fixture,
)

pytestmark = pytest.mark.integration


def _soa_owners(result: client.Result) -> list[str]:
    return [r.name.to_text() for r in result.authority if r.rdtype == dns.rdatatype.SOA]


async def test_a_missing_name_raises_no_such_name_with_the_zone_soa(named: Named) -> None:
    with pytest.raises(client.NoSuchName) as raised:
        await client.lookup_address("nowhere.client.test", resolver=named.resolver())

    assert raised.value.result.rcode == dns.rcode.NXDOMAIN
    assert _soa_owners(raised.value.result) == ["client.test."]


async def test_a_missing_type_raises_no_data_with_the_zone_soa(named: Named) -> None:
    with pytest.raises(client.NoData) as raised:
        await client.lookup_mail_exchange("www.client.test", resolver=named.resolver())

    assert raised.value.result.rcode == dns.rcode.NOERROR
    assert raised.value.result.answers == []
    assert _soa_owners(raised.value.result) == ["client.test."]


async def test_an_empty_non_terminal_raises_no_data(named: Named) -> None:
    # _tcp.www.client.test owns nothing but has _443._tcp.www.client.test below it.
    with pytest.raises(client.NoData):
        await client.lookup_text("_tcp.www.client.test", resolver=named.resolver())


async def test_a_cname_to_a_name_without_the_type_raises_no_data(named: Named) -> None:
    with pytest.raises(client.NoData) as raised:
        await client.lookup_mail_exchange("alias.client.test", resolver=named.resolver())

    assert raised.value.result.canonical_name.to_text() == "www.client.test."


async def test_a_zone_the_server_does_not_serve_raises_refused(named: Named) -> None:
    with pytest.raises(client.Refused) as raised:
        await client.lookup_address("www.example.org", resolver=named.resolver())

    assert raised.value.result.rcode == dns.rcode.REFUSED


async def test_any_for_a_missing_name_raises_no_such_name(named: Named) -> None:
    with pytest.raises(client.NoSuchName):
        await client.lookup_all_records("nowhere.client.test", resolver=named.resolver())


async def test_any_for_a_zone_the_server_does_not_serve_raises_refused(named: Named) -> None:
    with pytest.raises(client.Refused):
        await client.lookup_all_records("example.org", resolver=named.resolver())


async def test_a_denied_zone_transfer_raises_refused(named: Named) -> None:
    with pytest.raises(client.Refused):
        await client.lookup_zone("2.0.192.in-addr.arpa", resolver=named.resolver())


async def test_get_host_by_name_raises_no_such_name_for_a_missing_name(named: Named) -> None:
    with pytest.raises(client.NoSuchName):
        await client.get_host_by_name("nowhere.client.test", resolver=named.resolver())


async def test_get_host_by_name_raises_no_data_for_a_name_without_addresses(
    named: Named,
) -> None:
    with pytest.raises(client.NoData):
        await client.get_host_by_name("info.client.test", resolver=named.resolver())


async def test_a_server_failure_raises_server_failure(scripted_server: StartServer) -> None:
    server = await scripted_server(failing_with(dns.rcode.SERVFAIL))

    with pytest.raises(client.ServerFailure) as raised:
        await client.lookup_address("www.client.test", resolver=client.create_resolver([server]))

    assert raised.value.result.server == server


async def test_a_format_error_raises_format_error(scripted_server: StartServer) -> None:
    server = await scripted_server(failing_with(dns.rcode.FORMERR))

    with pytest.raises(client.FormatError):
        await client.lookup_address("www.client.test", resolver=client.create_resolver([server]))


async def test_any_with_a_failing_server_raises_server_failure(
    scripted_server: StartServer,
) -> None:
    server = await scripted_server(failing_with(dns.rcode.SERVFAIL))

    with pytest.raises(client.ServerFailure):
        await client.lookup_all_records("client.test", resolver=client.create_resolver([server]))


async def test_the_next_server_is_asked_when_the_first_fails(
    scripted_server: StartServer, named: Named
) -> None:
    failing = await scripted_server(failing_with(dns.rcode.SERVFAIL))
    resolver = client.create_resolver([failing, (named.address, named.port)])

    result = await client.lookup_address("www.client.test", resolver=resolver)

    assert result.server == (named.address, named.port)


async def test_a_server_that_never_answers_raises_timeout(silent_server: tuple[str, int]) -> None:
    resolver = client.create_resolver([silent_server], timeout=0.3)

    with pytest.raises(client.Timeout):
        await client.lookup_address("www.client.test", resolver=resolver)


async def test_any_to_a_server_that_never_answers_raises_timeout(
    silent_server: tuple[str, int],
) -> None:
    resolver = client.create_resolver([silent_server], timeout=0.3)

    with pytest.raises(client.Timeout):
        await client.lookup_all_records("client.test", resolver=resolver)


async def test_a_per_call_timeout_overrides_the_resolvers(silent_server: tuple[str, int]) -> None:
    resolver = client.create_resolver([silent_server], timeout=60)

    with pytest.raises(client.Timeout):
        await client.lookup_address("www.client.test", resolver=resolver, timeout=0.3)


def _truncating(request: dns.message.Message, over_tcp: bool) -> dns.message.Message:
    """Answer only over TCP; over UDP, claim the answer did not fit."""
    response = dns.message.make_response(request)
    if over_tcp:
        response.answer.append(
            dns.rrset.from_text(request.question[0].name, 60, "IN", "A", "192.0.2.7")
        )
    else:
        response.flags |= dns.flags.TC
    return response


async def test_a_truncated_answer_is_asked_again_over_tcp(scripted_server: StartServer) -> None:
    server = await scripted_server(_truncating)

    result = await client.lookup_address(
        "big.client.test", resolver=client.create_resolver([server])
    )

    assert [rdata.address for rdata in result.records] == ["192.0.2.7"]


async def test_a_truncated_any_answer_is_asked_again_over_tcp(scripted_server: StartServer) -> None:
    server = await scripted_server(_truncating)

    result = await client.lookup_all_records(
        "big.client.test", resolver=client.create_resolver([server])
    )

    assert [rdata.to_text() for rdata in result.records] == ["192.0.2.7"]


async def test_an_international_name_is_asked_in_its_ascii_form(named: Named) -> None:
    with pytest.raises(client.Refused) as raised:
        await client.lookup_address("bücher.example", resolver=named.resolver())

    assert raised.value.result.name.to_text() == "xn--bcher-kva.example."


@pytest.mark.parametrize("name", ["a..b", "x" * 64 + ".example", ""])
async def test_a_malformed_name_raises_value_error(named: Named, name: str) -> None:
    with pytest.raises(ValueError):
        await client.lookup_address(name, resolver=named.resolver())


@pytest.mark.parametrize("rdtype", ["NOSUCHTYPE", "AXFR", "IXFR", "OPT", "TSIG", -1, 65536])
async def test_a_bad_record_type_raises_value_error(named: Named, rdtype: str | int) -> None:
    with pytest.raises(ValueError):
        await client.query("client.test", rdtype, resolver=named.resolver())
