"""manage.py zone grant|deny|policy: a zone's update policy (BIND's update-policy rules)."""

from __future__ import annotations

import dns.exception
from django.core.management.base import BaseCommand, CommandError

from dnsadmin import updates
from dnsadmin.management import zone_named
from dnsadmin.models import TsigKey
from dnsadmin.names import tsig
from dnsadmin.names.update import RULE_TYPES


class Command(BaseCommand):
    help = (
        "Grant or deny a TSIG key updates to a zone, or list its policy. Rules are checked in "
        "order and the first that matches decides; with none, updates are refused."
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

    def handle(self, *args, action: str, origin: str, **options) -> None:
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
