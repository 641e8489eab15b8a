"""Answers from an /etc/hosts style file, reread when it changes."""

from __future__ import annotations

import os
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.reversename
import pytest

from dnsadmin.names import wire
from dnsadmin.names.answer import Kind
from dnsadmin.names.hosts import Hosts
from tests.names.hierarchy import Clock

A, AAAA, PTR, MX = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.PTR, dns.rdatatype.MX

HOSTS = """
# a comment line
127.0.0.1   localhost
192.0.2.10  printer.lan printer   # trailing comment
192.0.2.11  printer.lan
2001:db8::10 printer.lan
fe80::1%eth0 router.lan
not-an-address  broken.lan
192.0.2.12
"""


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def rdatas(found) -> list[str]:
    return [rdata.to_text() for rrset in found.answer for rdata in rrset]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hosts_file(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text(HOSTS)
    return path


@pytest.fixture
def hosts(hosts_file: Path, clock: Clock) -> Hosts:
    return Hosts(hosts_file, clock=clock)


def test_it_answers_every_address_of_a_name(hosts):
    found = hosts.find(name("PRINTER.lan."), A)
    assert rdatas(found) == ["192.0.2.10", "192.0.2.11"]
    assert found.answer[0].ttl == 3600


def test_it_answers_ipv6_addresses(hosts):
    assert rdatas(hosts.find(name("printer.lan."), AAAA)) == ["2001:db8::10"]


def test_it_skips_an_address_with_an_interface_scope(hosts):
    # An AAAA record has no room for the scope, and fe80::1 alone leads elsewhere (as
    # dnsmasq and glibc, whose inet_pton refuses the line).
    assert hosts.find(name("router.lan."), AAAA) is None
    assert hosts.find(dns.reversename.from_address("fe80::1"), PTR) is None


def test_it_answers_nodata_for_the_family_a_name_lacks(hosts):
    found = hosts.find(name("localhost."), AAAA)
    assert (found.kind, found.rcode, found.answer) == (Kind.NODATA, wire.NOERROR, [])


def test_it_answers_ptr_with_the_first_name_of_an_address(hosts):
    reverse = dns.reversename.from_address("192.0.2.10")
    assert rdatas(hosts.find(reverse, PTR)) == ["printer.lan."]


def test_it_passes_on_names_and_types_it_does_not_know(hosts):
    assert hosts.find(name("scanner.lan."), A) is None
    assert hosts.find(name("printer.lan."), MX) is None
    assert hosts.find(dns.reversename.from_address("192.0.2.99"), PTR) is None


def test_it_skips_malformed_lines(hosts):
    assert hosts.find(name("broken.lan."), A) is None
    assert hosts.find(dns.reversename.from_address("192.0.2.12"), PTR) is None


def test_it_rereads_the_file_when_it_changes(hosts, hosts_file, clock):
    hosts_file.write_text("192.0.2.50 scanner.lan\n")
    os.utime(hosts_file, ns=(0, 10**18))
    clock.advance(1)
    assert rdatas(hosts.find(name("scanner.lan."), A)) == ["192.0.2.50"]
    assert hosts.find(name("printer.lan."), A) is None


def test_it_looks_at_the_file_at_most_once_a_second(hosts, hosts_file, clock):
    hosts.find(name("printer.lan."), A)
    hosts_file.write_text("192.0.2.50 scanner.lan\n")
    os.utime(hosts_file, ns=(0, 10**18))
    clock.advance(0.5)
    assert hosts.find(name("scanner.lan."), A) is None
    clock.advance(0.5)
    assert hosts.find(name("scanner.lan."), A) is not None


def test_it_answers_nothing_while_the_file_is_missing(hosts, hosts_file, clock):
    hosts_file.unlink()
    clock.advance(1)
    assert hosts.find(name("printer.lan."), A) is None
    hosts_file.write_text(HOSTS)
    clock.advance(1)
    assert hosts.find(name("printer.lan."), A) is not None
