"""manage.py runbot: connect to every enabled IRC network, log, and run the plugins."""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from appliance.worker import run_worker, worker_scope
from botadmin.models import Network
from botadmin.worker import BotWorker


class Command(BaseCommand):
    help = "Run the IRC bot on every enabled network, or only the ones named with --network."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--network",
            action="append",
            dest="networks",
            metavar="NAME",
            help="run only this network (repeatable): one shard of the bot",
        )

    def handle(self, *args, networks: list[str] | None, **options) -> None:
        if networks:
            known = set(Network.objects.filter(name__in=networks).values_list("name", flat=True))
            if unknown := sorted(set(networks) - known):
                raise CommandError(f"No such network: {', '.join(unknown)}")
        scope = worker_scope(
            "bot", networks=networks or [], lease_seconds=settings.BOT_LEASE_SECONDS
        )
        asyncio.run(run_worker(BotWorker, scope))
