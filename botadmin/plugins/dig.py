"""dig: DNS lookups answered in one line, through the appliance's DNS client."""

from __future__ import annotations

from botadmin.infobot import Incoming, Plugin, Setting, command
from dnsadmin.names import client
from dnsadmin.names.addresses import parse_address

FAILURES: dict[type[client.DNSError], str] = {
    client.NoSuchName: "no such name",
    client.NoData: "no {rdtype} records",
    client.Refused: "the server refused the query",
    client.ServerFailure: "server failure",
    client.Timeout: "no answer in time",
    client.FormatError: "the server could not parse the query",
}


def server_problem(value: str) -> str:
    if not value.strip():
        return ""
    try:
        parse_address(value)
    except ValueError as error:
        return str(error)
    return ""


class Dig(Plugin):
    """Looks up DNS records."""

    settings = (
        Setting(
            "server",
            str,
            "",
            "ADDR[:PORT] of the name server to ask, e.g. 127.0.0.1:5300; empty for the system's.",
            check=server_problem,
        ),
        Setting("timeout", float, 5.0, "Seconds to wait for an answer.", 0.1, 60),
    )

    def resolver(self, network: str, channel: str | None) -> client.Resolver:
        config = self.config(network, channel)
        servers = [config["server"]] if config["server"] else None
        return client.create_resolver(servers, timeout=float(config["timeout"]))

    @command("dig")
    async def dig(self, msg: Incoming, args: str) -> None:
        """dig NAME [TYPE]: the TYPE (default A) records of NAME, e.g. dig example.org MX."""
        words = args.split()
        if not words or len(words) > 2:
            await msg.reply("Usage: dig NAME [TYPE]")
            return
        name, rdtype = words[0], (words[1] if len(words) > 1 else "A").upper()
        await msg.reply(f"{name} {rdtype}: {await self.lookup(msg, name, rdtype)}")

    async def lookup(self, msg: Incoming, name: str, rdtype: str) -> str:
        try:
            result = await client.query(
                name, rdtype, resolver=self.resolver(msg.network, msg.channel)
            )
        except ValueError as exc:
            return f"bad question ({exc})"
        except client.DNSError as exc:
            reason = next((t for cls, t in FAILURES.items() if isinstance(exc, cls)), str(exc))
            return reason.format(rdtype=rdtype)
        records = [text for rrset in result.answers for text in sorted(r.to_text() for r in rrset)]
        return ", ".join(records) or "empty answer"
