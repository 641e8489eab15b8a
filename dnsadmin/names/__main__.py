"""A standalone authoritative server, without Django: benchmarks and manual testing.

python -m dnsadmin.names serve --zone example.com.=example.com.zone --port 5300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from .catalog import ZoneCatalog
from .chain import AUTHORITATIVE, ResolverChain
from .server import DNSServer
from .zone import zone_from_text

log = logging.getLogger("dnsadmin.names")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m dnsadmin.names")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="answer authoritatively for zone files")
    serve.add_argument(
        "--zone", action="append", required=True, metavar="ORIGIN=FILE", type=_zone_spec
    )
    serve.add_argument("--address", action="append", help="repeatable; default 127.0.0.1")
    serve.add_argument("--port", type=int, default=5300)
    serve.add_argument("--reuse-port", action="store_true")
    serve.add_argument(
        "--allow-transfer",
        action="append",
        default=[],
        metavar="[ORIGIN=]CIDR",
        help="who may AXFR: every zone, or only ORIGIN (repeatable)",
    )
    return parser.parse_args(argv)


def _zone_spec(text: str) -> tuple[str, Path]:
    origin, sep, path = text.partition("=")
    if not sep or not origin or not path:
        raise argparse.ArgumentTypeError(f"expected ORIGIN=FILE, got {text!r}")
    return origin, Path(path)


def load_catalog(zones: list[tuple[str, Path]], transfer_acl: list[str]) -> ZoneCatalog:
    """Return the zones of the files, each with the transfer ACL entries that apply to it."""
    catalog = ZoneCatalog()
    for origin, path in zones:
        acl = [cidr for cidr in transfer_acl if "=" not in cidr] + [
            cidr for zone, _, cidr in (e.partition("=") for e in transfer_acl if "=" in e)
            if zone.rstrip(".").lower() == origin.rstrip(".").lower()
        ]  # fmt: skip
        catalog.replace(zone_from_text(path.read_text(), origin, transfer_acl=acl))
    return catalog


async def serve(args: argparse.Namespace) -> None:
    """Answer for the zones until SIGINT or SIGTERM."""
    catalog = load_catalog(args.zone, args.allow_transfer)
    server = DNSServer(ResolverChain(catalog, AUTHORITATIVE))
    await server.start(args.address or ["127.0.0.1"], args.port, reuse_port=args.reuse_port)
    log.info("serving %d zone(s) on port %d", len(catalog), server.port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await server.stop()
    log.info("stopped; answers by rcode: %s", dict(server.stats.by_rcode))


def main(argv: list[str] | None = None) -> None:
    """Run the command line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
