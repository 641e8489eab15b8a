"""Privacy requests and rules on the Django side: search counts, erasure, retention, opt-outs.

Everything goes through botadmin.policy; these tests drive it the ways an operator does
(the staff pages, `manage.py bot`) and read the result the ways a reader does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from botadmin import bridge, policy
from botadmin.models import (
    Channel,
    LogLine,
    Network,
    OptOut,
    PrivacyAction,
    RedactedNick,
    Seen,
)
from botadmin.views.search import RESULTS_PER_PAGE
from tests.botadmin.test_log_views import DAY, say

pytestmark = pytest.mark.django_db


def seen(network: Network, nick: str, when: datetime = DAY, channel: str = "#python") -> Seen:
    return Seen.objects.create(
        network=network, nick=nick.lower(), display_nick=nick, channel=channel, time=when,
        text="hi",
    )  # fmt: skip


def indexed(word: str) -> set[int]:
    """Ask the full-text index itself which rows hold word (SQLite FTS5 or PostgreSQL)."""
    if connection.vendor == "postgresql":
        # The index is an expression index on the lines themselves: ask it the way search does.
        query = (
            "SELECT id FROM botadmin_logline "
            "WHERE to_tsvector('simple', text) @@ phraseto_tsquery('simple', %s)"
        )
        params = [word]
    else:
        query = "SELECT rowid FROM botadmin_logline_fts WHERE botadmin_logline_fts MATCH %s"
        params = [f'"{word}"']
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return {row[0] for row in cursor.fetchall()}


# -- search counts after the policy ------------------------------------------------------


def test_search_offers_no_older_page_when_only_redacted_lines_matched_beyond(
    client, public, network
):
    say(public, "kumquat recipe", nick="grace", when=DAY)  # the oldest match: redacted
    for minute in range(RESULTS_PER_PAGE):
        say(public, f"kumquat {minute}", nick="ann", when=DAY + timedelta(minutes=minute + 1))
    RedactedNick.objects.create(network=network, nick="grace", display_nick="grace")
    page = client.get(reverse("logs:search"), {"q": "kumquat"}).content.decode()
    assert page.count('class="result"') == RESULTS_PER_PAGE
    assert "older →" not in page
    say(public, "kumquat", nick="bob", when=DAY - timedelta(days=1))  # one more, visible
    assert "older →" in client.get(reverse("logs:search"), {"q": "kumquat"}).content.decode()


def test_search_leaves_out_the_nick_change_that_reveals_a_redacted_nick(public, network):
    from botadmin import search

    say(public, "Grace", nick="ivy", kind="nick")
    say(public, "Gr[a]ce", nick="eve", kind="nick")
    RedactedNick.objects.create(network=network, nick="gr{a}ce", display_nick="Gr[a]ce")
    RedactedNick.objects.create(network=network, nick="grace", display_nick="Grace")
    found = search.search(search.parse("nick:ivy"), search.Scope([public.pk]))
    assert (found.lines, found.has_more) == ([], False)
    found = search.search(search.parse("nick:eve"), search.Scope([public.pk]))
    assert found.lines == []


# -- forgetting a nick ---------------------------------------------------------------------


@pytest.fixture
def ann_everywhere(network, public):
    other = Network.objects.create(name="oftc", host="irc.oftc.net")
    elsewhere = Channel.objects.create(network=other, name="#project")
    lines = {
        "said": say(public, "ann's secret recipe", nick="Ann"),
        "renamed": say(public, "ann", nick="ann_away", kind="nick"),
        "relayed": say(elsewhere, "<ann@libera> ann's secret recipe", nick="relaybot"),
        "other": say(public, "bob's own secret", nick="bob"),
        "later": say(public, "later secret", nick="ann", when=DAY + timedelta(days=3)),
        "same nick elsewhere": say(elsewhere, "not the same person's secret", nick="ann"),
    }
    seen(network, "ann")
    seen(other, "ann")
    return lines


def test_forget_removes_the_lines_the_seen_entry_and_the_index_rows(network, ann_everywhere):
    lines = ann_everywhere
    done = policy.forget(network, "ANN", via="test")
    remaining = set(LogLine.objects.values_list("pk", flat=True))
    assert remaining == {lines["other"].pk, lines["same nick elsewhere"].pk}
    assert indexed("secret") == remaining
    assert list(Seen.objects.values_list("network__name", flat=True)) == ["oftc"]
    assert (done.action, done.network, done.nick, done.lines, done.seen) == (
        "forget", "libera", "ANN", 4, 1,
    )  # fmt: skip
    assert PrivacyAction.objects.get() == done


def test_forget_since_a_day_keeps_what_came_before(network, ann_everywhere):
    policy.forget(network, "ann", since=DAY + timedelta(days=1), via="test")
    assert not LogLine.objects.filter(text="later secret").exists()
    assert LogLine.objects.filter(text="ann's secret recipe", nick="Ann").exists()
    assert Seen.objects.filter(network=network).exists()  # last seen before that day


def test_anonymise_keeps_the_words_without_the_nick(network, ann_everywhere):
    lines = ann_everywhere
    done = policy.forget(network, "ann", anonymise=True, via="test")
    rows = {key: LogLine.objects.get(pk=line.pk) for key, line in lines.items()}
    assert (rows["said"].nick, rows["said"].text) == ("anonymous", "ann's secret recipe")
    assert rows["renamed"].text == "anonymous"
    assert rows["relayed"].text == "<anonymous@libera> ann's secret recipe"
    assert rows["same nick elsewhere"].nick == "ann"
    assert (done.action, done.lines) == ("anonymise", 4)
    assert indexed("anonymous") == {rows["relayed"].pk, rows["renamed"].pk}


def test_bot_forget_and_redact_from_the_shell(network, ann_everywhere):
    out = StringIO()
    call_command("bot", "forget", "libera", "ann", "--since", "2024-05-18", stdout=out)
    assert out.getvalue() == "ann on libera: 1 log lines deleted, 0 seen entries removed.\n"
    call_command("bot", "redact", "libera", "Gr[a]ce", "--reason", "asked", stdout=out)
    assert RedactedNick.objects.get().nick == "gr{a}ce"
    call_command("bot", "redact", "libera", "GR[A]CE", "--remove", stdout=out)
    assert not RedactedNick.objects.exists()
    actions = list(PrivacyAction.objects.order_by("id").values_list("action", "nick", "via"))
    assert actions == [
        ("forget", "ann", "manage.py bot"),
        ("redact", "Gr[a]ce", "manage.py bot"),
        ("unredact", "Gr[a]ce", "manage.py bot"),
    ]
    with pytest.raises(CommandError, match="not redacted"):
        call_command("bot", "redact", "libera", "nobody", "--remove")
    with pytest.raises(CommandError, match="No such network"):
        call_command("bot", "forget", "nowhere", "ann")
    with pytest.raises(CommandError, match="not a day"):
        call_command("bot", "forget", "libera", "ann", "--since", "yesterday")


def test_staff_forget_a_nick_on_the_privacy_page_and_see_it_audited(
    staff_client, network, ann_everywhere
):
    url = reverse("botadmin:privacy")
    response = staff_client.post(url, {"network": network.pk, "nick": "ann"}, follow=True)
    page = response.content.decode()
    assert "ann on libera: 4 log lines deleted, 1 seen entries removed." in page
    row = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    assert "forget" in row and "staff" in row and "privacy page" in row
    assert PrivacyAction.objects.get().by == staff_client.user


def test_the_privacy_page_is_for_staff_only(user_client):
    assert user_client.get(reverse("botadmin:privacy")).status_code == 403
    assert user_client.post(reverse("botadmin:privacy"), {"nick": "x"}).status_code == 403


def test_the_redactions_page_records_what_it_does(staff_client, network):
    url = reverse("botadmin:redactions")
    staff_client.post(url, {"network": network.pk, "display_nick": "Grace", "reason": "asked"})
    redaction = RedactedNick.objects.get()
    staff_client.post(reverse("botadmin:redaction-delete", args=[redaction.pk]))
    assert list(PrivacyAction.objects.order_by("id").values_list("action", "nick", "via")) == [
        ("redact", "Grace", "redactions page"),
        ("unredact", "Grace", "redactions page"),
    ]


# -- retention -------------------------------------------------------------------------------


def test_lines_past_the_channels_retention_are_deleted_with_their_seen_entries(network, public):
    now = datetime(2024, 6, 30, tzinfo=UTC)
    kept_forever = Channel.objects.create(network=network, name="#archive")
    public.retention_days = 30
    public.save()
    old = say(public, "old", when=now - timedelta(days=31))
    recent = say(public, "recent", when=now - timedelta(days=29))
    archived = say(kept_forever, "old but kept", when=now - timedelta(days=400))
    seen(network, "ann", when=now - timedelta(days=31))
    seen(network, "bob", when=now - timedelta(days=1))
    assert policy.expire(now) == 1
    assert set(LogLine.objects.values_list("pk", flat=True)) == {recent.pk, archived.pk}
    assert old.pk not in indexed("old")
    assert list(Seen.objects.values_list("nick", flat=True)) == ["bob"]


def test_bot_expire_deletes_now(network, public):
    public.retention_days = 1
    public.save()
    say(public, "ancient", when=datetime(2000, 1, 1, tzinfo=UTC))
    out = StringIO()
    call_command("bot", "expire", stdout=out)
    assert out.getvalue() == "Deleted 1 log lines past their retention.\n"


def test_the_channel_page_states_the_logging_policy(client, network, public):
    network.privacy_contact = "privacy@example.org <script>x</script>"
    network.off_record_marker = "<off>"
    network.save()
    public.retention_days = 30
    public.save()
    page = client.get(reverse("logs:channel", args=["libera", "#python"])).content.decode()
    policy_text = re.search(r'<aside class="log-policy.*?</aside>', page, re.S).group(0)
    text = " ".join(re.sub(r"<[^>]+>", " ", policy_text).split())
    assert "This channel is logged and published here." in text
    assert "Lines are kept 30 days, then deleted." in text
    assert "Lines starting with &lt;off&gt; are not logged." in text
    assert "!optout" in text and "!optin" in text
    assert "<script>" not in policy_text and "&lt;script&gt;" in policy_text
    assert 'href="mailto:privacy@example.org"' in policy_text


# -- what the bot is given ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the bridge closes connections as the bot's threads do
def test_the_bot_gets_the_redactions_opt_outs_marker_and_entry_notice(network, public):
    public.entry_notice = "This channel is logged."
    public.save()
    RedactedNick.objects.create(network=network, nick="grace", display_nick="Grace")
    network.off_record_marker = "(nolog)"
    network.save()
    async_to_sync(bridge.DatabaseOptOutStore().put)("libera", "Ann[x]", True)
    assert OptOut.objects.get().nick == "ann{x}"
    (config,) = bridge.load_networks()
    assert config.privacy.redacted == {"grace"}
    assert config.privacy.opted_out == {"ann{x}"}
    assert config.privacy.off_marker == "(nolog)"
    assert config.channels[0].entry_notice == "This channel is logged."
    async_to_sync(bridge.DatabaseOptOutStore().put)("libera", "ANN[X]", False)
    assert not OptOut.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_redact_from_the_server_deletes_the_line_by_msgid(network, public):
    from botadmin.infobot import Redaction

    kept = say(public, "fine", msgid="m1")
    gone = say(public, "spam", msgid="m2")
    async_to_sync(bridge.DatabaseLogSink().redact)([Redaction("libera", "#PYTHON", "m2")])
    assert list(LogLine.objects.values_list("pk", flat=True)) == [kept.pk]
    assert gone.pk not in indexed("spam")


@pytest.mark.django_db(transaction=True)
def test_the_bot_worker_expires_lines_at_start_then_daily(network, public):
    from botadmin.worker import BotWorker

    public.retention_days = 1
    public.save()
    say(public, "old", when=datetime(2000, 1, 1, tzinfo=UTC))
    worker = object.__new__(BotWorker)  # only its expiry round, no bot
    async_to_sync(worker.expire_daily)()
    assert not LogLine.objects.exists()
    say(public, "old too", when=datetime(2000, 1, 1, tzinfo=UTC))
    async_to_sync(worker.expire_daily)()  # the same day: nothing runs
    assert LogLine.objects.count() == 1
    worker.next_expiry -= timedelta(days=1)  # a day later
    async_to_sync(worker.expire_daily)()
    assert not LogLine.objects.exists()


# -- a relay that would publish a private channel is refused when configured -----------------


@pytest.fixture
def relay(network, public) -> None:
    import botadmin.plugins
    from botadmin.bridge import register_plugins
    from botadmin.infobot.host import discover

    Channel.objects.create(network=network, name="#staff", public=False)
    register_plugins(discover([botadmin.plugins]))


LEAK = '[["libera/#staff", "libera/#python"]]'
REFUSED = (
    "libera/#staff is private and libera/#python is public (or not one of the bot's "
    "channels): relaying would publish libera/#staff's lines there. List the pair in "
    "private_to_public to allow it."
)


def test_the_relay_page_refuses_a_link_from_a_private_channel_to_a_public_one(staff_client, relay):
    from botadmin.models import PluginSetting

    url = reverse("botadmin:plugin-settings", args=["relay"])
    response = staff_client.post(url, {"enabled": "on", "setting_links": LEAK})
    assert response.status_code == 200
    assert REFUSED.replace("'", "&#x27;") in response.content.decode()
    assert not PluginSetting.objects.exists()
    allowed = {"enabled": "on", "setting_links": LEAK, "setting_private_to_public": LEAK}
    assert staff_client.post(url, allowed).status_code == 302
    assert PluginSetting.objects.get().config["private_to_public"] == [
        ["libera/#staff", "libera/#python"]
    ]


def test_bot_plugin_config_refuses_it_too(relay):
    with pytest.raises(CommandError) as refused:
        call_command("bot", "plugin", "config", "relay", f'{{"links": {LEAK}}}')
    assert str(refused.value) == REFUSED
    both = f'{{"links": {LEAK}, "private_to_public": {LEAK}}}'
    call_command("bot", "plugin", "config", "relay", both, stdout=StringIO())
    between_private = '{"links": [["libera/#staff", "libera/#staff-2"]]}'
    Channel.objects.create(network=Network.objects.get(), name="#staff-2", public=False)
    call_command("bot", "plugin", "config", "relay", between_private, stdout=StringIO())


def test_opting_out_forgets_the_last_sighting_and_hides_it_from_the_seen_page(
    client, network, public
):
    seen(network, "ann")
    seen(network, "bob")
    policy.opt_out(network, "ANN", True)
    assert list(Seen.objects.values_list("nick", flat=True)) == ["bob"]
    seen(network, "ann")  # written by a bot that had not heard of the opt-out yet

    def sighting(nick: str) -> str:
        page = client.get(reverse("logs:seen"), {"nick": nick}).content.decode()
        section = re.search(r'<section class="card" id="sighting">(.*?)</section>', page, re.S)
        return " ".join(section.group(1).split())

    assert sighting("ann") == "<p>ann has not been seen in a public channel on libera.</p>"
    assert sighting("bob").endswith("saying: <q>hi</q></p>")


def test_bot_channel_and_network_add_take_the_privacy_settings(staff_client):
    out = StringIO()
    call_command("bot", "network", "add", "local", "127.0.0.1", "--off-record-marker", "(nolog)",
                 "--privacy-contact", "privacy@example.org", stdout=out)  # fmt: skip
    call_command("bot", "channel", "add", "local", "#dev", "--retention-days", "30",
                 "--entry-notice", "This channel is logged.", stdout=out)  # fmt: skip
    network = Network.objects.get()
    assert (network.off_record_marker, network.privacy_contact) == (
        "(nolog)",
        "privacy@example.org",
    )
    channel = network.channels.get()
    assert (channel.retention_days, channel.entry_notice) == (30, "This channel is logged.")
    page = staff_client.get(reverse("botadmin:admin-home")).content.decode()
    assert "<td>30 days</td>" in page
