"""manage.py lookup, run through call_command against BIND 9."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.names.client_fixtures import POINTED_V4, Named, named_fixture, silent_server_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def _lookup(*args: str, **options: object) -> str:
    out = StringIO()
    call_command("lookup", *args, stdout=out, **options)
    return out.getvalue()


def test_it_prints_the_response_as_dig_does(named: Named) -> None:
    output = _lookup("client.test", "MX", server=named.server)

    assert "status: NOERROR" in output
    assert ";; flags: qr aa rd;" in output
    assert "ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 2" in output
    assert ";client.test.\t\tIN\tMX" in output
    assert ";; ANSWER SECTION:\nclient.test. 3600 IN MX 10 mail.client.test.\n" in output
    assert ";; ADDITIONAL SECTION:\nmail.client.test. 3600 IN A 192.0.2.25\n" in output
    assert output.endswith(f";; SERVER: {named.address}#{named.port}\n")


def test_the_type_defaults_to_a_and_ignores_case(named: Named) -> None:
    assert "www.client.test. 3600 IN A 192.0.2.1" in _lookup("www.client.test", server=named.server)
    assert "IN AAAA 2001:db8::1" in _lookup("www.client.test", "aaaa", server=named.server)


def test_it_prints_a_missing_name_with_its_status_and_soa(named: Named) -> None:
    output = _lookup("nowhere.client.test", "A", server=named.server)

    assert "status: NXDOMAIN" in output
    assert ";; AUTHORITY SECTION:\nclient.test. 300 IN SOA ns1.client.test." in output
    assert ";; ANSWER SECTION:" not in output


def test_it_prints_a_refusal(named: Named) -> None:
    assert "status: REFUSED" in _lookup("example.org", server=named.server)


def test_a_pointer_lookup_takes_an_ip_address(named: Named) -> None:
    output = _lookup(POINTED_V4, "PTR", server=named.server)

    assert "10.2.0.192.in-addr.arpa. 3600 IN PTR www.client.test." in output


def test_axfr_prints_the_zone(named: Named) -> None:
    output = _lookup("client.test", "AXFR", server=named.server)

    assert output.startswith("client.test. 3600 IN SOA ns1.client.test.")
    assert "www.client.test. 3600 IN AAAA 2001:db8::1" in output
    assert output.endswith(" records\n")


def test_it_says_when_the_hosts_file_answered(named: Named, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("192.0.2.77 www.client.test\n")

    output = _lookup("www.client.test", server=named.server, hosts=str(hosts))

    assert ";; answered from the hosts file" in output
    assert "www.client.test. 0 IN A 192.0.2.77" in output
    assert "SERVER" not in output


def test_a_server_that_never_answers_is_an_operator_error(
    silent_server: tuple[str, int],
) -> None:
    address, port = silent_server

    with pytest.raises(CommandError, match="timed out"):
        _lookup("client.test", server=f"{address}:{port}", timeout=0.3)


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (("client.test",), {"server": "ns1.example:53"}),
        (("client.test", "NOSUCHTYPE"), {}),
        (("a..b",), {}),
        (("client.test",), {"timeout": 0}),
        (("client.test",), {"hosts": "/nonexistent/hosts"}),
    ],
)
def test_bad_input_is_an_operator_error(
    named: Named, args: tuple[str, ...], options: dict[str, object]
) -> None:
    options.setdefault("server", named.server)

    with pytest.raises(CommandError):
        _lookup(*args, **options)
