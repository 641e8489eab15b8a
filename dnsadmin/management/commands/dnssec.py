"""manage.py dnssec ACTION ORIGIN: sign a zone, show its DS, roll its keys, go insecure."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dnsadmin import dnssec
from dnsadmin.models import Zone


class Command(BaseCommand):
    help = (
        "DNSSEC for a zone: enable (ECDSA P-256 and NSEC3 without extra iterations or salt by "
        "default), disable (goes insecure safely), ds (the DS records for the registrar), "
        "status, rollover --zsk|--ksk, checkds (ask the parent's servers for the DS now), "
        "parental-agents [ADDR[:PORT] ...] (the servers to ask; none: the parent's name "
        "servers), ds-seen (confirm by hand that the parent publishes the new KSK's DS), "
        "export-keys DIRECTORY (the only way private keys leave the appliance), maintain."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)

        def action(name: str, help: str, *, origin: bool = True):
            sub = actions.add_parser(name, help=help)
            sub.add_argument("origin", nargs=None if origin else "?")
            return sub

        enable = action("enable", "sign the zone")
        enable.add_argument("--algorithm", choices=sorted(dnssec.ALGORITHMS), default=None)
        denial = enable.add_mutually_exclusive_group()
        denial.add_argument("--nsec", dest="nsec3", action="store_false", default=True)
        denial.add_argument("--nsec3", dest="nsec3", action="store_true")
        disable = action("disable", "go insecure (after the DS has gone)")
        disable.add_argument("--force", action="store_true", help="stop signing at once")
        action("ds", "print the DS records, SHA-256, one a line")
        action("status", "keys, states, dates").add_argument("--json", action="store_true")
        role = action("rollover", "start a key rollover").add_mutually_exclusive_group(
            required=True
        )
        role.add_argument("--zsk", dest="role", action="store_const", const="zsk")
        role.add_argument("--ksk", dest="role", action="store_const", const="ksk")
        action("checkds", "ask the parent's servers for the zone's DS now")
        agents = action("parental-agents", "the servers to ask for the DS (BIND's)")
        agents.add_argument("agents", nargs="*", help="ADDR or ADDR:PORT; none: find them")
        action("ds-seen", "the parent publishes the new KSK's DS (confirmed by hand)")
        action("export-keys", "write K*.key/K*.private files").add_argument("directory")
        action("maintain", "roll and re-sign what time calls for", origin=False)

    def handle(self, *args, action: str, origin: str | None, **options) -> None:
        if action == "maintain":
            changed = dnssec.maintain_all()
            self.stdout.write(f"Changed: {', '.join(changed)}" if changed else "Nothing to do.")
            return
        zone = self.zone(origin)
        try:
            getattr(self, action.replace("-", "_"))(zone, **options)
        except dnssec.DnssecError as error:
            raise CommandError(str(error)) from None

    def zone(self, origin: str) -> Zone:
        origin = origin if origin.endswith(".") else origin + "."
        zone = Zone.objects.filter(origin__iexact=origin).first()
        if zone is None:
            raise CommandError(f"No zone {origin}.")
        return zone

    def enable(self, zone: Zone, *, algorithm: str | None, nsec3: bool, **_) -> None:
        dnssec.enable(zone, algorithm=algorithm or "ecdsap256sha256", nsec3=nsec3)
        self.stdout.write(f"{zone.origin} is signed. Give the registrar these DS records:")
        self.ds(zone)

    def disable(self, zone: Zone, *, force: bool, **_) -> None:
        self.stdout.write(dnssec.disable(zone, force=force))
        if force:
            return
        self.stdout.write(f"The parent: {dnssec.check_parent(zone)}")
        if dnssec.status(zone)["unsigning_until"] is None:
            self.stderr.write(
                f"Warning: a DS for {zone.origin} may still be published at the parent (see "
                "above). Remove it at the registrar: the zone stays signed until every parent "
                "server has dropped it."
            )

    def checkds(self, zone: Zone, **_) -> None:
        self.stdout.write(dnssec.check_parent(zone))
        self.stdout.write(dnssec.status(zone)["parent"]["words"])

    def parental_agents(self, zone: Zone, *, agents: list[str], **_) -> None:
        self.stdout.write(dnssec.set_parental_agents(zone, " ".join(agents)))

    def ds(self, zone: Zone, **_) -> None:
        lines = dnssec.ds_lines(zone)
        if not lines:
            raise CommandError(f"{zone.origin} is not signed.")
        for line in lines:
            self.stdout.write(line)

    def status(self, zone: Zone, *, json: bool = False, **_) -> None:
        found = dnssec.status(zone)
        if json:
            self.stdout.write(_json(found))
            return
        if not found["signed"]:
            self.stdout.write(f"{zone.origin} is not signed.")
            return
        self.stdout.write(
            f"{zone.origin}: {found['state']}, {found['algorithm']}, {found['denial']}"
        )
        for key in found["keys"]:
            dates = ", ".join(
                f"{f} {key[f]}" for f in ("published", "active", "retired", "removed") if key[f]
            )
            self.stdout.write(f"  {key['role'].upper()} {key['tag']}: {key['state']} ({dates})")
        self.stdout.write(
            f"Signatures renewed {found['signatures_renewed']}, expire {found['signatures_expire']}"
        )
        self.stdout.write(f"Next ZSK rollover: {found['next_zsk_rollover']}")
        parent = found["parent"]
        self.stdout.write(f"Parent: {parent['words']}")
        if parent["checked"]:
            self.stdout.write(f"  checked {parent['checked']}: {parent['report']}")
        if parent["agents"]:
            self.stdout.write(f"  parental agents: {' '.join(parent['agents'])}")

    def rollover(self, zone: Zone, *, role: str, **_) -> None:
        self.stdout.write(dnssec.rollover(zone, role))

    def ds_seen(self, zone: Zone, **_) -> None:
        self.stdout.write(dnssec.ds_seen(zone))

    def export_keys(self, zone: Zone, *, directory: str, **_) -> None:
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        for stem, public, private in dnssec.export_keys(zone):
            (target / f"{stem}.key").write_text(public)
            path = target / f"{stem}.private"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(private)
            self.stdout.write(str(path))


def _json(value: dict) -> str:
    return json.dumps(value, indent=2)
