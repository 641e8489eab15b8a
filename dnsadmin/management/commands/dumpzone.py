"""manage.py dumpzone ORIGIN: write a zone from the database in BIND format."""

from __future__ import annotations

from pathlib import Path

import dns.exception
import dns.name
from django.core.management.base import BaseCommand, CommandError

from dnsadmin.models import Zone
from dnsadmin.zonefile import export_zone


class Command(BaseCommand):
    help = "Write a zone in BIND format, to standard output or a file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("origin", help="the zone's name, e.g. example.org")
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")

    def handle(self, *args, origin: str, output: str | None, **options) -> None:
        try:
            name = dns.name.from_text(origin).to_text().lower()
        except dns.exception.DNSException as error:
            raise CommandError(f"{origin!r} is not a domain name: {error}") from None
        zone = Zone.objects.filter(origin=name).first()
        if zone is None:
            raise CommandError(f"No zone {name} in the database.")
        text = export_zone(zone)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
