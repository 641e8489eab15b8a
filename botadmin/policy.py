"""Who may read a channel's log, and what a reader is shown of it: decided here only.

Every path that publishes what was said asks this module: the log pages, their plain
text, permalinks, search, the live tail, the seen page, the dashboard panel, and the
bot's plugins (botadmin/bridge.py builds the engine's channel configuration with
``published`` and ``logged``). The querysets below are the models' managers
(``Channel.objects.readable_by(user)``, ``LogLine.objects.visible_to(user)``), so a new
page gets the policy by asking the models the usual way.

Retention, forgetting a nick, opt-outs and the off-the-record marker live here too: the
bot gets them as the engine's Privacy (``bot_privacy``), applied on every IRC line by the
log writer, the seen and relay plugins alike, so a line the policy hides is hidden from
every path at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Lower, Replace, Trim
from django.db.models.query import ModelIterable
from django.utils import timezone

from botadmin.infobot.privacy import Privacy
from botadmin.infobot.protocol import fold

if TYPE_CHECKING:
    from botadmin.models import Channel, LogLine, Network, PrivacyAction, Seen

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


def bot_privacy(network: Network) -> Privacy:
    """Build what the bot may keep and repeat on network (uses prefetched rows when given)."""
    return Privacy(
        redacted=frozenset(r.nick for r in network.redactions.all()),
        opted_out=frozenset(o.nick for o in network.optouts.all()),
        off_marker=network.off_record_marker,
    )


def retention(channel: Channel) -> datetime.timedelta | None:
    """Return how long channel's lines are kept; None: for good."""
    days = channel.retention_days
    return datetime.timedelta(days=days) if days else None


# -- log lines --------------------------------------------------------------------------


class LogLineQuerySet(models.QuerySet):
    def visible_to(self, user: Reader) -> LogLineQuerySet:
        """Keep the lines of the channels user may read, redacted as they are published."""
        channels = apps.get_model("botadmin", "Channel").objects.readable_by(user)
        return self.filter(channel__in=channels.values("pk")).redacted()

    def unredacted(self) -> LogLineQuerySet:
        """Leave out, in the database, the lines ``redacted()`` would blank.

        For paths that must not even count them (search: an "older" link shown for a page
        of redacted matches would tell that a redacted nick said the words).
        """
        redactions = apps.get_model("botadmin", "RedactedNick").objects.filter(
            network=OuterRef("channel__network")
        )
        spoken = redactions.filter(nick=folded(OuterRef("nick")))
        renamed = redactions.filter(nick=folded(Trim(OuterRef("text"))))
        return self.exclude(Exists(spoken)).exclude(Q(kind="nick") & Exists(renamed))

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


def folded(expression) -> Replace:
    """Fold a nick in SQL as ``fold`` does in Python (RFC 1459: []\\~ are {}|^ in lower case)."""
    expression = Lower(expression, output_field=models.CharField())
    for upper, lower in zip("[]\\~", "{}|^", strict=True):
        expression = Replace(expression, Value(upper), Value(lower))
    return expression


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
        """Find nick's last line if said in a channel that was and is public, unredacted,
        by a nick that has not opted out."""
        folded = fold(nick.strip())
        if network.redactions.filter(nick=folded).exists():
            return None
        if network.optouts.filter(nick=folded).exists():
            return None
        seen = self.filter(network=network, nick=folded, public=True).first()
        channel = None
        if seen is not None:
            channel = network.channels.published().filter(name__iexact=seen.channel).first()
        # Only the last line is remembered; when it was private (or its channel is now),
        # the last public line in the logs is the sighting a reader may see.
        return Sighting(seen, channel) if channel else self.logged_sighting(network, folded)

    def logged_sighting(self, network: Network, folded_nick: str) -> Sighting | None:
        line = apps.get_model("botadmin", "LogLine")
        found = (
            line.objects.annotate(who=folded(F("nick")))
            .filter(
                who=folded_nick,
                kind__in=("message", "action"),
                channel__in=network.channels.published(),
            )
            .select_related("channel")
            .order_by("-time", "-id")
            .first()
        )
        if found is None:
            return None
        seen = self.model(
            network=network,
            nick=folded_nick,
            display_nick=found.nick,
            channel=found.channel.name,
            time=found.time,
            kind=found.kind,
            text=found.text,
        )
        return Sighting(seen, found.channel)


# -- privacy requests -------------------------------------------------------------------

ANONYMOUS = "anonymous"


def lines_of(network: Network, nick: str) -> LogLineQuerySet:
    """Select nick's lines on network: said, renamed to, or relayed by the bot elsewhere."""
    line = apps.get_model("botadmin", "LogLine")
    folded_nick = fold(nick.strip())
    own = line.objects.annotate(who=folded(F("nick")), became=folded(Trim(F("text")))).filter(
        Q(who=folded_nick) | Q(kind="nick", became=folded_nick), channel__network=network
    )
    # The relay says "<nick@network> text" or "* nick@network text" in other channels.
    relayed = line.objects.filter(
        Q(text__istartswith=f"<{nick}@{network.name}> ")
        | Q(text__istartswith=f"* {nick}@{network.name} ")
    )
    return line.objects.filter(Q(pk__in=own.values("pk")) | Q(pk__in=relayed.values("pk")))


def forget(
    network: Network,
    nick: str,
    *,
    since: datetime.datetime | None = None,
    anonymise: bool = False,
    by=None,
    via: str,
) -> PrivacyAction:
    """Remove (or anonymise) nick's lines and seen entry on network, and record it.

    The full-text index follows the lines (triggers on SQLite, an expression index on
    PostgreSQL), so a forgotten line is found by no search.
    """
    seen_model = apps.get_model("botadmin", "Seen")
    with transaction.atomic():
        lines = lines_of(network, nick)
        seen = seen_model.objects.filter(network=network, nick=fold(nick.strip()))
        if since is not None:
            lines, seen = lines.filter(time__gte=since), seen.filter(time__gte=since)
        count = _anonymise(lines, network, nick) if anonymise else lines.delete()[0]
        seen_count = seen.delete()[0]
        return _audit(
            "anonymise" if anonymise else "forget", network, nick, by, via,
            since=since, lines=count, seen=seen_count,
        )  # fmt: skip


def _anonymise(lines: LogLineQuerySet, network: Network, nick: str) -> int:
    folded_nick, changed = fold(nick.strip()), 0
    for line in lines.iterator():
        if fold(line.nick) == folded_nick:
            line.nick, line.account = ANONYMOUS, ""
        if line.kind == "nick" and fold(line.text.strip()) == folded_nick:
            line.text = ANONYMOUS
        for start in (f"<{nick}@{network.name}> ", f"* {nick}@{network.name} "):
            if line.text.lower().startswith(start.lower()):
                line.text = start.replace(nick, ANONYMOUS, 1) + line.text[len(start) :]
        line.save(update_fields=["nick", "account", "text"])
        changed += 1
    return changed


def redact_nick(network: Network, nick: str, *, reason: str = "", by=None, via: str):
    """Publish nick's lines on network as "[redacted]" from now on; record it."""
    redaction, _ = network.redactions.update_or_create(
        nick=fold(nick.strip()), defaults={"display_nick": nick.strip(), "reason": reason}
    )
    _audit("redact", network, nick, by, via)
    return redaction


def unredact_nick(redaction, *, by=None, via: str) -> None:
    redaction.delete()
    _audit("unredact", redaction.network, redaction.display_nick, by, via)


def _audit(action: str, network: Network, nick: str, by, via: str, **counts) -> PrivacyAction:
    return apps.get_model("botadmin", "PrivacyAction").objects.create(
        action=action, network=network.name, nick=nick.strip(),
        by=by if by is not None and by.is_authenticated else None, via=via, **counts,
    )  # fmt: skip


def opt_out(network: Network, nick: str, out: bool) -> None:
    """Record that nick stopped (or resumed) being logged on network (``!optout``).

    Opting out also forgets when and where the nick last spoke: seen remembers nothing.
    """
    folded_nick = fold(nick.strip())
    if out:
        network.optouts.update_or_create(nick=folded_nick, defaults={"display_nick": nick.strip()})
        apps.get_model("botadmin", "Seen").objects.filter(
            network=network, nick=folded_nick
        ).delete()
    else:
        network.optouts.filter(nick=folded_nick).delete()


def expire(now: datetime.datetime | None = None) -> int:
    """Delete the lines (and seen entries) older than their channel's retention; count them."""
    now = now or timezone.now()
    deleted = 0
    channels = apps.get_model("botadmin", "Channel").objects.filter(retention_days__isnull=False)
    for channel in channels.select_related("network"):
        cutoff = now - retention(channel)
        deleted += channel.lines.filter(time__lt=cutoff).delete()[0]
        apps.get_model("botadmin", "Seen").objects.filter(
            network=channel.network, channel__iexact=channel.name, time__lt=cutoff
        ).delete()
    return deleted
