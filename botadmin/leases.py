"""Network leases: two bot shards never join the same network twice.

A shard holds a network while it renews the lease (every reconcile, a couple of
seconds); when a shard dies its leases lapse and another shard that is allowed
to serve the network takes it over.
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from botadmin.models import Network, NetworkLease


def claim(networks: list[str], holder: str, seconds: float) -> set[str]:
    """Take or renew the leases of ``networks`` that are free or ours; the names held."""
    now = timezone.now()
    expires = now + datetime.timedelta(seconds=seconds)
    held = set()
    for network_id, name in Network.objects.filter(name__in=networks).values_list("id", "name"):
        mine_or_lapsed = Q(holder=holder) | Q(expires__lt=now)
        if NetworkLease.objects.filter(mine_or_lapsed, network_id=network_id).update(
            holder=holder, expires=expires
        ) or create(network_id, holder, expires):
            held.add(name)
    return held


def create(network_id: int, holder: str, expires: datetime.datetime) -> bool:
    try:
        with transaction.atomic():
            NetworkLease.objects.create(network_id=network_id, holder=holder, expires=expires)
    except IntegrityError:
        return False  # another shard holds it
    return True


def release(holder: str) -> None:
    """Give up every lease at a clean stop, so another shard need not wait for them to lapse."""
    NetworkLease.objects.filter(holder=holder).update(expires=timezone.now())
