"""What the bot may keep and repeat on one network: the policy's decisions, as plain data.

The application's policy (botadmin/policy.py) decides which nicks are redacted, which
have opted out and what the off-the-record marker is; the bridge hands the result to the
engine in NetworkConfig.privacy. The engine only applies it, in memory, on every line:
the log, the seen plugin and the relay ask the same questions here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from .protocol import fold

DEFAULT_OFF_MARKER = "[off]"
TEXT_KINDS = ("message", "action", "notice")


@dataclass(frozen=True)
class Privacy:
    redacted: frozenset[str] = frozenset()  # folded nicks published as "[redacted]"
    opted_out: frozenset[str] = frozenset()  # folded nicks never logged, relayed or seen
    off_marker: str = DEFAULT_OFF_MARKER  # empty: no marker

    def off_the_record(self, kind: str, text: str) -> bool:
        """Tell whether a line asked to be left out of the log (it starts with the marker)."""
        marker = self.off_marker.strip()
        return bool(marker) and kind in TEXT_KINDS and text.lstrip().startswith(marker)

    def keeps(self, nick: str, kind: str, text: str) -> bool:
        """Tell whether a line may be logged, relayed or remembered at all."""
        if self.off_the_record(kind, text):
            return False
        if fold(nick) in self.opted_out:
            return False
        return not (kind == "nick" and fold(text.strip()) in self.opted_out)

    def is_redacted(self, nick: str, kind: str = "message", text: str = "") -> bool:
        """Tell whether a line is a redacted nick's (or the nick change that reveals one)."""
        if fold(nick) in self.redacted:
            return True
        return kind == "nick" and fold(text.strip()) in self.redacted

    def repeatable(self, nick: str, kind: str, text: str) -> bool:
        """Tell whether the bot may repeat a line elsewhere (relay, seen): kept, unredacted."""
        return self.keeps(nick, kind, text) and not self.is_redacted(nick, kind, text)

    def with_opt_out(self, nick: str, out: bool) -> Privacy:
        folded = fold(nick)
        opted = self.opted_out | {folded} if out else self.opted_out - {folded}
        return replace(self, opted_out=frozenset(opted))


class OptOutStore(Protocol):
    async def put(self, network: str, nick: str, out: bool) -> None:
        """Record that nick opted out of (or back into) being logged on network."""


class MemoryOptOutStore:
    def __init__(self) -> None:
        self.opted_out: set[tuple[str, str]] = set()

    async def put(self, network: str, nick: str, out: bool) -> None:
        key = (network, fold(nick))
        if out:
            self.opted_out.add(key)
        else:
            self.opted_out.discard(key)


@dataclass
class OptOuts:
    """The OptOutStore plugins are given: it writes through, and applies the change at once.

    ``!optout`` takes effect on the very next line, until the configuration read back
    from the database (the source of truth) holds the change itself.
    """

    store: OptOutStore | None = None
    changes: dict[tuple[str, str], bool] = field(default_factory=dict)

    async def put(self, network: str, nick: str, out: bool) -> None:
        if self.store is not None:
            await self.store.put(network, nick, out)
        self.changes[(network, fold(nick))] = out

    def apply(self, network: str, privacy: Privacy) -> Privacy:
        for (where, nick), out in self.changes.items():
            if where == network:
                privacy = privacy.with_opt_out(nick, out)
        return privacy

    def settle(self, network: str, privacy: Privacy) -> None:
        """Forget the changes the configuration read back from the database holds already."""
        for key, out in list(self.changes.items()):
            if key[0] == network and (key[1] in privacy.opted_out) == out:
                del self.changes[key]
