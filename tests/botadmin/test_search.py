"""Full-text search: phrases, nick:, date ranges, hostile syntax, the FTS index kept in sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.urls import reverse

from botadmin.models import Channel, LogLine, Network
from botadmin.search import Query, Scope, fts5_match, parse, search

pytestmark = pytest.mark.django_db

DAY = datetime(2024, 5, 17, tzinfo=UTC)


@pytest.fixture
def channel() -> Channel:
    network = Network.objects.create(name="libera", host="irc.example.org")
    return Channel.objects.create(network=network, name="#python")


def say(channel: Channel, text: str, nick: str = "alice", when: datetime = DAY) -> LogLine:
    return LogLine.objects.create(channel=channel, time=when, nick=nick, kind="message", text=text)


def texts(query: str, channel: Channel, **scope) -> list[str]:
    found = search(parse(query), Scope([channel.pk], **scope))
    return [line.text for line in found.lines]


def test_it_parses_words_phrases_and_the_nick_filter():
    assert parse('async "event loop" nick:Bob await') == Query(
        words=["async", "await"], phrases=["event loop"], nick="Bob"
    )


def test_every_word_must_match(channel):
    say(channel, "the event loop is blocked")
    say(channel, "the loop is fine")
    assert texts("event loop", channel) == ["the event loop is blocked"]


def test_a_quoted_phrase_matches_only_those_words_in_that_order(channel):
    say(channel, "the event loop is blocked")
    say(channel, "loop the event")
    assert texts('"event loop"', channel) == ["the event loop is blocked"]


def test_matching_ignores_case(channel):
    say(channel, "CAFÉ Python")
    assert texts("café python", channel) == ["CAFÉ Python"]


def test_the_nick_filter_keeps_one_persons_lines(channel):
    say(channel, "hello from alice", nick="alice")
    say(channel, "hello from bob", nick="Bob")
    assert texts("hello nick:bob", channel) == ["hello from bob"]
    assert texts("nick:BOB", channel) == ["hello from bob"]


def test_the_date_range_bounds_the_results(channel):
    say(channel, "deploy one", when=DAY - timedelta(days=2))
    say(channel, "deploy two", when=DAY)
    say(channel, "deploy three", when=DAY + timedelta(days=2))
    found = texts("deploy", channel, since=DAY, until=DAY + timedelta(days=1))
    assert found == ["deploy two"]


def test_results_are_newest_first_and_paged(channel):
    for i in range(5):
        say(channel, f"ping {i}", when=DAY + timedelta(minutes=i))
    first = search(parse("ping"), Scope([channel.pk]), limit=2)
    second = search(parse("ping"), Scope([channel.pk]), limit=2, offset=2)
    last = search(parse("ping"), Scope([channel.pk]), limit=2, offset=4)
    assert [line.text for line in first.lines] == ["ping 4", "ping 3"]
    assert [line.text for line in second.lines] == ["ping 2", "ping 1"]
    assert (first.has_more, last.has_more) == (True, False)


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '"""',
        "NEAR(a b)",
        "a OR b NOT c",
        "text:foo",
        "foo*",
        "^foo",
        "(unbalanced",
        "a AND",
        "-x",
        "{text}: x",
        "''; DROP TABLE botadmin_logline; --",
        "\x00",
        "+",
    ],
)
def test_a_hostile_query_cannot_break_the_match(channel, hostile):
    say(channel, "a OR b NOT c")
    search(parse(hostile), Scope([channel.pk]))  # no exception is the point
    assert LogLine.objects.count() == 1


def test_operators_are_searched_as_plain_words(channel):
    say(channel, "use a NEAR b here")
    say(channel, "nothing")
    assert texts("NEAR", channel) == ["use a NEAR b here"]


def test_fts5_terms_are_string_literals():
    assert fts5_match(Query(words=['say"hi', "OR"], phrases=["a b"])) == '"say""hi" "OR" "a b"'


def test_the_index_follows_updates_and_deletes(channel):
    line = say(channel, "original words")
    line.text = "replaced words"
    line.save()
    assert texts("original", channel) == []
    assert texts("replaced", channel) == ["replaced words"]
    line.delete()
    assert texts("replaced", channel) == []


def test_bulk_inserted_lines_are_found(channel):
    LogLine.objects.bulk_create(
        LogLine(channel=channel, time=DAY, nick="bot", kind="message", text=f"bulk {i}")
        for i in range(3)
    )
    assert sorted(texts("bulk", channel)) == ["bulk 0", "bulk 1", "bulk 2"]


def test_the_database_searches_through_its_full_text_index(channel):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'botadmin_logline_fts'")
            assert "fts5" in cursor.fetchone()[0]
            say(channel, "Café au lait")  # the FTS5 tokenizer also folds accents
            assert texts("cafe", channel) == ["Café au lait"]
        else:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'botadmin_logline_text_fts'"
            )
            assert "gin" in cursor.fetchone()[0].lower()


def test_the_search_page_links_results_to_permalinks(client, channel):
    line = say(channel, "find me please")
    response = client.get(reverse("logs:search") + "?q=find&network=libera&channel=python")
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("logs:line", args=[line.pk]) in body
    assert '<meta name="robots" content="noindex, nofollow">' in body


def test_the_search_page_rejects_a_reversed_date_range(client, channel):
    response = client.get(reverse("logs:search") + "?q=x&since=2024-05-10&until=2024-05-01")
    assert "The end date is before the start date." in response.content.decode()
    assert "hits" not in response.context


@pytest.mark.parametrize(("wanted", "found"), [("#python", ["in public"]), ("#nowhere", [])])
def test_the_channel_filter_holds_without_a_network(staff_client, channel, wanted, found):
    secret = Channel.objects.create(network=channel.network, name="#secret", public=False)
    say(channel, "in public")
    say(secret, "in secret")
    url = reverse("logs:search") + "?" + urlencode({"q": "in", "channel": wanted})
    hits = staff_client.get(url).context["hits"]
    assert [line.text for _, line in hits] == found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("asyncio OR nursery", ["trio nursery", "asyncio loop"]),
        ("loop -asyncio", ["event loop in trio"]),
        ("nurs*", ["trio nursery"]),
        ("trio OR asyncio -loop", ["trio nursery"]),
    ],
)
def test_or_exclusion_and_prefix(channel, query, expected):
    say(channel, "asyncio loop")
    say(channel, "trio nursery")
    say(channel, "event loop in trio")
    assert texts(query, channel) == expected


def test_results_are_counted_highlighted_and_name_their_network(client, channel):
    for number in range(3):
        # Not <world>: PostgreSQL's text search parser reads that as markup and skips it.
        say(channel, f"hello & world < {number}")
    say(channel, "something else")
    body = client.get(reverse("logs:search") + "?q=hel*+world").content.decode()
    assert '<p id="result-count">3 lines found.</p>' in body
    assert "<mark>hello</mark> &amp; <mark>world</mark> &lt; 2" in body
    assert "libera #python" in body
