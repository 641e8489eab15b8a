"""manage.py loadzone FILE: import a BIND zone file through the change service."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dnsadmin.changes import ChangeError, ConflictError, import_zone
from dnsadmin.zonefile import ZoneFileError, collector_paused, parse_zone_text


class Command(BaseCommand):
    help = (
        "Import a BIND zone file ($ORIGIN, $TTL and $GENERATE; $INCLUDE is refused), SOA "
        "included, as one change in the zone's history. A broken file names the line and "
        "changes nothing."
    )
    # The system checks import every URL, view and API module (a fifth of a second of a
    # load): manage.py check, runserver and migrate run them; loading a file needs none.
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the zone file, or - for standard input")
        parser.add_argument("--origin", help="the zone's name when the file has no $ORIGIN")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--replace",
            action="store_const",
            const="replace",
            dest="mode",
            help="make an existing zone hold exactly the file's data",
        )
        mode.add_argument(
            "--merge",
            action="store_const",
            const="merge",
            dest="mode",
            help="replace only the RRsets the file has in an existing zone, keep the others",
        )

    def handle(self, *args, file: str, origin: str | None, mode: str | None, **options) -> None:
        text, filename = self.read(file)
        # The file's records are kept until the zone is written: no collector passes over
        # them between the steps that pause it (a tenth of a second for 100,000 records).
        with collector_paused():
            try:
                parsed = parse_zone_text(text, origin=origin, filename=filename)
                zone, change = import_zone(parsed, mode=mode or "create", via=filename)
            except (ZoneFileError, ChangeError, ConflictError) as error:
                raise CommandError(str(error)) from None
        if change is None:
            self.stdout.write(f"{zone.origin} already holds this data; serial {zone.serial}.")
            return
        self.stdout.write(
            f"Loaded {zone.origin}: {len(parsed.records)} records "
            f"({describe_change(change)}), serial {zone.serial}."
        )

    def read(self, file: str) -> tuple[str, str]:
        if file == "-":
            return sys.stdin.read(), "<stdin>"
        try:
            return Path(file).read_text(encoding="utf-8"), file
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None


def describe_change(change) -> str:
    """Count the RRsets a change added, changed and removed."""
    added = change.rrsets.filter(before=[]).count()
    removed = change.rrsets.filter(after=[]).count()
    changed = change.rrsets.count() - added - removed
    return f"RRsets: {added} added, {changed} changed, {removed} removed"
