"""manage.py tsig add|list|remove: TSIG keys for dynamic updates, transfers and NOTIFY."""

from __future__ import annotations

import dns.exception
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from dnsadmin import updates
from dnsadmin.models import TSIG_ALGORITHMS, TsigKey
from dnsadmin.names import tsig


class Command(BaseCommand):
    help = "Add, list or remove TSIG keys. 'add' prints the key once, as tsig-keygen does."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="make a key and print its BIND key clause")
        add.add_argument("name")
        add.add_argument("--algorithm", "-a", choices=TSIG_ALGORITHMS, default="hmac-sha256")
        actions.add_parser("list", help="names, algorithms, grants, last use")
        remove = actions.add_parser("remove", help="delete a key and the rules naming it")
        remove.add_argument("name")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_add(self, name: str, algorithm: str, **options) -> None:
        try:
            _, clause = updates.add_key(name, algorithm)
        except dns.exception.DNSException as error:
            raise CommandError(f"{name!r} is not a valid key name: {error}") from None
        except IntegrityError:
            raise CommandError(f"A key named {name} exists already.") from None
        self.stdout.write(clause, ending="")

    def do_list(self, **options) -> None:
        for key in TsigKey.objects.prefetch_related("rules__zone"):
            grants = ", ".join(f"{rule.zone}: {rule}" for rule in key.rules.all()) or "no rules"
            used = key.last_used.isoformat(timespec="seconds") if key.last_used else "never used"
            self.stdout.write(f"{key.name}\t{key.algorithm}\t{used}\t{grants}")

    def do_remove(self, name: str, **options) -> None:
        deleted, _ = TsigKey.objects.filter(name=tsig.key_name(name).to_text()).delete()
        if not deleted:
            raise CommandError(f"No key named {name}.")
        self.stdout.write(f"Key {name} removed.")
