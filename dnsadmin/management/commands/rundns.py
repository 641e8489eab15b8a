"""manage.py rundns: serve the database's zones, with a cache and recursion behind them."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from appliance.worker import run_worker, worker_scope
from dnsadmin.names.addresses import networks
from dnsadmin.names.chain import ChainConfig
from dnsadmin.names.cookies import load_secrets
from dnsadmin.names.rrl import RateLimiter, RateLimits
from dnsadmin.worker import DNSWorker


def address(value: str) -> str:
    """Return value as an IP address in canonical form; an argparse error otherwise."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an IP address") from None


def configured_addresses() -> list[str]:
    """Return DNS_ADDRESSES, checked; a CommandError names a bad one."""
    try:
        return [address(value) for value in settings.DNS_ADDRESSES]
    except argparse.ArgumentTypeError as error:
        raise CommandError(f"DNS_ADDRESSES: {error}") from None


def network(value: str) -> str:
    """Return value as a network in canonical form; an argparse error otherwise."""
    try:
        return str(networks([value])[0])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an address or network") from None


class Command(BaseCommand):
    help = (
        "Serve every enabled zone in the database over UDP and TCP (default 127.0.0.1:5300), "
        "with a cache and recursion (or forwarding) behind them for allowed clients."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--address",
            action="append",
            type=address,
            dest="addresses",
            help="listen on this IPv4 or IPv6 address (repeatable; default DNS_ADDRESSES)",
        )
        parser.add_argument("--port", type=int, default=settings.DNS_PORT, help="default DNS_PORT")
        parser.add_argument(
            "--workers", type=int, default=1, help="processes sharing the port with SO_REUSEPORT"
        )
        parser.add_argument(
            "--reuse-port",
            action="store_true",
            help="bind with SO_REUSEPORT so several rundns can share the port",
        )
        parser.add_argument(
            "--recursion",
            action=argparse.BooleanOptionalAction,
            default=settings.DNS_RECURSION,
            help="resolve names outside our zones for allowed clients",
        )
        parser.add_argument(
            "--allow-recursion",
            action="append",
            type=network,
            metavar="CIDR",
            help="clients allowed to recurse (repeatable; default loopback)",
        )
        parser.add_argument(
            "--forwarder",
            action="append",
            dest="forwarders",
            metavar="ADDR[:PORT]",
            help="forward to this server instead of iterating (repeatable)",
        )
        parser.add_argument(
            "--hosts-file",
            default=settings.DNS_HOSTS_FILE or None,
            help="answer A/AAAA/PTR from this /etc/hosts-style file",
        )
        parser.add_argument(
            "--root-hints",
            default=settings.DNS_ROOT_HINTS or None,
            help="root hints file (default: the IANA hints shipped)",
        )
        parser.add_argument("--upstream-port", type=int, default=53, help=argparse.SUPPRESS)

    def handle(
        self,
        *args,
        addresses: list[str] | None,
        port: int,
        workers: int,
        reuse_port: bool,
        **options,
    ) -> None:
        addresses = addresses or configured_addresses()
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, not {port}")
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1:
            self.run_several(workers, addresses, port)
            return
        scope = worker_scope(
            "dns", addresses=addresses, port=port, reuse_port=reuse_port,
            reconcile_interval=settings.RECONCILE_INTERVAL,
            query_log_per_second=settings.QUERY_LOG_MAX_PER_SECOND,
            query_log_days=settings.QUERY_LOG_RETENTION_DAYS, resolver=resolver_options(options),
            query_log_max_entries=settings.QUERY_LOG_MAX_ENTRIES,
            tcp_write_timeout=settings.DNS_TCP_WRITE_TIMEOUT,
            rate_limits=rate_limits(), cookie_secrets=cookie_secrets(),
        )  # fmt: skip
        try:
            asyncio.run(run_worker(DNSWorker, scope))
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(f"resolver configuration: {error}") from None
        except OSError as error:
            raise CommandError(f"cannot listen on port {port}: {error}") from None

    def run_several(self, workers: int, addresses: list[str], port: int) -> None:
        """Fork ``workers`` processes on one port; stop them all on SIGTERM/SIGINT."""
        argv = [sys.executable, sys.argv[0], *without_option(sys.argv[1:], "--workers")]
        children = [subprocess.Popen([*argv, "--reuse-port"]) for _ in range(workers)]

        def forward(signum: int, frame: object) -> None:
            for child in children:
                child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        codes = [child.wait() for child in children]
        if any(codes):
            raise CommandError(f"a DNS worker failed (exit codes {codes})")


def without_option(argv: list[str], option: str) -> list[str]:
    """Return argv without ``option`` and its value (to re-run the command per worker)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def resolver_options(options: dict) -> ChainConfig:
    """Return the resolver chain's configuration: the options, else the settings."""
    chain = ChainConfig(
        recursion=options["recursion"],
        allow_recursion=options["allow_recursion"] or settings.DNS_ALLOW_RECURSION,
        forwarders=options["forwarders"] or settings.DNS_FORWARDERS,
        hosts_file=options["hosts_file"],
        order=settings.DNS_RESOLVER_ORDER,
        port=options["upstream_port"],
        version=None if settings.DNS_VERSION.lower() == "none" else settings.DNS_VERSION,
    )
    if options["root_hints"]:
        chain = dataclasses.replace(chain, root_hints=options["root_hints"])
    return chain


def rate_limits() -> RateLimits:
    """Return the response rate limits the DNS_RRL_* settings ask for (all rates 0: off)."""
    limits = RateLimits(
        responses_per_second=settings.DNS_RRL_RESPONSES_PER_SECOND,
        nxdomains_per_second=settings.DNS_RRL_NXDOMAINS_PER_SECOND,
        nodata_per_second=settings.DNS_RRL_NODATA_PER_SECOND,
        referrals_per_second=settings.DNS_RRL_REFERRALS_PER_SECOND,
        errors_per_second=settings.DNS_RRL_ERRORS_PER_SECOND,
        window=settings.DNS_RRL_WINDOW,
        slip=settings.DNS_RRL_SLIP,
        ipv4_prefix=settings.DNS_RRL_IPV4_PREFIX,
        ipv6_prefix=settings.DNS_RRL_IPV6_PREFIX,
        exempt=settings.DNS_RRL_EXEMPT,
    )
    try:
        RateLimiter(limits)
    except ValueError as error:
        raise CommandError(f"DNS_RRL_*: {error}") from None
    return limits


def cookie_secrets() -> list[bytes]:
    """Return the DNS cookie secrets (none when DNS_COOKIES is off), the first making them."""
    if not settings.DNS_COOKIES:
        return []
    try:
        return load_secrets(settings.DNS_COOKIE_SECRET, Path(settings.DNS_COOKIE_SECRET_FILE))
    except ValueError as error:
        raise CommandError(f"DNS_COOKIE_SECRET: {error}") from None
