"""Resolver configuration: servers, resolv.conf search list and ndots, and the hosts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsadmin.names import client
from tests.names.client_fixtures import Named, named_fixture, silent_server_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

HOSTS = """\
# comment line
192.0.2.77   www.client.test www   # beats the DNS
2001:db8::77 www.client.test
192.0.2.10   printer.lan printer
192.0.2.10   second-name.lan
not-an-address broken.lan
fe80::1%eth0 scoped.lan
"""


@pytest.fixture
def hosts_file(tmp_path: Path) -> str:
    path = tmp_path / "hosts"
    path.write_text(HOSTS)
    return str(path)


def _resolv_conf(tmp_path: Path, text: str) -> str:
    path = tmp_path / "resolv.conf"
    # resolv.conf cannot carry a port: create_resolver's servers replace this line's address.
    path.write_text("nameserver 127.0.0.1\n" + text)
    return str(path)


def _addresses(result: client.Result) -> list[str]:
    return [rdata.address for rdata in result.records]


async def test_the_hosts_file_answers_before_the_dns(named: Named, hosts_file: str) -> None:
    result = await client.lookup_address(
        "www.client.test", resolver=named.resolver(hosts=hosts_file)
    )

    assert _addresses(result) == ["192.0.2.77"]
    assert result.response is None


async def test_hosts_file_names_match_in_any_case(
    silent_server: tuple[str, int], hosts_file: str
) -> None:
    resolver = client.create_resolver([silent_server], hosts=hosts_file)

    result = await client.lookup_address("WWW.Client.Test.", resolver=resolver)

    assert _addresses(result) == ["192.0.2.77"]


async def test_the_hosts_file_answers_ipv6_questions(named: Named, hosts_file: str) -> None:
    resolver = named.resolver(hosts=hosts_file)

    result = await client.lookup_ipv6_address("www.client.test", resolver=resolver)

    assert _addresses(result) == ["2001:db8::77"]


async def test_an_alias_in_the_hosts_file_is_a_name_too(
    silent_server: tuple[str, int], hosts_file: str
) -> None:
    resolver = client.create_resolver([silent_server], hosts=hosts_file)

    assert _addresses(await client.lookup_address("printer", resolver=resolver)) == ["192.0.2.10"]


async def test_a_pointer_lookup_gets_the_first_name_from_the_hosts_file(
    named: Named, hosts_file: str
) -> None:
    result = await client.lookup_pointer("192.0.2.10", resolver=named.resolver(hosts=hosts_file))

    assert [rdata.target.to_text() for rdata in result.records] == ["printer.lan."]


async def test_a_name_absent_from_the_hosts_file_goes_to_the_dns(
    named: Named, hosts_file: str
) -> None:
    result = await client.lookup_address(
        "mail.client.test", resolver=named.resolver(hosts=hosts_file)
    )

    assert _addresses(result) == ["192.0.2.25"]


async def test_a_type_the_hosts_file_cannot_give_goes_to_the_dns(
    named: Named, hosts_file: str
) -> None:
    result = await client.lookup_mail_exchange(
        "client.test", resolver=named.resolver(hosts=hosts_file)
    )

    assert [rdata.exchange.to_text() for rdata in result.records] == ["mail.client.test."]


async def test_malformed_hosts_lines_are_skipped(
    silent_server: tuple[str, int], hosts_file: str
) -> None:
    resolver = client.create_resolver([silent_server], hosts=hosts_file, timeout=0.3)

    for name in ("broken.lan", "scoped.lan"):
        with pytest.raises(client.Timeout):
            await client.get_host_by_name(name, resolver=resolver)


async def test_a_short_name_is_tried_with_the_search_suffix(named: Named, tmp_path: Path) -> None:
    conf = _resolv_conf(tmp_path, "search client.test\noptions ndots:1\n")

    result = await client.lookup_address("www", resolver=named.resolver(resolv_conf=conf))

    assert result.name.to_text() == "www.client.test."
    assert _addresses(result) == ["192.0.2.1"]


async def test_a_name_with_ndots_dots_is_tried_as_is_first(named: Named, tmp_path: Path) -> None:
    conf = _resolv_conf(tmp_path, "search client.test\noptions ndots:2\n")

    result = await client.lookup_address(
        "www.client.test", resolver=named.resolver(resolv_conf=conf)
    )

    assert result.name.to_text() == "www.client.test."
    assert _addresses(result) == ["192.0.2.1"]


async def test_a_name_with_fewer_than_ndots_dots_is_searched_first(
    named: Named, tmp_path: Path
) -> None:
    conf = _resolv_conf(tmp_path, "search client.test\noptions ndots:3\n")

    result = await client.lookup_address(
        "www.client.test", resolver=named.resolver(resolv_conf=conf)
    )

    assert result.name.to_text() == "www.client.test.client.test."
    assert _addresses(result) == ["192.0.2.99"]


async def test_a_searched_name_falls_back_to_the_name_as_is(named: Named, tmp_path: Path) -> None:
    conf = _resolv_conf(tmp_path, "search nowhere.client.test\noptions ndots:5\n")

    result = await client.lookup_address(
        "mail.client.test", resolver=named.resolver(resolv_conf=conf)
    )

    assert result.name.to_text() == "mail.client.test."


async def test_a_name_missing_under_every_suffix_raises_no_such_name(
    named: Named, tmp_path: Path
) -> None:
    conf = _resolv_conf(tmp_path, "search a.client.test client.test\noptions ndots:5\n")
    resolver = named.resolver(resolv_conf=conf)

    with pytest.raises(client.NoSuchName) as raised:
        await client.lookup_address("nowhere.client.test", resolver=resolver)

    assert raised.value.result.name.to_text() == "nowhere.client.test."


async def test_a_trailing_dot_turns_the_search_off(named: Named, tmp_path: Path) -> None:
    conf = _resolv_conf(tmp_path, "search client.test\n")

    # BIND serves no root zone, so only "www." itself asked reaches a refusal.
    with pytest.raises(client.Refused) as raised:
        await client.lookup_address("www.", resolver=named.resolver(resolv_conf=conf))

    assert raised.value.result.name.to_text() == "www."


async def test_without_resolv_conf_names_are_not_searched(named: Named) -> None:
    with pytest.raises(client.Refused) as raised:
        await client.lookup_address("www", resolver=named.resolver())

    assert raised.value.result.name.to_text() == "www."


async def test_servers_may_be_given_as_text(named: Named) -> None:
    resolver = client.create_resolver([named.server])

    result = await client.lookup_address("www.client.test", resolver=resolver)

    assert resolver.servers == [(named.address, named.port)]
    assert _addresses(result) == ["192.0.2.1"]


def test_resolv_conf_gives_the_servers_when_none_are_given(tmp_path: Path) -> None:
    conf = _resolv_conf(tmp_path, "nameserver 192.0.2.53\n")

    resolver = client.create_resolver(resolv_conf=conf)

    assert resolver.servers == [("127.0.0.1", 53), ("192.0.2.53", 53)]


def test_an_empty_server_list_is_refused() -> None:
    with pytest.raises(ValueError):
        client.create_resolver([])
