"""Sending control events from the web to the workers.

The channel layer is a doorbell: a lost event only delays the change until the
workers' next reconcile from the database, so failures are logged, not raised.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

DNS_GROUP = "dns.control"
BOT_GROUP = "bot.control"


def ring(group: str, event_type: str, **payload: object) -> None:
    """Tell every worker in ``group`` about an event, best effort."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": event_type, **payload})
    except Exception:
        logger.warning(
            "could not send %s to %s; workers will reconcile", event_type, group, exc_info=True
        )
