"""The one policy module: who reads which channel, and what is redacted, for every path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from botadmin import bridge, policy
from botadmin.models import Channel, ChannelGrant, LogLine, RedactedNick, Seen
from tests.botadmin.test_log_views import DAY, say

pytestmark = pytest.mark.django_db
BOTADMIN = Path(policy.__file__).parent


@pytest.fixture
def channels(network) -> dict[str, Channel]:
    return {
        "public": Channel.objects.create(network=network, name="#python"),
        "private": Channel.objects.create(network=network, name="#staff", public=False),
        "granted": Channel.objects.create(network=network, name="#ops", public=False),
    }


def readable(user) -> set[str]:
    return {channel.name for channel in Channel.objects.readable_by(user)}


def test_each_reader_reads_the_public_channels_and_the_private_ones_granted(
    channels, django_user_model
):
    user = django_user_model.objects.create_user("viewer")
    member = django_user_model.objects.create_user("member")
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    ChannelGrant.objects.create(channel=channels["granted"], user=user)
    group = Group.objects.create(name="ops")
    member.groups.add(group)
    ChannelGrant.objects.create(channel=channels["granted"], group=group)
    assert readable(AnonymousUser()) == {"#python"}
    assert readable(user) == readable(member) == {"#python", "#ops"}
    assert readable(staff) == {"#python", "#ops", "#staff"}


def test_lines_are_visible_only_in_readable_channels_and_come_redacted(channels, network):
    say(channels["private"], "secret", nick="ann")
    say(channels["public"], "my address is 1 Main St", nick="Grace")
    say(channels["public"], "Grace", nick="ivy", kind="nick")
    say(channels["public"], "hello", nick="heidi")
    RedactedNick.objects.create(network=network, nick="grace", display_nick="Grace")
    lines = list(LogLine.objects.visible_to(AnonymousUser()).order_by("id"))
    assert [(line.nick, line.text, line.redacted) for line in lines] == [
        (policy.REDACTED, policy.REDACTED, True),
        (policy.REDACTED, policy.REDACTED, True),  # the nick change that would reveal her
        ("heidi", "hello", False),
    ]


def test_a_redacted_line_is_never_saved_back(channels, network):
    say(channels["public"], "private words", nick="grace")
    RedactedNick.objects.create(network=network, nick="grace", display_nick="grace")
    line = LogLine.objects.redacted().get()
    with pytest.raises(ValueError, match="never stored"):
        line.save()
    assert LogLine.objects.get().text == "private words"


def test_a_sighting_is_public_only_in_a_channel_public_then_and_now_and_not_redacted(
    channels, network
):
    def spoke(nick: str, channel: str, public: bool = True) -> None:
        Seen.objects.create(
            network=network, nick=nick, display_nick=nick, channel=channel, time=DAY,
            text="hi", public=public,
        )  # fmt: skip

    spoke("ann", "#python")
    spoke("bob", "#staff")
    spoke("cid", "#python", public=False)  # private when said, public since
    spoke("grace", "#python")
    RedactedNick.objects.create(network=network, nick="grace", display_nick="grace")
    sighting = Seen.objects.public_sighting(network, "ANN")
    assert (sighting.seen.nick, sighting.channel) == ("ann", channels["public"])
    for nick in ("bob", "cid", "grace", "nobody"):
        assert Seen.objects.public_sighting(network, nick) is None, nick


def test_the_bot_is_told_which_channels_are_published_and_logged(channels, network):
    Channel.objects.filter(pk=channels["public"].pk).update(logged=False)
    (config,) = bridge.load_networks()
    flags = {c.name: (c.public, c.logged) for c in config.channels}
    assert flags == {"#python": (True, False), "#staff": (False, True), "#ops": (False, True)}


# Where a reading decision shows in code: the public flag, grants, redactions.
DECISIONS = re.compile(r"public=True|channels__public|grants__|redactions__|RedactedNick\.objects")
# Pages that edit these (staff forms and admin), not read logs through them.
EDITORS = {"policy.py", "models.py", "forms.py", "admin.py", "redactions.py"}


def test_no_module_but_the_policy_decides_who_reads_what():
    deciding = sorted(
        str(path.relative_to(BOTADMIN))
        for path in BOTADMIN.rglob("*.py")
        if "migrations" not in path.parts
        and path.name not in EDITORS
        and DECISIONS.search(path.read_text())
    )
    assert deciding == []
