"""A logging filter that keeps a flood of one message from filling the disk.

A flood of failing names logs one line per name; the first few lines of each kind pass in every
interval, the rest are counted, and the next line of that kind to pass says how many were
suppressed (as BIND's and syslog's "last message repeated N times").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

BURST = 5  # lines of one kind let through per interval
INTERVAL = 60.0  # seconds
MAX_KINDS = 1000  # kinds remembered; more (messages made with f-strings) start afresh


class RepeatLimit(logging.Filter):
    """Let through at most burst records of one kind (logger, level, message template) per
    interval; the first to pass after some were held back tells how many."""

    def __init__(
        self, burst: int = BURST, interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        super().__init__()
        self.burst = burst
        self.interval = interval
        self.clock = clock
        self._kinds: dict[tuple[str, int, str], list] = {}  # kind: [start, passed, held]

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        window = self._kinds.get(kind)
        if window is None or now - window[0] >= self.interval:
            held = window[2] if window is not None else 0
            if window is None and len(self._kinds) >= MAX_KINDS:
                self._kinds.clear()
            self._kinds[kind] = [now, 1, 0]
            if held:
                record.msg = f"{record.getMessage()} ({held} more like it suppressed)"
                record.args = ()
            return True
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        return False
