"""Where new log lines are announced on the channel layer, for live tails."""

from __future__ import annotations

import hashlib

from botadmin.infobot.protocol import fold


def log_group(network: str, channel: str) -> str:
    """Name one IRC channel's channel-layer group (IRC names are not valid group names)."""
    digest = hashlib.sha1(f"{network}\0{fold(channel)}".encode()).hexdigest()[:20]
    return f"irclog.{digest}"
