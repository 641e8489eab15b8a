"""The published log pages: days, paging, permalinks, plain text, escaping, privacy, seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from botadmin.models import Channel, ChannelGrant, LogLine, Network, RedactedNick, Seen
from botadmin.views.days import PAGE_SIZE

pytestmark = pytest.mark.django_db

DAY = datetime(2024, 5, 17, tzinfo=UTC)


@pytest.fixture
def private(network) -> Channel:
    return Channel.objects.create(network=network, name="#staff-room", public=False)


def say(channel: Channel, text: str, nick: str = "alice", when: datetime = DAY, **kw) -> LogLine:
    return LogLine.objects.create(
        channel=channel, time=when, nick=nick, kind=kw.pop("kind", "message"), text=text, **kw
    )


def day_url(channel: Channel, day: datetime = DAY) -> str:
    return reverse("logs:day", args=[channel.network.name, channel.name, day.date()])


def text_url(channel: Channel, day: datetime = DAY) -> str:
    return reverse("logs:day-text", args=[channel.network.name, channel.name, day.date()])


def test_a_public_channel_is_listed_and_readable_without_signing_in(client, public):
    say(public, "hello world")
    index = client.get(reverse("logs:index"))
    assert "#python" in index.content.decode()
    page = client.get(day_url(public))
    assert page.status_code == 200
    assert "hello world" in page.content.decode()


def test_channel_urls_drop_the_hash_and_keep_other_prefixes(network):
    assert reverse("logs:channel", args=["libera", "#python"]) == "/logs/libera/python/"
    assert reverse("logs:channel", args=["libera", "&local"]) == "/logs/libera/&local/"
    assert reverse("logs:channel", args=["libera", "+plus"]) == "/logs/libera/+plus/"
    assert reverse("logs:channel", args=["libera", "##linux"]) == "/logs/libera/%23%23linux/"


def test_an_ampersand_channel_and_a_double_hash_channel_are_reachable(client, network):
    local = Channel.objects.create(network=network, name="&local")
    double = Channel.objects.create(network=network, name="##linux")
    say(local, "local line")
    say(double, "double line")
    assert "local line" in client.get(day_url(local)).content.decode()
    assert "double line" in client.get(day_url(double)).content.decode()


@pytest.mark.parametrize("name", ["#a/b", "#100%", "#%41", "&x/y%2F"])
def test_a_channel_with_a_slash_or_percent_has_an_address_that_leads_back(client, network, name):
    channel = Channel.objects.create(network=network, name=name)
    say(channel, "odd name")
    assert client.get(reverse("logs:index")).status_code == 200
    assert "odd name" in client.get(day_url(channel)).content.decode()


def test_the_channel_page_shows_today(client, public):
    say(public, "said today", when=datetime.now(UTC))
    say(public, "said last week", when=datetime.now(UTC) - timedelta(days=7))
    body = client.get(reverse("logs:channel", args=["libera", "#python"])).content.decode()
    assert "said today" in body
    assert "said last week" not in body
    assert 'data-socket="/ws/logs/' in body


def test_a_day_links_to_the_previous_and_next_days_that_have_lines(client, public):
    say(public, "before", when=DAY - timedelta(days=3))
    say(public, "today", when=DAY)
    say(public, "after", when=DAY + timedelta(days=5))
    response = client.get(day_url(public))
    assert response.context["previous_day"] == (DAY - timedelta(days=3)).date()
    assert response.context["next_day"] == (DAY + timedelta(days=5)).date()
    body = response.content.decode()
    assert day_url(public, DAY - timedelta(days=3)) in body
    assert day_url(public, DAY + timedelta(days=5)) in body


def test_the_calendar_links_only_days_with_lines(client, public):
    say(public, "one", when=DAY.replace(day=2))
    say(public, "two", when=DAY)
    month = client.get(day_url(public)).context["month"]
    busy = {day for week in month.weeks for day, has_lines in week if has_lines}
    assert busy == {DAY.replace(day=2).date(), DAY.date()}


def test_a_big_day_is_paged(client, public):
    LogLine.objects.bulk_create(
        LogLine(
            channel=public,
            time=DAY + timedelta(seconds=i),
            nick="bob",
            kind="message",
            text=f"n{i}",
        )
        for i in range(PAGE_SIZE + 3)
    )
    first = client.get(day_url(public))
    assert len(first.context["lines"]) == PAGE_SIZE
    second = client.get(day_url(public) + "?page=2")
    assert [line.text for line in second.context["lines"]] == [
        f"n{i}" for i in range(PAGE_SIZE, PAGE_SIZE + 3)
    ]


def test_a_permalink_opens_the_right_page_at_the_line(client, public):
    LogLine.objects.bulk_create(
        LogLine(
            channel=public,
            time=DAY + timedelta(seconds=i),
            nick="bob",
            kind="message",
            text=f"n{i}",
        )
        for i in range(PAGE_SIZE + 3)
    )
    line = LogLine.objects.get(text=f"n{PAGE_SIZE + 1}")
    response = client.get(reverse("logs:line", args=[line.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"{day_url(public)}?page=2#l{line.pk}"
    page = client.get(response["Location"].split("#")[0])
    assert f'id="l{line.pk}"' in page.content.decode()


def test_the_plain_text_log_has_one_line_per_event(client, public):
    say(public, "hello", when=DAY + timedelta(hours=1))
    say(public, "waves", kind="action", when=DAY + timedelta(hours=2))
    say(public, "", nick="carol", kind="join", when=DAY + timedelta(hours=3))
    response = client.get(text_url(public))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().splitlines() == [
        "[01:00:00] <alice> hello",
        "[02:00:00] * alice waves",
        "[03:00:00] --> carol joined",
    ]


def test_hostile_lines_are_escaped_and_stripped_of_irc_formatting(client, public):
    say(public, "<script>alert(1)</script> \x0304,12red\x03 \x02bold\x02 \x1fu\x1f\x16r\x0f")
    say(public, "hi", nick="<img src=x>")
    body = client.get(day_url(public)).content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "red bold ur" in body
    assert "\x03" not in body and "\x02" not in body
    assert "<img src=x>" not in body
    text = client.get(text_url(public)).content.decode()
    assert "red bold ur" in text and "\x03" not in text


def test_urls_become_links_that_pass_no_ranking(client, public):
    say(public, 'see https://example.org/a?b=1&c="x" (and https://example.org/wiki/Foo_(bar)).')
    body = client.get(day_url(public)).content.decode()
    assert '<a href="https://example.org/a?b=1&amp;c=" rel="nofollow noopener">' in body
    assert 'href="https://example.org/wiki/Foo_(bar)" rel="nofollow noopener"' in body


def test_a_nick_has_the_same_colour_on_every_line(client, public):
    say(public, "one", nick="Dana")
    say(public, "two", nick="dana")
    lines = client.get(day_url(public)).context["lines"]
    assert lines[0].colour == lines[1].colour


def test_joins_and_parts_are_marked_so_the_toggle_can_hide_them(client, public):
    say(public, "", nick="erin", kind="join")
    say(public, "bye", nick="erin", kind="part")
    say(public, "still here", nick="frank")
    body = client.get(day_url(public)).content.decode()
    assert body.count("presence") >= 2
    assert 'id="hide-presence"' in body


class TestPrivateChannels:
    def urls(self, channel: Channel, line: LogLine) -> list[str]:
        return [
            reverse("logs:channel", args=["libera", channel.name]),
            day_url(channel),
            text_url(channel),
            reverse("logs:line", args=[line.pk]),
            reverse("logs:search")
            + "?"
            + urlencode({"network": "libera", "channel": channel.name, "q": "secret"}),
        ]

    def test_they_are_a_404_for_anonymous_readers_everywhere(self, client, private):
        line = say(private, "secret plans")
        for url in self.urls(private, line):
            assert client.get(url).status_code == 404, url
        assert "staff-room" not in client.get(reverse("logs:index")).content.decode()

    def test_they_are_a_404_for_users_not_granted(self, user_client, private):
        line = say(private, "secret plans")
        for url in self.urls(private, line):
            assert user_client.get(url).status_code == 404, url
        assert "staff-room" not in user_client.get(reverse("logs:index")).content.decode()

    def test_a_network_search_never_finds_their_lines(self, user_client, private, public):
        say(private, "secret plans")
        say(public, "public secret")
        hits = user_client.get(reverse("logs:search") + "?network=libera&q=secret").context["hits"]
        assert [line.text for _, line in hits] == ["public secret"]

    def test_staff_read_them(self, staff_client, private):
        line = say(private, "secret plans")
        for url in self.urls(private, line):
            assert staff_client.get(url).status_code in (200, 302), url

    def test_a_granted_user_reads_them(self, user_client, private):
        ChannelGrant.objects.create(channel=private, user=user_client.user)
        line = say(private, "secret plans")
        for url in self.urls(private, line):
            assert user_client.get(url).status_code in (200, 302), url
        assert "staff-room" in user_client.get(reverse("logs:index")).content.decode()

    def test_a_granted_groups_members_read_them(self, user_client, private):
        group = Group.objects.create(name="ops")
        user_client.user.groups.add(group)
        ChannelGrant.objects.create(channel=private, group=group)
        assert user_client.get(day_url(private)).status_code == 200


def test_a_redacted_nicks_lines_are_shown_as_redacted_everywhere(client, network, public):
    say(public, "my home address is 1 Main St", nick="Grace")
    say(public, "Grace2", nick="grace", kind="nick")
    say(public, "unrelated", nick="heidi")
    RedactedNick.objects.create(network=network, nick="grace", display_nick="Grace")
    body = client.get(day_url(public)).content.decode()
    assert "Main St" not in body and "Grace" not in body
    assert body.count("[redacted]") >= 2
    assert "Main St" not in client.get(text_url(public)).content.decode()
    found = client.get(reverse("logs:search") + "?q=address").context["hits"]
    assert found == []


def search_hits(client, query: str) -> list[str]:
    hits = client.get(reverse("logs:search") + "?" + urlencode({"q": query})).context["hits"]
    return [line.text for _, line in hits]


def test_search_hides_what_the_day_page_hides_of_a_redacted_nick(client, network, public):
    say(public, "Grace", nick="ivy", kind="nick")  # the change that reveals who ivy became
    say(public, "grace hopper wrote the first compiler", nick="heidi")
    RedactedNick.objects.create(network=network, nick="grace", display_nick="Grace")
    day = client.get(day_url(public)).content.decode()
    assert "ivy" not in day and "Grace" not in day
    assert search_hits(client, "grace") == ["grace hopper wrote the first compiler"]
    assert search_hits(client, "nick:ivy") == []


class TestSeen:
    def ask(self, client, network, nick: str) -> str:
        url = reverse("logs:seen") + f"?network={network.pk}&nick={nick}"
        return client.get(url).content.decode()

    def spoke(self, network, nick: str, channel: str, text: str, **kw) -> Seen:
        """Store what the seen plugin does when ``nick`` speaks (``nick`` as typed on IRC)."""
        return Seen.objects.create(
            network=network,
            nick=nick.lower(),
            display_nick=nick,
            channel=channel,
            time=DAY,
            text=text,
            **kw,
        )

    def test_it_tells_when_and_where_a_nick_spoke_in_a_public_channel(
        self, client, network, public
    ):
        self.spoke(network, "Ivan", "#python", "ciao")
        body = self.ask(client, network, "IVAN")
        assert "Ivan" in body and "#python" in body and "ciao" in body

    def test_with_one_network_the_nick_alone_is_enough(self, client, network, public):
        self.spoke(network, "Ivan", "#python", "ciao")
        body = client.get(reverse("logs:seen") + "?nick=ivan").content.decode()
        assert "This field is required" not in body and "ciao" in body

    def test_with_several_networks_one_must_be_chosen(self, client, network, public):
        other = Network.objects.create(name="oftc", host="irc.oftc.net")
        Channel.objects.create(network=other, name="#debian")
        body = client.get(reverse("logs:seen") + "?nick=ivan").content.decode()
        assert "This field is required" in body

    def test_an_action_reads_as_the_plugin_says_it(self, client, network, public):
        self.spoke(network, "Ivan", "#python", "waves", kind="action")
        assert "saying: <q>* Ivan waves</q>" in self.ask(client, network, "ivan")

    @pytest.mark.parametrize("reader", ["client", "staff_client"])
    def test_it_never_reveals_a_private_channel(self, request, reader, network, public, private):
        client = request.getfixturevalue(reader)
        self.spoke(network, "Judy", "#staff-room", "secret", public=False)
        body = self.ask(client, network, "judy")
        assert "staff-room" not in body and "secret" not in body
        assert "has not been seen in a public channel" in body

    def test_it_hides_a_channel_made_private_since(self, client, network, private):
        self.spoke(network, "Kim", "#staff-room", "x")
        assert "staff-room" not in self.ask(client, network, "kim")

    def test_it_hides_a_redacted_nick(self, client, network, public):
        self.spoke(network, "Leo", "#python", "hi")
        RedactedNick.objects.create(network=network, nick="leo", display_nick="Leo")
        assert "has not been seen" in self.ask(client, network, "leo")


def test_robots_txt_keeps_search_and_seen_out_of_indexes(client):
    response = client.get("/robots.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /logs/search/" in lines
    assert "Disallow: /logs/seen/" in lines
    assert not any(line == "Disallow: /logs/" for line in lines)


def test_an_impossible_date_is_a_404(client, public):
    assert client.get("/logs/libera/python/2024-02-30/").status_code == 404


@pytest.mark.parametrize(
    ("kind", "text", "shown"),
    [
        ("message", "hi", "&lt;<span"),
        ("action", "waves", "* <span"),
        ("notice", "psst", "-<span"),
        ("join", "", "joined"),
        ("part", "bye now", "left (bye now)"),
        ("part", "", "left</span>"),
        ("quit", "Ping timeout", "quit (Ping timeout)"),
        ("nick", "alice_", "is now known as alice_"),
        ("topic", "Welcome!", "set the topic: Welcome!"),
        ("kick", "bob spamming", "kicked bob spamming"),
        ("mode", "+o bob", "set mode +o bob"),
    ],
)
def test_each_kind_of_line_reads_as_what_happened(client, public, kind, text, shown):
    line = say(public, text, kind=kind)
    body = client.get(day_url(public)).content.decode()
    row = body[body.index(f'id="l{line.pk}"') :]
    assert shown in row[: row.index("</li>")]
    assert f"k-{kind}" in row[: row.index(">")]

    def test_a_private_last_line_does_not_hide_an_earlier_public_one(
        self, client, network, public, private
    ):
        say(public, "earlier in public", nick="Alice")
        self.spoke(network, "Alice", private.name, "later in private", public=False)
        body = self.ask(client, network, "alice")
        assert "earlier in public" in body and public.name in body
        assert "later in private" not in body and private.name not in body
