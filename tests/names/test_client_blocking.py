"""The blocking wrappers, for scripts without an event loop, and the API names the issue fixed."""

from __future__ import annotations

import inspect

import pytest

from dnsadmin.names import client
from tests.names.client_fixtures import Named, named_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

# The names other code is written against: Twisted Names' lookups in Python's style.
API = [
    "query",
    "get_host_by_name",
    "lookup_address",
    "lookup_ipv6_address",
    "lookup_mail_exchange",
    "lookup_nameservers",
    "lookup_canonical_name",
    "lookup_pointer",
    "lookup_authority",
    "lookup_text",
    "lookup_service",
    "lookup_naptr",
    "lookup_host_info",
    "lookup_responsibility",
    "lookup_afsdb",
    "lookup_caa",
    "lookup_tlsa",
    "lookup_sshfp",
    "lookup_ds",
    "lookup_dnskey",
    "lookup_svcb",
    "lookup_https",
    "lookup_uri",
    "lookup_dname",
    "lookup_all_records",
    "lookup_zone",
]


@pytest.mark.parametrize("name", API)
def test_every_api_function_is_a_coroutine_with_a_blocking_twin(name: str) -> None:
    asynchronous = getattr(client, name)
    twin = getattr(client.blocking, name)

    assert inspect.iscoroutinefunction(asynchronous)
    assert asynchronous.__name__ == name
    assert not inspect.iscoroutinefunction(twin)
    assert twin.__doc__ == asynchronous.__doc__


def test_a_blocking_lookup_returns_the_result(named: Named) -> None:
    result = client.blocking.lookup_mail_exchange("client.test", resolver=named.resolver())

    assert [(mx.preference, mx.exchange.to_text()) for mx in result.records] == [
        (10, "mail.client.test.")
    ]


def test_a_blocking_lookup_raises_the_same_errors(named: Named) -> None:
    with pytest.raises(client.NoSuchName):
        client.blocking.lookup_address("nowhere.client.test", resolver=named.resolver())


def test_blocking_get_host_by_name_returns_the_addresses(named: Named) -> None:
    addresses = client.blocking.get_host_by_name("www.client.test", resolver=named.resolver())

    assert addresses == ["192.0.2.1", "2001:db8::1"]


async def test_a_blocking_call_inside_an_event_loop_is_refused(named: Named) -> None:
    with pytest.raises(RuntimeError, match="await"):
        client.blocking.lookup_address("www.client.test", resolver=named.resolver())
