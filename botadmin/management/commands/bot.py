"""manage.py bot: script the bot's networks, channels and plugins."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from appliance.control import BOT_GROUP, ring
from botadmin import bridge, policy
from botadmin.infobot.protocol import fold
from botadmin.models import Channel, Network, Plugin, PluginSetting


class Command(BaseCommand):
    help = (
        "Manage the bot: `bot network add|list|remove`, `bot channel add|list|remove`, "
        "`bot plugin list|enable|disable|config`, and privacy requests: `bot forget`, "
        "`bot redact`, `bot expire`. Running bots pick changes up at once (or within a few "
        "seconds)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        nouns = parser.add_subparsers(dest="noun", required=True)
        self.network_arguments(nouns.add_parser("network", help="IRC networks"))
        self.channel_arguments(nouns.add_parser("channel", help="channels on a network"))
        self.plugin_arguments(nouns.add_parser("plugin", help="plugins per scope"))
        self.privacy_arguments(nouns)

    def privacy_arguments(self, nouns) -> None:
        forget = nouns.add_parser(
            "forget",
            help="delete (or anonymise) a nick's log lines, seen entry and search index rows",
        )
        forget.add_argument("network")
        forget.add_argument("nick")
        forget.add_argument("--since", type=_day, help="only lines from this day on (YYYY-MM-DD)")
        forget.add_argument(
            "--anonymise", action="store_true", help='keep the lines, said by "anonymous"'
        )
        redact = nouns.add_parser("redact", help='publish a nick\'s lines as "[redacted]"')
        redact.add_argument("network")
        redact.add_argument("nick")
        redact.add_argument("--reason", default="")
        redact.add_argument("--remove", action="store_true", help="publish them again")
        nouns.add_parser("expire", help="delete the lines past their channel's retention now")

    def network_arguments(self, parser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True)
        add = verbs.add_parser("add", help="add or update a network")
        add.add_argument("name")
        add.add_argument("host")
        add.add_argument("--port", type=int, default=6697)
        add.add_argument("--no-tls", dest="tls", action="store_false")
        add.add_argument("--nick", default="infobot")
        add.add_argument("--sasl-account", default="")
        add.add_argument("--sasl-password", default="")
        add.add_argument("--disabled", dest="enabled", action="store_false")
        add.add_argument("--off-record-marker", default="[off]", help="empty: no marker")
        add.add_argument("--privacy-contact", default="", help="how to ask for removal")
        verbs.add_parser("list", help="list networks and their channels")
        remove = verbs.add_parser("remove", help="remove a network with its channels and logs")
        remove.add_argument("name")

    def channel_arguments(self, parser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True)
        add = verbs.add_parser("add", help="add or update a channel")
        add.add_argument("network")
        add.add_argument("name")
        add.add_argument("--key", default="")
        add.add_argument(
            "--private",
            dest="public",
            action="store_false",
            help="logs visible only to allowed signed-in users",
        )
        add.add_argument("--not-logged", dest="logged", action="store_false")
        add.add_argument("--retention-days", type=int, help="delete lines older than this")
        add.add_argument("--entry-notice", default="", help="said to the channel on joining")
        remove = verbs.add_parser("remove", help="remove a channel and its logs")
        remove.add_argument("network")
        remove.add_argument("name")
        verbs.add_parser("list", help="list channels")

    def plugin_arguments(self, parser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True)
        verbs.add_parser("list", help="discovered plugins and their settings per scope")
        for verb in ("enable", "disable", "config"):
            sub = verbs.add_parser(verb, help=f"{verb} a plugin globally, per network or channel")
            sub.add_argument("plugin")
            sub.add_argument("--network", help="scope: this network")
            sub.add_argument("--channel", help="scope: this channel (needs --network)")
            if verb == "config":
                sub.add_argument(
                    "config_json",
                    metavar="JSON",
                    help='settings as a JSON object, e.g. \'{"server": "127.0.0.1:53"}\'',
                )

    def handle(self, *args, noun: str, verb: str = "", **options) -> None:
        handler = getattr(self, f"{noun}_{verb}" if verb else noun)
        with transaction.atomic():
            handler(**options)
        if verb not in ("list",):
            ring(BOT_GROUP, "bot.reload")

    # privacy requests ---------------------------------------------------------------

    def forget(self, network: str, nick: str, since, anonymise: bool, **options) -> None:
        done = policy.forget(
            self.network(network), nick, since=since, anonymise=anonymise, via="manage.py bot"
        )
        verb = "anonymised" if anonymise else "deleted"
        self.stdout.write(
            f"{nick} on {network}: {done.lines} log lines {verb}, {done.seen} seen entries removed."
        )

    def redact(self, network: str, nick: str, reason: str, remove: bool, **options) -> None:
        net = self.network(network)
        if not remove:
            policy.redact_nick(net, nick, reason=reason, via="manage.py bot")
            self.stdout.write(f"{nick} is redacted on {network}.")
            return
        redaction = net.redactions.filter(nick=fold(nick)).first()
        if redaction is None:
            raise CommandError(f"{nick} is not redacted on {network}")
        policy.unredact_nick(redaction, via="manage.py bot")
        self.stdout.write(f"{nick} is no longer redacted on {network}.")

    def expire(self, **options) -> None:
        self.stdout.write(f"Deleted {policy.expire()} log lines past their retention.")

    # networks ---------------------------------------------------------------------

    def network_add(self, name: str, host: str, **options) -> None:
        fields = {
            key: options[key]
            for key in (
                "port", "tls", "nick", "sasl_account", "sasl_password", "enabled",
                "off_record_marker", "privacy_contact",
            )
        }  # fmt: skip
        network = Network.objects.filter(name=name).first() or Network(name=name)
        network.host = host
        for key, value in fields.items():
            setattr(network, key, value)
        self.save(network)
        self.stdout.write(
            f"Network {name} ({host}:{network.port}, {'TLS' if network.tls else 'plain'})."
        )

    def network_list(self, **options) -> None:
        for network in Network.objects.prefetch_related("channels"):
            state = "enabled" if network.enabled else "disabled"
            self.stdout.write(
                f"{network.name}\t{network.host}:{network.port}\t{network.nick}\t{state}"
            )
            for channel in network.channels.all():
                self.stdout.write(f"  {channel.name}\t{'public' if channel.public else 'private'}")

    def network_remove(self, name: str, **options) -> None:
        deleted, _ = Network.objects.filter(name=name).delete()
        if not deleted:
            raise CommandError(f"No such network: {name}")
        self.stdout.write(f"Removed network {name}.")

    # channels ---------------------------------------------------------------------

    def channel_add(
        self, network: str, name: str, key: str, public: bool, logged: bool, **options
    ) -> None:
        net = self.network(network)
        channel = net.channels.filter(name__iexact=name).first() or Channel(network=net, name=name)
        channel.key, channel.public, channel.logged, channel.enabled = key, public, logged, True
        channel.retention_days = options["retention_days"]
        channel.entry_notice = options["entry_notice"]
        self.save(channel)
        self.stdout.write(f"Channel {name} on {network} ({'public' if public else 'private'}).")

    def channel_remove(self, network: str, name: str, **options) -> None:
        deleted, _ = self.network(network).channels.filter(name__iexact=name).delete()
        if not deleted:
            raise CommandError(f"No channel {name} on {network}")
        self.stdout.write(f"Removed {name} from {network}.")

    def channel_list(self, **options) -> None:
        for channel in Channel.objects.select_related("network"):
            self.stdout.write(
                f"{channel.network.name}\t{channel.name}\t"
                f"{'public' if channel.public else 'private'}"
            )

    # plugins ----------------------------------------------------------------------

    def plugin_list(self, **options) -> None:
        bridge.register_plugins(bridge.discover_plugins())
        settings = PluginSetting.objects.select_related("network", "channel")
        for plugin in Plugin.objects.all():
            note = "" if plugin.available else " (not found at the last start)"
            self.stdout.write(f"{plugin.name}\t{plugin.description}{note}")
            for setting in settings.filter(plugin=plugin.name):
                state = "enabled" if setting.enabled else "disabled"
                self.stdout.write(f"  {setting.scope}: {state} {json.dumps(setting.config)}")

    def plugin_enable(self, **options) -> None:
        self.plugin_setting(**options, enabled=True)

    def plugin_disable(self, **options) -> None:
        self.plugin_setting(**options, enabled=False)

    def plugin_config(self, config_json: str, **options) -> None:
        try:
            config = _json_object(config_json)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.plugin_setting(**options, config=config)

    def plugin_setting(
        self, plugin: str, network: str | None, channel: str | None, **changes
    ) -> None:
        if not Plugin.objects.filter(name=plugin).exists():
            # Built-in and installed plugins are known without the bot having started.
            bridge.register_plugins(bridge.discover_plugins())
        if not Plugin.objects.filter(name=plugin, available=True).exists():
            known = ", ".join(Plugin.objects.filter(available=True).values_list("name", flat=True))
            raise CommandError(f"No plugin {plugin!r} (known: {known or 'none'})")
        if "config" in changes:
            problems = bridge.plugin_problems(Plugin.objects.get(name=plugin), changes["config"])
            if problems:
                raise CommandError(" ".join(problems))
        scope = self.scope(network, channel)
        setting, _ = PluginSetting.objects.get_or_create(plugin=plugin, **scope)
        for key, value in changes.items():
            if key in ("enabled", "config"):
                setattr(setting, key, value)
        setting.save()
        self.stdout.write(
            f"{plugin} ({setting.scope}): "
            f"{'enabled' if setting.enabled else 'disabled'} {setting.config}"
        )

    def scope(self, network: str | None, channel: str | None) -> dict:
        if channel and not network:
            raise CommandError("--channel needs --network")
        if not network:
            return {"network": None, "channel": None}
        net = self.network(network)
        if not channel:
            return {"network": net, "channel": None}
        row = net.channels.filter(name__iexact=channel).first()
        if row is None:
            raise CommandError(f"No channel {channel} on {network}")
        return {"network": net, "channel": row}

    # helpers ----------------------------------------------------------------------

    def network(self, name: str) -> Network:
        network = Network.objects.filter(name=name).first()
        if network is None:
            raise CommandError(f"No such network: {name}")
        return network

    def save(self, instance) -> None:
        try:
            instance.full_clean()
        except ValidationError as error:
            messages = "; ".join(
                f"{field}: {' '.join(errs)}" for field, errs in error.message_dict.items()
            )
            raise CommandError(messages) from None
        instance.save()


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"Not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError("The configuration must be a JSON object ({...}).")
    return value


def _day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text}") from None
