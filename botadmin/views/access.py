"""Who may read which channel's logs; every log view, search and live tail asks here."""

from __future__ import annotations

from urllib.parse import unquote

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from botadmin.infobot.protocol import CHANNEL_PREFIXES, fold
from botadmin.models import Channel, RedactedNick

User = AbstractBaseUser | AnonymousUser


def readable_channels(user: User) -> QuerySet[Channel]:
    """Public channels for everyone; private ones for staff and the users or groups granted."""
    channels = Channel.objects.select_related("network")
    if user.is_authenticated and user.is_staff:
        return channels
    if not user.is_authenticated:
        return channels.filter(public=True)
    granted = Channel.objects.filter(
        Q(grants__user=user) | Q(grants__group__in=user.groups.all())
    ).values("pk")
    return channels.filter(Q(public=True) | Q(pk__in=granted))


def readable_channel(user: User, network: str, name: str) -> Channel:
    """The channel, or 404 alike for a missing channel and one the user may not read."""
    channel = readable_channels(user).filter(network__name=network, name__iexact=name).first()
    if channel is None:
        raise Http404("No such channel.")
    return channel


def redacted_nicks(network_id: int) -> set[str]:
    return set(RedactedNick.objects.filter(network_id=network_id).values_list("nick", flat=True))


def channel_from_url(segment: str) -> str:
    """The channel name for a URL segment: '#' is implied unless another prefix is given."""
    name = unquote(segment)
    return name if name[:1] in CHANNEL_PREFIXES else f"#{name}"


def channel_to_url(name: str) -> str:
    """'#python' → 'python'; '##linux', '&local' and '+modeless' keep their prefix.

    A '/' (legal in channel names) would end the path segment and a '%' would be decoded
    twice, so both are escaped once more here; the URL layer quotes the rest.
    """
    if name.startswith("#") and name[1:2] not in CHANNEL_PREFIXES:
        name = name[1:]
    return name.replace("%", "%25").replace("/", "%2F")


def fold_nick(nick: str) -> str:
    return fold(nick.strip())
