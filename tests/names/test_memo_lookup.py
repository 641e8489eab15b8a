"""How the kept answers are looked up (memo.AnswerMemo.get): one dict for both budgets (the
newest answer to a question, in either, is the one sent; none dropped from a budget is), by
the query's own bytes for a name without capitals (a question in lowercase, or an answer kept
for that very question as it carries the client's case beyond the question), else by its
question case-folded only."""

from __future__ import annotations

import sys
from collections.abc import Callable

import dns.message

from dnsadmin.names import authority
from dnsadmin.names.memo import UDP, AnswerMemo, question_end
from tests.names.zones import authoritative, make_catalog

CLIENT = "192.0.2.1"


def wire(name: str, rdtype: str = "A", qid: int = 1) -> bytes:
    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    query.id = qid
    return query.to_wire()


def as_name_error(response: bytes) -> bytes:
    """Return response with NXDOMAIN as its rcode (a negative answer, to the memo)."""
    return response[:3] + bytes([response[3] & 0xF0 | 3]) + response[4:]


def test_an_answer_kept_again_in_the_other_budget_is_the_one_sent():
    catalog = make_catalog()
    memo = AnswerMemo(100, 1 << 20, 100, 1 << 20)
    query = wire("www.example.com.")
    positive = authority.answer(query, catalog)
    memo.put(UDP, query, positive, "authority")
    memo.put(UDP, query, as_name_error(positive), "authority")
    for asked in (wire("www.example.com.", qid=9), wire("WwW.example.COM.", qid=9)):
        response, _ = memo.get(UDP, asked, float)
        assert response[3] & 0xF == 3
        assert response[12:29] == asked[12:29]  # the client's question, case and all
    assert len(memo.positive.entries) == 0 and len(memo.negative.entries) == 1
    memo.put(UDP, query, positive, "authority")
    assert memo.get(UDP, wire("www.example.com.", qid=9), float)[0][3] & 0xF == 0


def lookups(memo: AnswerMemo, call: Callable[[], object]) -> int:
    """Return how many times call looks in the memo's dict of UDP answers."""
    index, seen = memo._kept[UDP], []

    def profile(frame, event, arg) -> None:
        if event == "c_call" and getattr(arg, "__self__", None) is index:
            seen.append(arg.__name__)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return len(seen)


def test_a_question_is_looked_up_once_whatever_its_case():
    """A name with capitals (resolvers vary the case of each question, 0x20) is looked up
    case-folded only: a lookup by its own bytes first found nothing most of the time, and
    cost the first answers a lookup in a dict of up to hundreds of thousands of keys."""
    catalog = make_catalog()
    memo = AnswerMemo(100, 1 << 20, 100, 1 << 20)
    query = wire("www.example.com.")
    memo.put(UDP, query, authority.answer(query, catalog), "authority")
    for name in ("www.example.com.", "WwW.example.COM.", "mail.example.com.", "MaIl.example.com."):
        asked = wire(name, qid=7)
        assert lookups(memo, lambda asked=asked: memo.get(UDP, asked, float)) == 1, name
    found, _ = memo.get(UDP, wire("WwW.example.COM.", qid=7), float)
    assert found == authority.answer(wire("WwW.example.COM.", qid=7), catalog)
    assert memo.get(UDP, wire("MaIl.example.com."), float) == b"\4mail\7example\3com\0"


def test_answers_dropped_from_a_full_budget_are_not_sent():
    catalog = make_catalog()
    memo = AnswerMemo(64, 1 << 20, 64, 1 << 20)
    names = [f"h{i}.example.com." for i in range(200)]
    for name in names:
        query = wire(name, "TXT")
        memo.put(UDP, query, as_name_error(authority.answer(query, catalog)), "authority")
    kept = [name for name in names if type(memo.get(UDP, wire(name, "TXT"), float)) is tuple]
    assert kept == names[-len(kept) :] and 0 < len(kept) <= 64
    # A name dropped is looked up no further: its name case-folded is handed back.
    assert memo.get(UDP, wire("H0.Example.com.", "TXT"), float) == b"\2h0\7example\3com\0"
    memo.clear()
    assert not any(memo._kept) and type(memo.get(UDP, wire(names[-1], "TXT"), float)) is bytes


def test_an_answer_carrying_the_clients_case_is_kept_for_that_very_question():
    """A DNAME's CNAME is made of the client's labels: the answer to a question in lowercase
    is kept by the query's own bytes, not for the question in any case; one to a question
    with capitals is not kept (get looks those up case-folded only), but worked out."""
    catalog = make_catalog()
    chain = authoritative(catalog)
    lower, mixed = "a.b.dn.example.com.", "A.b.Dn.example.com."
    for name in (lower, mixed):
        chain.resolve(wire(name), tcp=False, client=CLIENT)
    assert len(chain.answers.positive.entries) == 1  # the lowercase question's
    worked_out = list(chain._worked_out)
    query = wire(lower, qid=4242)
    kept = chain.at_once(query, CLIENT)
    assert kept is not None and kept[0] == authority.answer(query, catalog)
    assert chain._worked_out == worked_out  # kept, not worked out again
    for name in (mixed, "A.B.DN.example.com."):
        other = wire(name)
        found = chain.at_once(other, CLIENT)
        assert type(found) is not tuple or found[0] == authority.answer(other, catalog)
        assert chain.resolve(other, tcp=False, client=CLIENT)[0] == authority.answer(other, catalog)
    assert len(chain.answers.positive.entries) == 1


def test_a_name_with_a_zero_byte_in_a_label_is_kept_for_its_very_case_only():
    """The memo takes a name to end at its first zero byte: a name with one in a label is
    kept for the question as asked, so that every case gets its own question back (or not
    kept, with capitals before that byte: get looks those up case-folded only)."""
    memo = AnswerMemo(100, 1 << 20, 100, 1 << 20)
    catalog = make_catalog()
    asked = [wire(name, qid=5) for name in ("ab\\000cd.example.com.", "AB\\000cD.example.com.")]
    for query in asked:
        response = authority.answer(query, catalog)
        end = question_end(query)
        memo.put(UDP, query, response, "authority")
        memo.put_body(UDP, query, end, query[12:end].lower(), response)
    lower, capitals = asked
    assert memo.get(UDP, lower, float)[0] == authority.answer(lower, catalog)
    assert not_its_name(capitals, memo.get(UDP, capitals, float))  # worked out each time
    other = wire("Ab\\000CD.example.com.", qid=5)
    assert not_its_name(other, memo.get(UDP, other, float))  # none kept


def test_questions_that_differ_in_the_case_of_a_byte_after_the_name_are_not_one():
    """Only the name is case-folded: type 65 (HTTPS, "A" in ASCII) is not type 97 ("a")."""
    memo = AnswerMemo(100, 1 << 20, 100, 1 << 20)
    catalog = make_catalog()
    kept = wire("www.example.com.", "TYPE97")
    memo.put(UDP, kept, authority.answer(kept, catalog), "authority")
    for name in ("www.example.com.", "WWW.example.com."):
        asked = wire(name, "HTTPS")
        assert asked[12:].lower() == wire(name.lower(), "TYPE97")[12:]
        assert memo.get(UDP, asked, float) == b"\3www\7example\3com\0"


def test_an_answer_kept_for_a_name_with_a_zero_byte_is_not_sent_to_another_case():
    """Kept for its very question (a zero byte in a label), an answer found by another case
    of the name as far as the zero byte is not for it: the memo tells what it took for the
    name, which the caller finds is not (and asks the general path)."""
    memo = AnswerMemo(100, 1 << 20, 100, 1 << 20)
    catalog = make_catalog()
    kept = wire("ab\\000cd.example.com.")
    memo.put(UDP, kept, authority.answer(kept, catalog), "authority")
    other = wire("AB\\000cd.example.com.")
    assert not_its_name(other, memo.get(UDP, other, float))


def not_its_name(query: bytes, found) -> bool:
    """Tell whether the memo found no answer to query and told, as its name, bytes that are
    not (AnswerMemo.get: the caller checks them with question_end)."""
    return type(found) is bytes and question_end(query) != 12 + len(found)


def test_an_answer_to_a_name_read_through_a_pointer_into_the_id_is_not_sent_again():
    """A question's name may point at the ID (offset 0): the name is then made of the ID's
    bytes, as BIND reads it, and the answer is that query's alone, not one to send to the
    same bytes asked with another ID."""
    catalog = make_catalog()
    chain = authoritative(catalog)
    rest = bytes.fromhex("01000001000000000000024400c000001c0001")  # "D\\0" and a pointer to 0
    for qid in ("08f2", "09f3"):
        query = bytes.fromhex(qid) + rest
        found = chain.at_once(query, CLIENT)
        if type(found) is not tuple:
            found = chain.resolve(query, tcp=False, client=CLIENT, outside=found)
        assert found[0] == authoritative(catalog).resolve(query, tcp=False, client=CLIENT)[0]
        assert bytes.fromhex(qid) in found[0][12:]  # (the name read from its own ID)
