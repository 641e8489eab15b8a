"""manage.py dumpzone ORIGIN: write a zone from the database in BIND format."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from dnsadmin.management import zone_named
from dnsadmin.zonefile import export_zone


class Command(BaseCommand):
    help = "Write a zone in BIND format, to standard output or a file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("origin", help="the zone's name, e.g. example.org")
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")

    def handle(self, *args, origin: str, output: str | None, **options) -> None:
        text = export_zone(zone_named(origin))
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
