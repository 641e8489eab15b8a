"""Response rate limiting: BIND's accounting (rate, window, slip, exempt networks, /24 and /56
keys, the NXDOMAIN and error buckets), on a clock the tests move."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import pytest

from dnsadmin.names.rrl import Kind, RateLimiter, RateLimits, Verdict, classify, slipped
from tests.names.zones import answer

SEND, DROP, SLIP = Verdict.SEND, Verdict.DROP, Verdict.SLIP


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def response(catalog, name: str, rdtype: str = "A", **kw) -> bytes:
    return answer(dns.message.make_query(name, rdtype, **kw).to_wire(), catalog)


def limiter(clock: Clock, **limits) -> RateLimiter:
    return RateLimiter(RateLimits(**limits), clock=clock)


def verdicts(rrl: RateLimiter, client: str, message: bytes, count: int) -> list[Verdict]:
    return [rrl.check(client, message) for _ in range(count)]


def test_responses_are_sorted_as_bind_sorts_them(catalog):
    assert classify(response(catalog, "www.example.com"))[0] is Kind.ANSWER
    assert classify(response(catalog, "www.example.com", "MX"))[0] is Kind.NODATA
    assert classify(response(catalog, "nope.example.com"))[0] is Kind.NXDOMAIN
    assert classify(response(catalog, "host.sub.example.com"))[0] is Kind.REFERRAL
    assert classify(response(catalog, "www.example.org"))[0] is Kind.ERROR  # REFUSED


def test_answers_are_keyed_by_question_and_denials_by_zone(catalog):
    assert classify(response(catalog, "WWW.Example.COM")) == (
        Kind.ANSWER, b"\x03www\x07example\x03com\x00", 1,
    )  # fmt: skip
    # Every nonexistent name of a zone is one bucket: a random-subdomain flood is one client.
    first = classify(response(catalog, "a.example.com"))
    assert first == classify(response(catalog, "much.longer.random.name.example.com"))
    assert first == (Kind.NXDOMAIN, b"\x07example\x03com\x00", 0)


def test_a_client_gets_its_rate_then_is_limited(catalog):
    rrl = limiter(Clock(), responses_per_second=5, slip=0)
    www = response(catalog, "www.example.com")
    assert verdicts(rrl, "192.0.2.1", www, 7) == [SEND] * 5 + [DROP] * 2


def test_credit_comes_back_at_the_rate(catalog):
    clock = Clock()
    rrl = limiter(clock, responses_per_second=4, slip=0)
    www = response(catalog, "www.example.com")
    assert verdicts(rrl, "192.0.2.1", www, 5) == [SEND] * 4 + [DROP]
    clock.now += 0.5  # two responses earned, one of them owed for the drop
    assert verdicts(rrl, "192.0.2.1", www, 2) == [SEND, DROP]


def test_a_client_over_its_rate_owes_up_to_a_window(catalog):
    clock = Clock()
    rrl = limiter(clock, responses_per_second=2, window=5, slip=0)
    www = response(catalog, "www.example.com")
    verdicts(rrl, "192.0.2.1", www, 100)  # deep in debt: at most window * rate is remembered
    clock.now += 5.0  # ten responses earned: the debt of ten is paid, nothing more
    assert rrl.check("192.0.2.1", www) is DROP
    clock.now += 5.1  # idle for more than a window: a fresh start
    assert verdicts(rrl, "192.0.2.1", www, 3) == [SEND, SEND, DROP]


@pytest.mark.parametrize(
    ("slip", "expected"),
    [
        (0, [DROP] * 6),
        (1, [SLIP] * 6),
        (2, [SLIP, DROP, SLIP, DROP, SLIP, DROP]),
        (3, [SLIP, DROP, DROP, SLIP, DROP, DROP]),
    ],
)
def test_every_slip_th_limited_response_slips(catalog, slip, expected):
    rrl = limiter(Clock(), responses_per_second=1, slip=slip)
    www = response(catalog, "www.example.com")
    assert verdicts(rrl, "192.0.2.1", www, 7) == [SEND, *expected]


def test_errors_are_dropped_never_slipped(catalog):
    rrl = limiter(Clock(), responses_per_second=1, slip=1)
    refused = response(catalog, "www.example.org")
    assert verdicts(rrl, "192.0.2.1", refused, 3) == [SEND, DROP, DROP]


def test_ipv4_clients_count_by_24_and_ipv6_by_56(catalog):
    rrl = limiter(Clock(), responses_per_second=1, slip=0)
    www = response(catalog, "www.example.com")
    assert verdicts(rrl, "192.0.2.1", www, 1) == [SEND]
    assert verdicts(rrl, "192.0.2.200", www, 1) == [DROP]  # the same /24
    assert verdicts(rrl, "192.0.3.1", www, 1) == [SEND]
    assert verdicts(rrl, "2001:db8:0:1::1", www, 1) == [SEND]
    assert verdicts(rrl, "2001:db8:0:ff::2", www, 1) == [DROP]  # the same /56
    assert verdicts(rrl, "2001:db8:0:100::1", www, 1) == [SEND]


def test_the_prefix_lengths_are_configurable(catalog):
    rrl = limiter(Clock(), responses_per_second=1, slip=0, ipv4_prefix=32)
    www = response(catalog, "www.example.com")
    assert verdicts(rrl, "192.0.2.1", www, 2) == [SEND, DROP]
    assert verdicts(rrl, "192.0.2.2", www, 1) == [SEND]


def test_each_question_and_each_zone_has_its_own_bucket(catalog):
    rrl = limiter(Clock(), responses_per_second=2, slip=0)
    client = "192.0.2.1"
    assert verdicts(rrl, client, response(catalog, "www.example.com"), 3) == [SEND, SEND, DROP]
    assert verdicts(rrl, client, response(catalog, "mail.example.com"), 2) == [SEND, SEND]
    nxdomains = [response(catalog, f"nx{i}.example.com") for i in range(3)]
    assert [rrl.check(client, nx) for nx in nxdomains] == [SEND, SEND, DROP]
    assert rrl.check(client, response(catalog, "nx.example.net")) is SEND  # another zone


def test_nxdomains_and_errors_have_their_own_rates(catalog):
    rrl = limiter(Clock(), nxdomains_per_second=1, errors_per_second=2, slip=0)
    client = "192.0.2.1"
    assert verdicts(rrl, client, response(catalog, "www.example.com"), 20) == [SEND] * 20
    assert verdicts(rrl, client, response(catalog, "nx.example.com"), 2) == [SEND, DROP]
    assert verdicts(rrl, client, response(catalog, "www.example.org"), 3) == [SEND, SEND, DROP]


def test_exempt_networks_are_never_limited(catalog):
    rrl = limiter(Clock(), responses_per_second=1, slip=0, exempt=("192.0.2.0/24", "::1"))
    www = response(catalog, "www.example.com")
    assert verdicts(rrl, "192.0.2.9", www, 5) == [SEND] * 5
    assert verdicts(rrl, "::1", www, 5) == [SEND] * 5
    assert verdicts(rrl, "198.51.100.1", www, 2) == [SEND, DROP]


def test_off_when_every_rate_is_zero(catalog):
    assert not RateLimits().enabled
    assert RateLimits(errors_per_second=1).enabled
    rrl = limiter(Clock())
    assert verdicts(rrl, "192.0.2.1", response(catalog, "www.example.com"), 50) == [SEND] * 50


def test_the_table_is_bounded(catalog):
    clock = Clock()
    rrl = limiter(clock, responses_per_second=1, max_entries=3)
    www = response(catalog, "www.example.com")
    for network in range(10):
        rrl.check(f"10.0.{network}.1", www)
        clock.now += 0.1
    assert len(rrl.buckets) == 3


def test_a_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="window"):
        RateLimiter(RateLimits(responses_per_second=1, window=0))
    with pytest.raises(ValueError, match="prefix"):
        RateLimiter(RateLimits(responses_per_second=1, ipv4_prefix=33))


def test_a_slipped_answer_is_truncated_and_empty_with_its_rcode(catalog):
    for name, rcode in (("www.example.com", dns.rcode.NOERROR), ("nx.example.com", 3)):
        full = response(catalog, name, use_edns=0)
        small = dns.message.from_wire(slipped(full, cookie=False))
        assert small.flags & dns.flags.TC and small.flags & dns.flags.AA
        assert small.rcode() == rcode and small.edns == 0
        assert not small.answer and not small.authority
        assert small.question == dns.message.from_wire(full).question


def test_a_client_with_a_cookie_is_told_badcookie_instead(catalog):
    full = response(catalog, "www.example.com", use_edns=0)
    small = dns.message.from_wire(slipped(full, cookie=True))
    assert small.rcode() == dns.rcode.BADCOOKIE
    assert not small.flags & (dns.flags.TC | dns.flags.AA) and not small.answer


def test_a_nodata_from_the_cache_is_not_a_referral(catalog):
    authoritative = dns.message.from_wire(response(catalog, "www.example.com", "MX"))
    cached = dns.message.make_response(dns.message.make_query("www.example.com", "MX"))
    cached.authority = authoritative.authority  # the SOA, without AA: as a resolver says it
    assert classify(cached.to_wire())[0] is Kind.NODATA
