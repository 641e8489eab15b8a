"""Who may read a channel's log, and what a reader is shown of it: decided here only.

Every path that publishes what was said asks this module: the log pages, their plain
text, permalinks, search, the live tail, the seen page, the dashboard panel, and the
bot's plugins (botadmin/bridge.py builds the engine's channel configuration with
``published`` and ``logged``). The querysets below are the models' managers
(``Channel.objects.readable_by(user)``, ``LogLine.objects.visible_to(user)``), so a new
page gets the policy by asking the models the usual way.

Retention, forgetting a nick, opt-outs and the bot's own replies (issue 17) belong here
too: a line the policy hides must be hidden from every path at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.db.models import Q
from django.db.models.query import ModelIterable

from botadmin.infobot.protocol import fold

if TYPE_CHECKING:
    from botadmin.models import Channel, LogLine, Network, Seen

Reader = AbstractBaseUser | AnonymousUser
REDACTED = "[redacted]"


# -- channels -------------------------------------------------------------------------


class ChannelQuerySet(models.QuerySet):
    def published(self) -> ChannelQuerySet:
        """Keep the channels whose logs anyone may read (see ``published``)."""
        return self.filter(public=True)

    def readable_by(self, user: Reader) -> ChannelQuerySet:
        """Keep the public channels, and private ones for staff and the users or groups granted."""
        channels = self.select_related("network")
        if user.is_authenticated and user.is_staff:
            return channels
        if not user.is_authenticated:
            return channels.published()
        granted = self.model.objects.filter(
            Q(grants__user=user) | Q(grants__group__in=user.groups.all())
        ).values("pk")
        return channels.filter(Q(public=True) | Q(pk__in=granted))


def published(channel: Channel) -> bool:
    """Tell whether what is said in channel may be shown to anyone, on the web or on IRC.

    The bot's plugins get this as ChannelConfig.public: what a private channel said is
    never repeated in another one.
    """
    return channel.public


def logged(channel: Channel) -> bool:
    """Tell whether the bot stores channel's lines at all."""
    return channel.logged


# -- log lines --------------------------------------------------------------------------


class LogLineQuerySet(models.QuerySet):
    def visible_to(self, user: Reader) -> LogLineQuerySet:
        """Keep the lines of the channels user may read, redacted as they are published."""
        channels = apps.get_model("botadmin", "Channel").objects.readable_by(user)
        return self.filter(channel__in=channels.values("pk")).redacted()

    def redacted(self) -> LogLineQuerySet:
        """Evaluate to lines marked ``redacted``, whose nick and text are the placeholder.

        For paths that have checked the channel already (a day page, the live tail).
        Only model rows are redacted: ``values()`` and ``values_list()`` are not, so ask
        them only for what is never secret (ids, times).
        """
        clone = self._chain()
        clone._iterable_class = RedactingIterable
        return clone


class RedactingIterable(ModelIterable):
    """Fetch the rows, then redact them with one query for their networks' redactions."""

    def __iter__(self) -> Iterator[LogLine]:
        rows = list(super().__iter__())
        nicks = redacted_by_channel({row.channel_id for row in rows})
        for row in rows:
            redact(row, nicks.get(row.channel_id, frozenset()))
        return iter(rows)


def redacted_by_channel(channel_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Map each channel id to the folded nicks redacted on its network."""
    pairs = (
        apps.get_model("botadmin", "Channel")
        .objects.filter(pk__in=list(channel_ids), network__redactions__isnull=False)
        .values_list("pk", "network__redactions__nick")
    )
    found: dict[int, set[str]] = {}
    for channel_id, nick in pairs:
        found.setdefault(channel_id, set()).add(nick)
    return {channel_id: frozenset(nicks) for channel_id, nicks in found.items()}


def is_redacted(line: LogLine, nicks: frozenset[str]) -> bool:
    """Tell whether a line is hidden: a redacted nick's, or the nick change that reveals one."""
    if fold(line.nick) in nicks:
        return True
    return line.kind == "nick" and fold(line.text.strip()) in nicks


def redact(line: LogLine, nicks: frozenset[str]) -> None:
    """Mark line, and blank what it would tell when it is redacted (it is never saved)."""
    line.redacted = is_redacted(line, nicks)
    if line.redacted:
        line.nick = line.text = REDACTED
        line.account = line.msgid = ""


# -- seen -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sighting:
    seen: Seen
    channel: Channel


class SeenQuerySet(models.QuerySet):
    def public_sighting(self, network: Network, nick: str) -> Sighting | None:
        """Find nick's last line if said in a channel that was and is public, unredacted."""
        folded = fold(nick.strip())
        if network.redactions.filter(nick=folded).exists():
            return None
        seen = self.filter(network=network, nick=folded, public=True).first()
        if seen is None:
            return None
        channel = network.channels.published().filter(name__iexact=seen.channel).first()
        return Sighting(seen, channel) if channel else None
