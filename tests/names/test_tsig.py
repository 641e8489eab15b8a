"""TSIG (RFC 8945): requests checked, responses signed, failures answered as BIND answers."""

from __future__ import annotations

import time
from unittest import mock

import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest

from dnsadmin.names import notify, transfer, tsig
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import zone_from_text

SECRET = b"0123456789abcdef0123456789abcdef"
KEY = tsig.make_key("acme", SECRET, "hmac-sha256")
KEYRING = {KEY.name: KEY}


def signed_query(name="example.com.", rdtype="SOA", key=KEY, at: float | None = None):
    query = dns.message.make_query(name, rdtype)
    query.use_tsig(key)
    with mock.patch("dns.renderer.time.time", return_value=at or time.time()):
        return query, query.to_wire()


def test_the_key_clause_is_what_tsig_keygen_prints():
    clause = tsig.key_clause("acme.", "hmac-sha256", SECRET)
    assert clause == (
        'key "acme" {\n\talgorithm hmac-sha256;\n'
        '\tsecret "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";\n};\n'
    )
    assert len(tsig.new_secret("hmac-sha512")) == 64


def test_a_signed_request_verifies_and_its_response_is_signed_for_the_client():
    query, wire = signed_query()
    request = tsig.verify(wire, KEYRING)
    assert (request.error, request.key_text) == (0, "acme")
    body = tsig.unsigned(wire, request.tsig_start)
    assert dns.message.from_wire(body).had_tsig is False
    response = dns.message.make_response(dns.message.from_wire(body)).to_wire()
    signed = tsig.Signer(request).sign(response)
    checked = dns.message.from_wire(signed, keyring=KEY, request_mac=query.mac)
    assert checked.had_tsig and checked.tsig_error == 0


@pytest.mark.parametrize(
    "algorithm", ["hmac-sha256", "hmac-sha1", "hmac-sha224", "hmac-sha384", "hmac-sha512"]
)
def test_a_lone_response_is_signed_as_dnspython_signs_it(algorithm):
    """The one response to a request (an update's) is signed without dnspython's signer:
    byte for byte what it writes (the first message of a transfer goes through it)."""
    key = tsig.make_key("Acme.Key", SECRET, algorithm)
    query, wire = signed_query(key=key)
    request = tsig.verify(wire, {key.name: key})
    assert request.error == 0
    response = dns.message.make_response(query)
    response.tsig = None
    response = response.to_wire()
    now = int(time.time())
    lone = tsig.Signer(request).sign(response, now=now)
    assert lone == tsig.Signer(request).sign(response, multi=True, now=now)
    checked = dns.message.from_wire(lone, keyring=key, request_mac=query.mac)
    assert checked.had_tsig and checked.keyname == dns.name.from_text("Acme.Key")


@pytest.mark.parametrize(
    ("key", "at", "error"),
    [
        (tsig.make_key("acme", b"wrong" * 8, "hmac-sha256"), None, "BADSIG"),
        (tsig.make_key("nobody", SECRET, "hmac-sha256"), None, "BADKEY"),
        (tsig.make_key("acme", SECRET, "hmac-sha512"), None, "BADKEY"),
        (KEY, time.time() - 600, "BADTIME"),
    ],
)
def test_failures_get_notauth_with_the_tsig_error(key, at, error):
    _, wire = signed_query(key=key, at=at)
    request = tsig.verify(wire, KEYRING)
    assert request.error == dns.rcode.from_text(error)  # BADSIG shares 16 with BADVERS
    response = dns.message.from_wire(tsig.error_response(request, dns.rcode.NOTAUTH), keyring=False)
    assert response.rcode() == dns.rcode.NOTAUTH
    assert response.tsig[0].error == dns.rcode.from_text(error)
    # RFC 8945 5.3.2: BADSIG and BADKEY answers are unsigned; BADTIME's is signed.
    assert (response.tsig[0].mac == b"") is (error != "BADTIME")
    if error == "BADTIME":
        assert int.from_bytes(response.tsig[0].other, "big") >= int(time.time()) - 5


def test_an_unsigned_request_is_answered_unsigned():
    wire = dns.message.make_query("example.com.", "A").to_wire()
    request = tsig.verify(wire, KEYRING)
    assert not request.signed
    assert tsig.Signer(request).sign(b"response") == b"response"


def big_zone() -> ZoneCatalog:
    """A zone too big for one message, which only key acme may transfer."""
    text = "\n".join(
        ["@ 300 IN SOA ns1 hostmaster 1 7200 900 1209600 300", "@ 300 IN NS ns1"]
        + [f'txt{i} 300 IN TXT "{"x" * 200}"' for i in range(600)]
    )
    return ZoneCatalog([zone_from_text(text, "example.com.", transfer_acl=["key", "acme"])])


def signed_transfer(key=KEY):
    query = dns.message.make_query("example.com.", "AXFR")
    query.use_tsig(key)
    wire = query.to_wire()
    return query, tsig.verify(wire, {key.name: key}), wire


def test_every_message_of_a_signed_transfer_carries_a_chained_tsig():
    query, request, wire = signed_transfer()
    body = tsig.unsigned(wire, request.tsig_start)
    messages = list(transfer.transfer(body, big_zone(), "192.0.2.99", key=KEY.name))
    assert len(messages) > 1  # so that the chaining is exercised
    signer, ctx, records = tsig.Signer(request), None, 0
    for message in messages:
        checked = dns.message.from_wire(
            signer.sign(message, multi=True), keyring=KEY, request_mac=query.mac,
            xfr=True, origin=dns.name.from_text("example.com."), tsig_ctx=ctx, multi=True,
        )  # fmt: skip
        ctx = checked.tsig_ctx
        records += sum(len(rrset) for rrset in checked.answer)
    assert records == 600 + 3  # SOA, NS, the TXTs, SOA


def test_a_transfer_acl_key_admits_that_key_only():
    catalog = big_zone()
    other = tsig.make_key("other", SECRET, "hmac-sha256")
    for key, rcode in (
        (KEY, dns.rcode.NOERROR),
        (other, dns.rcode.REFUSED),
        (None, dns.rcode.REFUSED),
    ):
        wire = dns.message.make_query("example.com.", "AXFR").to_wire()
        first = next(transfer.transfer(wire, catalog, "127.0.0.1", key=key and key.name))
        assert dns.message.from_wire(first).rcode() == rcode


def test_only_updates_and_signed_messages_leave_the_fast_path():
    assert not tsig.claims(dns.message.make_query("example.com.", "A").to_wire())
    assert tsig.claims(signed_query()[1])
    assert tsig.claims(dns.update.UpdateMessage("example.com").to_wire())


def test_notify_targets_may_name_the_key_signing_them():
    targets = notify.parse_targets("192.0.2.2 key acme\n[2001:db8::2]:5300")
    assert targets == [notify.Target("192.0.2.2", 53, "acme"), notify.Target("2001:db8::2", 5300)]
    for bad in ("key acme", "192.0.2.2 key", "192.0.2.2 key a key b"):
        with pytest.raises(ValueError):
            notify.parse_targets(bad)
