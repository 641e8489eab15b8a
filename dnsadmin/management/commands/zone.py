"""manage.py zone: secondary zones (add-secondary, add-catalog, list, refresh, remove) and a
zone's update policy (grant, deny, policy: BIND's update-policy rules)."""

from __future__ import annotations

import dns.exception
from django.core.management.base import BaseCommand, CommandError

from dnsadmin import catalogzones, secondary, updates
from dnsadmin.management import zone_named
from dnsadmin.models import TsigKey, Zone
from dnsadmin.names import tsig
from dnsadmin.names.update import RULE_TYPES


class Command(BaseCommand):
    help = (
        "List the zones; add, refresh or remove a secondary zone (copied from primaries by zone "
        "transfer); grant or deny a TSIG key updates to a zone, or list its policy. Rules are "
        "checked in order and the first that matches decides; with none, updates are refused."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        for action in ("grant", "deny"):
            rule = actions.add_parser(action, help=f"append a {action} rule")
            rule.add_argument("origin")
            rule.add_argument("key")
            rule.add_argument("rule_type", choices=RULE_TYPES)
            rule.add_argument(
                "words", nargs="*", metavar="[NAME] TYPE",
                help="the name (name, subdomain, wildcard rules), then record types",
            )  # fmt: skip
        listing = actions.add_parser("policy", help="list the zone's rules in order")
        listing.add_argument("origin")
        add = actions.add_parser("add-secondary", help="copy a zone from its primaries")
        add.add_argument("origin")
        add.add_argument(
            "--primary", action="append", required=True, dest="primaries",
            metavar="ADDR[:PORT]", help="a primary server (repeatable: tried in order)",
        )  # fmt: skip
        add.add_argument("--tsig", metavar="KEY", help="sign queries and check answers with it")
        follow = actions.add_parser(
            "add-catalog", help="follow a catalog zone (RFC 9432): its members become secondaries"
        )
        follow.add_argument("origin")
        follow.add_argument(
            "--primary", action="append", required=True, dest="primaries",
            metavar="ADDR[:PORT]", help="the catalog's primary, and its members' (repeatable)",
        )  # fmt: skip
        follow.add_argument("--tsig", metavar="KEY", help="the key for the catalog and members")
        actions.add_parser("list", help="every zone: primary or secondary, serial, status")
        for action, text in (("refresh", "check a secondary's primaries now"),
                             ("remove", "delete a secondary zone and its data")):  # fmt: skip
            actions.add_parser(action, help=text).add_argument("origin")

    def handle(self, *args, action: str, **options) -> None:
        secondaries = {
            "add-secondary": self.add_secondary, "add-catalog": self.add_catalog,
            "list": self.list_zones,
            "refresh": self.refresh, "remove": self.remove,
        }  # fmt: skip
        if action not in secondaries:
            return self.policy(action, **options)
        try:
            return secondaries[action](**options)
        except ValueError as error:
            raise CommandError(str(error)) from None

    def add_secondary(self, origin: str, primaries: list[str], tsig: str | None, **_) -> None:
        zone = secondary.add_secondary(origin, primaries, tsig)
        facts = secondary.status(zone)
        key = f" with key {facts['tsig_key']}" if facts["tsig_key"] else ""
        listed = ", ".join(facts["primaries"])
        self.stdout.write(f"{zone}: secondary of {listed}{key}; transfer requested")

    def add_catalog(self, origin: str, primaries: list[str], tsig: str | None, **_) -> None:
        zone = catalogzones.add_catalog(origin, primaries, tsig)
        listed = ", ".join(secondary.status(zone)["primaries"])
        self.stdout.write(f"{zone}: catalog followed from {listed}; its members follow it")

    def list_zones(self, **_) -> None:
        for zone in Zone.objects.all():
            self.stdout.write(describe(secondary.status(zone)))

    def refresh(self, origin: str, **_) -> None:
        secondary.request_refresh(origin)
        self.stdout.write(f"{origin}: refresh requested")

    def remove(self, origin: str, **_) -> None:
        secondary.remove_secondary(origin)
        self.stdout.write(f"{origin}: removed")

    def policy(self, action: str, origin: str, **options) -> None:
        zone = zone_named(origin)
        if action == "policy":
            for rule in zone.update_rules.select_related("key"):
                self.stdout.write(f"{rule.position}\t{rule}")
            return
        words, rule_type = options["words"], options["rule_type"]
        name = words.pop(0) if words and rule_type in ("name", "subdomain", "wildcard") else ""
        key = TsigKey.objects.filter(name=tsig.key_name(options["key"]).to_text()).first()
        if key is None:
            raise CommandError(f"No key named {options['key']} (manage.py tsig add).")
        try:
            rule = updates.add_rule(zone, key, rule_type, name, words, grant=action == "grant")
        except (ValueError, dns.exception.DNSException) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{zone}: {rule}")


def describe(facts: dict) -> str:
    """One line of ``zone list``: origin, primary or secondary, serial, and a secondary's
    state and timers."""
    serial = facts["serial"] if facts["serial"] is not None else "-"
    if not facts["secondary"]:
        return f"{facts['origin']}\tprimary\tserial {serial}"
    transfer = when(facts["last_transfer"])
    if facts["last_transfer_kind"]:
        transfer += f" ({facts['last_transfer_kind']})"
    words = [
        facts["origin"], "secondary", f"serial {serial}", facts["state"],
        f"primaries {' '.join(facts['primaries'])}", f"last check {when(facts['last_check'])}",
        f"last transfer {transfer}", f"next refresh {when(facts['next_refresh'])}",
        f"expires {when(facts['expires_at'])}", f"last error {facts['last_error'] or '-'}",
    ]  # fmt: skip
    if facts["catalog"]:
        words.append(f"catalog {facts['catalog']}")
    return "\t".join(words)


def when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"
