"""manage.py lookup NAME [TYPE] [--server ADDR[:PORT]]: ask the DNS, print the answer as dig does."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

import dns.flags
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
from django.core.management.base import BaseCommand, CommandError

from dnsadmin.names import client


def _section(title: str, rrsets: list[dns.rrset.RRset]) -> list[str]:
    if not rrsets:
        return []
    return [f";; {title} SECTION:", *(rrset.to_text() for rrset in rrsets), ""]


def _count(rrsets: list[dns.rrset.RRset]) -> int:
    return sum(len(rrset) for rrset in rrsets)


def _header(result: client.Result) -> list[str]:
    response = result.response
    if response is None:
        return [";; answered from the hosts file", ""]
    # dig counts the OPT pseudo-record among the additional records.
    additional = _count(result.additional) + (1 if response.edns >= 0 else 0)
    lines = [
        f";; ->>HEADER<<- opcode: {dns.opcode.to_text(response.opcode())}, "
        f"status: {dns.rcode.to_text(response.rcode())}, id: {response.id}",
        f";; flags: {dns.flags.to_text(response.flags).lower()}; QUERY: {len(response.question)}, "
        f"ANSWER: {_count(result.answers)}, AUTHORITY: {_count(result.authority)}, "
        f"ADDITIONAL: {additional}",
        "",
    ]
    if response.edns >= 0:
        lines += [
            ";; OPT PSEUDOSECTION:",
            f"; EDNS: version: {response.edns}, udp: {response.payload}",
            "",
        ]
    return lines


def format_result(result: client.Result) -> str:
    """Lay the result out as dig lays out a response."""
    if result.rdtype == dns.rdatatype.AXFR:
        records = [rrset.to_text() for rrset in result.answers]
        return "\n".join([*records, f";; XFR size: {_count(result.answers)} records"]) + "\n"
    question = f";{result.name}\t\tIN\t{dns.rdatatype.to_text(result.rdtype)}"
    lines = [
        *_header(result),
        ";; QUESTION SECTION:",
        question,
        "",
        *_section("ANSWER", result.answers),
        *_section("AUTHORITY", result.authority),
        *_section("ADDITIONAL", result.additional),
    ]
    if result.server:
        lines.append(f";; SERVER: {result.server[0]}#{result.server[1]}")
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = "Look a name up in the DNS and print the response the way dig does."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="the domain name, or an IP address for PTR")
        parser.add_argument(
            "type", nargs="?", default="A", help="record type: A (default), MX, ANY, AXFR, PTR, ..."
        )
        parser.add_argument(
            "--server",
            metavar="ADDR[:PORT]",
            help="the server to ask, instead of the servers in /etc/resolv.conf",
        )
        parser.add_argument(
            "--hosts",
            metavar="FILE",
            help="an /etc/hosts-style file to consult first for A, AAAA and PTR",
        )
        parser.add_argument(
            "--timeout",
            metavar="SECONDS",
            type=float,
            default=5.0,
            help="seconds to wait for an answer (default 5)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        resolver = self._resolver(options["server"], options["hosts"], options["timeout"])
        rdtype = options["type"].upper()
        try:
            result = self._ask(options["name"], rdtype, resolver)
        except client.Timeout as error:
            raise CommandError(
                f"connection timed out; no servers could be reached ({error})"
            ) from None
        except client.DNSError as error:
            if error.result is None:
                raise CommandError(str(error)) from None
            # NXDOMAIN, NODATA, REFUSED ... are answers too: show them as dig does.
            result = error.result
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(format_result(result), ending="")

    def _resolver(self, server: str | None, hosts: str | None, timeout: float) -> client.Resolver:
        if timeout <= 0:
            raise CommandError("--timeout must be a positive number of seconds")
        servers = [server] if server else None
        try:
            return client.create_resolver(servers, hosts=hosts, timeout=timeout)
        except ValueError as error:
            raise CommandError(f"bad --server {server!r}: {error}") from None
        except OSError as error:
            raise CommandError(f"cannot read --hosts {hosts!r}: {error}") from None
        except client.DNSError as error:
            raise CommandError(str(error)) from None

    def _ask(self, name: str, rdtype: str, resolver: client.Resolver) -> client.Result:
        if rdtype == "AXFR":
            return client.blocking.lookup_zone(name, resolver=resolver)
        if rdtype == "PTR":
            return client.blocking.lookup_pointer(name, resolver=resolver)
        return client.blocking.query(name, rdtype, resolver=resolver)
