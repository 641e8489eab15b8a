"""Rate limits, pure and clock-driven: outgoing token bucket and incoming flood guard."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum


@dataclass
class TokenBucket:
    """``capacity`` lines at once, then ``rate`` lines per second."""

    capacity: int = 4
    rate: float = 1.0
    tokens: float = 0.0
    stamp: float | None = None

    def delay(self, now: float) -> float:
        """Take a token; return how long to wait before sending (0 when one is free).

        Tokens go negative to reserve future slots, so queued lines keep their order.
        """
        if self.stamp is None:
            self.tokens, self.stamp = float(self.capacity), now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"  # just went over the limit: tell the user once
    BLOCK = "block"


@dataclass
class FloodGuard:
    """More than ``limit`` commands within ``window`` seconds: ignored for ``penalty``."""

    limit: int = 5
    window: float = 10.0
    penalty: float = 60.0
    _recent: dict[str, deque[float]] = field(default_factory=dict)
    _blocked: dict[str, float] = field(default_factory=dict)

    def check(self, who: str, now: float) -> Verdict:
        if len(self._recent) > 1000:
            self._forget_quiet(now)
        if self._blocked.get(who, 0.0) > now:
            return Verdict.BLOCK
        self._blocked.pop(who, None)
        recent = self._recent.setdefault(who, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        recent.append(now)
        if len(recent) <= self.limit:
            return Verdict.ALLOW
        self._blocked[who] = now + self.penalty
        del self._recent[who]
        return Verdict.WARN

    def _forget_quiet(self, now: float) -> None:
        """Drop users idle for a whole window, so the table does not grow forever."""
        for who in [w for w, times in self._recent.items() if times[-1] <= now - self.window]:
            del self._recent[who]
        for who in [w for w, until in self._blocked.items() if until <= now]:
            del self._blocked[who]
