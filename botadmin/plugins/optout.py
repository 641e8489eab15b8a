"""optout: people stop (or resume) being logged, relayed and remembered on a network."""

from __future__ import annotations

from botadmin.infobot import Incoming, OptOutStore, Plugin, command


class OptOut(Plugin):
    """Lets each nick opt out of the logs on a network (!optout, !optin)."""

    @command("optout")
    async def optout(self, msg: Incoming, args: str) -> None:
        """optout: stop logging, relaying and remembering what you say on this network."""
        await self.record(msg, out=True)
        await msg.notice(
            f"From now on, {msg.nick}, your lines on {msg.network} are not logged, relayed "
            "or remembered. Say !optin to undo this; ask the operators to remove older lines."
        )

    @command("optin")
    async def optin(self, msg: Incoming, args: str) -> None:
        """optin: be logged again on this network after !optout."""
        await self.record(msg, out=False)
        await msg.notice(f"Your lines on {msg.network} are logged again, {msg.nick}.")

    async def record(self, msg: Incoming, out: bool) -> None:
        store = self.context.component(OptOutStore)
        if store is None:
            raise RuntimeError("no opt-out store: the bot cannot keep this")
        await store.put(msg.network, msg.nick, out)
