"""manage.py loadzone FILE: import a BIND zone file into the database."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dnsadmin.zonefile import ZoneFileError, import_zone, parse_zone_text


class Command(BaseCommand):
    help = (
        "Import a BIND zone file ($ORIGIN, $TTL and $GENERATE; $INCLUDE is refused). "
        "A broken file names the line and changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the zone file, or - for standard input")
        parser.add_argument("--origin", help="the zone's name when the file has no $ORIGIN")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace all data of an existing zone with the file's",
        )

    def handle(self, *args, file: str, origin: str | None, replace: bool, **options) -> None:
        text, filename = self.read(file)
        try:
            parsed = parse_zone_text(text, origin=origin, filename=filename)
            zone = import_zone(parsed, replace=replace)
        except ZoneFileError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Loaded {zone.origin}: {len(parsed.records)} records, serial {zone.serial}."
        )

    def read(self, file: str) -> tuple[str, str]:
        if file == "-":
            return sys.stdin.read(), "<stdin>"
        try:
            return Path(file).read_text(encoding="utf-8"), file
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
