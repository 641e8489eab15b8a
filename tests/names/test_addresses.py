"""Addresses as operators write them: ADDR[:PORT] (forwarders, notify targets, --server) and
allow-lists (recursion, zone transfers)."""

from __future__ import annotations

import pytest

from dnsadmin.names.addresses import allowed, networks, parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("2001:db8::1", ("2001:db8::1", 53)),
        ("2001:DB8::1", ("2001:db8::1", 53)),
        ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
        ("[::1]", ("::1", 53)),
        (" 192.0.2.1:54 ", ("192.0.2.1", 54)),
    ],
)
def test_an_address_may_carry_a_port(text, expected):
    assert parse_address(text) == expected


def test_the_default_port_is_the_callers():
    assert parse_address("192.0.2.1", default_port=5300) == ("192.0.2.1", 5300)


@pytest.mark.parametrize(
    "text",
    [
        "ns1.example", "192.0.2.0/24", "192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:x",
        "192.0.2.1:", "[::1", "[::1]x", "[::1]:", "",
    ],
)  # fmt: skip
def test_anything_else_is_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="not|port"):
        parse_address(text)


def test_an_allow_list_holds_networks_and_single_addresses():
    allow = networks(["127.0.0.0/8", " 2001:db8::1 "])
    assert allowed("127.9.9.9", allow)
    assert allowed("2001:db8::1", allow)
    assert not allowed("2001:db8::2", allow)
    assert not allowed("192.0.2.1", allow)


def test_an_allow_list_ignores_the_zone_index_and_refuses_what_is_no_address():
    allow = networks(["fe80::/10"])
    assert allowed("fe80::1%eth0", allow)
    assert not allowed("localhost", allow)
    assert not allowed("", allow)


def test_a_bad_allow_list_entry_is_named():
    with pytest.raises(ValueError, match="not-a-network"):
        networks(["127.0.0.1", "not-a-network"])
