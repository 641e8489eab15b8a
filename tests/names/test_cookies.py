"""DNS cookies: RFC 9018 server cookies (its appendix A test vectors), the option taken out of
queries and put into answers, FORMERR for malformed options as from BIND, and the secret."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import stat

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain
from dnsadmin.names.cookies import MALFORMED, ROOM, Cookie, Cookies, load_secrets
from dnsadmin.names.server import DNSServer
from dnsadmin.names.wire import OUR_PAYLOAD
from tests.names.zones import answer

SECRET = bytes.fromhex("e5e973e5a6b2a43f48e7dc849e37bfcf")  # RFC 9018 A.1 to A.3
NEW_SECRET = bytes.fromhex("445536bcd2513298075a5d379663c962")  # A.4, after a rollover
OLD_SECRET = bytes.fromhex("dd3bdf9344b678b185a6f5cb60fca715")
IPV4 = ipaddress.ip_address("198.51.100.100").packed
A3_CLIENT = ipaddress.ip_address("203.0.113.203").packed
IPV6 = ipaddress.ip_address("2001:db8:220:1:59de:d0f4:8769:82b8").packed
h = bytes.fromhex


def cookies(*secrets: bytes, now: int = 0) -> Cookies:
    return Cookies(secrets or (SECRET,), clock=lambda: now)


def with_cookie(option: bytes, name: str = "www.example.com", payload: int = 1232) -> bytes:
    query = dns.message.make_query(
        name, "A", use_edns=0, payload=payload, options=[dns.edns.GenericOption(10, option)]
    )
    return query.to_wire()


def cookie_of(response: bytes) -> bytes | None:
    for option in dns.message.from_wire(response).options:
        if option.otype == dns.edns.COOKIE:
            return option.to_wire()
    return None


# RFC 9018 appendix A


def test_a1_a_new_server_cookie():
    made = cookies().server_cookie(h("2464c4abcf10c957"), IPV4, 1559731985)
    assert made == h("010000005cf79f111f8130c3eee29480")


def test_a2_the_same_client_renews_it_forty_minutes_later():
    jar = cookies(now=1559734385)
    assert jar.valid(h("2464c4abcf10c957"), h("010000005cf79f111f8130c3eee29480"), IPV4)
    renewed = jar.server_cookie(h("2464c4abcf10c957"), IPV4, 1559734385)
    assert renewed == h("010000005cf7a871d4a564a1442aca77")


def test_a3_another_implementations_cookie_with_reserved_bytes_set():
    # The hash covers the reserved bytes as received. The appendix answers it 1 h 52 min
    # after it was made, past the hour a cookie stays valid (RFC 9018 4.3): checked within it.
    sent = h("01abcdef5cf78f71a314227b6679ebf5")
    assert cookies(now=1559727985 + 600).valid(h("fc93fc62807ddb86"), sent, A3_CLIENT)
    assert not cookies(now=1559734700).valid(h("fc93fc62807ddb86"), sent, A3_CLIENT)
    fresh = cookies().server_cookie(h("fc93fc62807ddb86"), A3_CLIENT, 1559734700)
    assert fresh == h("010000005cf7a9acf73a7810aca2381e")


def test_a4_an_ipv6_client_after_the_secret_rolled_over():
    old = h("010000005cf7c57926556bd0934c72f8")
    rolling = cookies(NEW_SECRET, OLD_SECRET, now=1559741961)
    assert rolling.valid(h("22681ab97d52c298"), old, IPV6)
    fresh = rolling.server_cookie(h("22681ab97d52c298"), IPV6, 1559741961)
    assert fresh == h("010000005cf7c609a6bb79d16625507a")
    assert not cookies(NEW_SECRET, now=1559741961).valid(h("22681ab97d52c298"), old, IPV6)


# validity


def test_a_cookie_is_valid_for_an_hour_and_five_minutes_ahead():
    client, made_at = h("0102030405060708"), 1_700_000_000
    cookie = cookies().server_cookie(client, IPV4, made_at)
    for now, valid in ((made_at + 3600, True), (made_at + 3601, False), (made_at - 300, True)):
        assert cookies(now=now).valid(client, cookie, IPV4) is valid
    assert not cookies(now=made_at - 301).valid(client, cookie, IPV4)


def test_a_cookie_is_bound_to_the_client_cookie_address_and_version():
    client, now = h("0102030405060708"), 1_700_000_000
    cookie = cookies().server_cookie(client, IPV4, now)
    jar = cookies(now=now)
    assert jar.valid(client, cookie, IPV4)
    assert not jar.valid(h("0102030405060709"), cookie, IPV4)
    assert not jar.valid(client, cookie, A3_CLIENT)
    assert not jar.valid(client, b"\x02" + cookie[1:], IPV4)
    assert not jar.valid(client, cookie[:15], IPV4)


# the option in queries and answers


def test_a_client_cookie_is_taken_out_of_the_query():
    query = with_cookie(h("0102030405060708"))
    stripped, cookie = cookies().take(query, "192.0.2.1")
    assert cookie == Cookie(h("0102030405060708"), False, socket.inet_aton("192.0.2.1"), 1232)
    parsed = dns.message.from_wire(stripped)
    assert parsed.options == () and parsed.id == dns.message.from_wire(query).id
    # The answer rendered for it leaves room for the cookie.
    assert parsed.payload == OUR_PAYLOAD - ROOM


def test_clients_with_different_cookies_ask_the_same_stripped_question():
    jar = cookies()
    first, _ = jar.take(with_cookie(h("0102030405060708")), "192.0.2.1")
    second, _ = jar.take(with_cookie(h("1112131415161718")), "192.0.2.2")
    assert first[2:] == second[2:]


def test_our_server_cookie_coming_back_is_valid_and_a_bad_one_is_not():
    now = 1_700_000_000
    jar = cookies(now=now)
    client = h("0102030405060708")
    ours = jar.server_cookie(client, socket.inet_aton("192.0.2.1"), now)
    assert jar.take(with_cookie(client + ours), "192.0.2.1")[1].valid
    assert not jar.take(with_cookie(client + ours), "192.0.2.2")[1].valid
    assert not jar.take(with_cookie(client + bytes(16)), "192.0.2.1")[1].valid


def test_queries_without_a_cookie_pass_as_they_are():
    jar = cookies()
    for query in (
        dns.message.make_query("www.example.com", "A").to_wire(),
        dns.message.make_query("www.example.com", "A", use_edns=0).to_wire(),
        dns.message.make_query(
            "www.example.com", "A", use_edns=0, options=[dns.edns.GenericOption(3, b"")]
        ).to_wire(),
    ):
        assert jar.take(query, "192.0.2.1") == (query, None)


@pytest.mark.parametrize("size", [0, 1, 7, 9, 15, 41, 48])
def test_a_malformed_cookie_option_is_malformed(size):
    assert cookies().take(with_cookie(bytes(size)), "192.0.2.1") is MALFORMED


@pytest.mark.parametrize("size", [8, 16, 24, 32, 40])
def test_cookie_options_of_the_allowed_sizes_are_taken(size):
    _, cookie = cookies().take(with_cookie(bytes(size)), "192.0.2.1")
    assert cookie.client == bytes(8) and not cookie.valid


def test_the_answer_carries_a_fresh_server_cookie(catalog):
    now = 1_700_000_000
    jar = cookies(now=now)
    stripped, cookie = jar.take(with_cookie(h("0102030405060708")), "192.0.2.1")
    option = cookie_of(jar.add(answer(stripped, catalog), cookie))
    assert option[:8] == h("0102030405060708") and len(option) == 24
    assert jar.valid(option[:8], option[8:], socket.inet_aton("192.0.2.1"))


def test_an_answer_the_cookie_would_make_too_big_for_the_client_is_cut_to_its_question():
    query = dns.message.make_query("www.example.com", "TXT", use_edns=0, payload=512)
    full = dns.message.make_response(query)
    full.answer.append(
        dns.rrset.from_text("www.example.com.", 60, "IN", "TXT", '"' + "x" * 200 + '"')
    )
    full.answer.append(
        dns.rrset.from_text("www.example.com.", 60, "IN", "TXT", '"' + "y" * 240 + '"')
    )
    wire = full.to_wire()
    assert 512 - ROOM < len(wire) <= 512
    cookie = Cookie(h("0102030405060708"), False, socket.inet_aton("192.0.2.1"), 512)
    cut = cookies().add(wire, cookie)
    parsed = dns.message.from_wire(cut)
    assert len(cut) <= 512 and parsed.flags & dns.flags.TC and not parsed.answer
    assert parsed.question == query.question and cookie_of(cut)[:8] == cookie.client
    # Over TCP the client takes it all.
    assert dns.message.from_wire(cookies().add(wire, cookie, tcp=True)).answer


# the secret


def test_secrets_are_read_in_hex_and_checked(tmp_path):
    assert load_secrets([SECRET.hex(), OLD_SECRET.hex()], tmp_path / "unused") == [
        SECRET,
        OLD_SECRET,
    ]
    with pytest.raises(ValueError, match="hex"):
        load_secrets(["not hex"], tmp_path / "unused")
    with pytest.raises(ValueError, match="16 bytes"):
        load_secrets(["e5e973e5"], tmp_path / "unused")
    assert not (tmp_path / "unused").exists()


def test_a_secret_is_generated_once_for_the_owner_only(tmp_path):
    path = tmp_path / "var" / "cookie_secret"
    first = load_secrets([], path)
    assert load_secrets([], path) == first and len(first[0]) == 16
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["cookie_secret"]


# over the wire, against BIND


@pytest.fixture
async def cookie_server(catalog):
    server = DNSServer(ResolverChain(catalog, AUTHORITATIVE), cookies=Cookies([SECRET]))
    await server.start(["127.0.0.1"], 0)
    yield server
    await server.stop()


def ask(port: int, query: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(query, ("127.0.0.1", port))
        return sock.recv(65535)


async def ask_async(port: int, query: bytes) -> bytes:
    return await asyncio.to_thread(ask, port, query)


@pytest.mark.integration
@pytest.mark.parametrize("size", [0, 7, 8, 9, 15, 16, 24, 40, 41])
async def test_cookie_options_are_answered_as_bind_answers_them(cookie_server, bind, size):
    query = with_cookie(bytes(size))
    ours = dns.message.from_wire(await ask_async(cookie_server.port, query))
    theirs = dns.message.from_wire(await ask_async(bind.port, query))
    assert ours.rcode() == theirs.rcode()
    assert ours.question == theirs.question and ours.edns == theirs.edns
    assert [o.otype for o in ours.options] == [o.otype for o in theirs.options]
    assert len(ours.answer) == len(theirs.answer)


async def test_the_server_answers_a_cookie_from_the_kept_answers_too(cookie_server):
    port = cookie_server.port
    jar = Cookies([SECRET])
    for client in (h("0102030405060708"), h("1112131415161718"), h("0102030405060708")):
        response = await ask_async(port, with_cookie(client))
        option = cookie_of(response)
        assert option[:8] == client
        assert jar.valid(client, option[8:], socket.inet_aton("127.0.0.1"))
        assert dns.message.from_wire(response).answer
    assert sum(cookie_server.stats.answered.values()) == 3


async def test_answers_over_tcp_carry_a_cookie_too(cookie_server):
    def over_tcp(option: bytes) -> dns.message.Message:
        query = with_cookie(option)
        with socket.create_connection(("127.0.0.1", cookie_server.port), timeout=5) as sock:
            sock.sendall(len(query).to_bytes(2, "big") + query)
            return dns.query.receive_tcp(sock, expiration=None)[0]

    answered = await asyncio.to_thread(over_tcp, h("0102030405060708"))
    option = next(o for o in answered.options if o.otype == dns.edns.COOKIE).to_wire()
    assert option[:8] == h("0102030405060708") and answered.answer
    assert Cookies([SECRET]).valid(option[:8], option[8:], socket.inet_aton("127.0.0.1"))
    refused = await asyncio.to_thread(over_tcp, bytes(9))
    assert refused.rcode() == dns.rcode.FORMERR and not refused.options
