"""The bot's configuration and what it records: networks, channels, plugins, logs."""

from __future__ import annotations

import datetime
import json

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from botadmin.policy import ChannelQuerySet, LogLineQuerySet, SeenQuerySet

LOG_KINDS = [
    (kind, kind.replace("_", " "))
    for kind in (
        "message",
        "action",
        "notice",
        "join",
        "part",
        "quit",
        "nick",
        "topic",
        "kick",
        "mode",
    )
]

channel_name = RegexValidator(
    r"^[#&+!][^\s,\x07]{1,199}$",
    "A channel name starts with # & + or ! and has no spaces or commas.",
)
nick_name = RegexValidator(
    r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}$", "Not a valid IRC nick."
)


class Network(models.Model):
    name = models.SlugField(
        max_length=50, unique=True, help_text="Short name used in logs and URLs, e.g. libera."
    )
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(
        default=6697, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    tls = models.BooleanField("TLS", default=True)
    nick = models.CharField(max_length=30, default="infobot", validators=[nick_name])
    sasl_account = models.CharField("SASL account", max_length=100, blank=True)
    sasl_password = models.CharField("SASL password", max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    off_record_marker = models.CharField(
        "off-the-record marker",
        max_length=20,
        default="[off]",
        blank=True,
        help_text="Lines starting with this are not logged, relayed or remembered by seen "
        "(empty: none).",
    )
    privacy_contact = models.CharField(
        max_length=255,
        blank=True,
        help_text="How to ask for one's lines to be removed (an address or a page), "
        "stated on the log pages.",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Channel(models.Model):
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=200, validators=[channel_name])
    key = models.CharField(max_length=100, blank=True, help_text="The channel key (+k), if any.")
    public = models.BooleanField(
        default=True,
        help_text="Public logs are published; private ones only to "
        "signed-in users allowed to see them.",
    )
    logged = models.BooleanField(default=True)
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Delete lines older than this many days, daily (empty: keep them).",
    )
    entry_notice = models.CharField(
        max_length=400,
        blank=True,
        help_text="A notice the bot sends to the channel when it joins, e.g. "
        '"This channel is logged at https://…; start a line with [off] to keep it out."',
    )
    enabled = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["network", "name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "network", name="unique_channel_per_network")
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.network}"


class Plugin(models.Model):
    """A plugin the bot discovered, so it can be enabled per scope."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    module = models.CharField(max_length=255)
    settings_schema = models.JSONField(default=list, blank=True)
    available = models.BooleanField(default=True, help_text="Found at the bot's last start.")
    discovered = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PluginSetting(models.Model):
    """A plugin's enabled flag and configuration for one scope; the most specific wins."""

    plugin = models.CharField(max_length=100)
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.CASCADE)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plugin", "network", "channel"]
        constraints = [
            models.UniqueConstraint(
                "plugin",
                condition=Q(network=None, channel=None),
                name="one_global_setting_per_plugin",
            ),
            models.UniqueConstraint(
                "plugin",
                "network",
                condition=Q(channel=None),
                name="one_network_setting_per_plugin",
            ),
            models.UniqueConstraint(
                "plugin",
                "channel",
                condition=~Q(channel=None),
                name="one_channel_setting_per_plugin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plugin} ({self.scope})"

    @property
    def config_text(self) -> str:
        """Return the configuration as an operator writes it (JSON, as `bot plugin config`)."""
        return json.dumps(self.config, sort_keys=True)

    @property
    def scope(self) -> str:
        if self.channel_id:
            return str(self.channel)
        return str(self.network) if self.network_id else "global"

    def save(self, *args, **kwargs) -> None:
        if self.channel_id:
            self.network_id = self.channel.network_id  # a channel setting belongs to its network
        super().save(*args, **kwargs)


class LogLine(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="lines")
    time = models.DateTimeField(help_text="Server time when the server sent it.")
    nick = models.CharField(max_length=64)
    account = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=10, choices=LOG_KINDS)
    text = models.TextField(blank=True)
    msgid = models.CharField(max_length=128, blank=True)

    objects = LogLineQuerySet.as_manager()
    # Set by the policy's querysets: a redacted line's nick and text are the placeholder.
    redacted = False

    class Meta:
        ordering = ["time", "id"]
        indexes = [
            models.Index(fields=["channel", "time"]),
            models.Index(fields=["channel", "msgid"]),
        ]

    def __str__(self) -> str:
        return f"[{self.time:%Y-%m-%d %H:%M:%S}] {self.nick}: {self.text[:60]}"

    def save(self, *args, **kwargs) -> None:
        if self.redacted:
            raise ValueError("a redacted line is what a reader sees; it is never stored")
        super().save(*args, **kwargs)


class StoredValue(models.Model):
    """The Storage component: a JSON value per plugin and key, versioned."""

    plugin = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    version = models.PositiveIntegerField(default=1)
    value = models.JSONField(null=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plugin", "key"]
        constraints = [models.UniqueConstraint("plugin", "key", name="unique_stored_key")]

    def __str__(self) -> str:
        return f"{self.plugin}/{self.key} v{self.version}"


class Seen(models.Model):
    """When and where a nick last spoke, for the seen plugin and page."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE)
    nick = models.CharField(max_length=64, help_text="Case-folded.")
    display_nick = models.CharField(max_length=64)
    channel = models.CharField(max_length=200)
    public = models.BooleanField(default=True)
    time = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=LOG_KINDS, default="message")
    text = models.TextField(blank=True)

    objects = SeenQuerySet.as_manager()

    class Meta:
        ordering = ["-time"]
        verbose_name_plural = "seen"
        constraints = [models.UniqueConstraint("network", "nick", name="unique_seen_nick")]

    def __str__(self) -> str:
        return f"{self.display_nick} on {self.network}"


class Ignore(models.Model):
    """A mask the bot ignores: nick!user@host glob or $a:account; global, network or channel."""

    mask = models.CharField(max_length=255)
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.CASCADE)
    channel = models.CharField(
        max_length=200,
        blank=True,
        help_text="Empty: every channel of the network (or every network).",
    )
    expires = models.DateTimeField(null=True, blank=True)
    added_by = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["mask"]

    def __str__(self) -> str:
        return self.mask


# -- Published logs: who may read a private channel, and whose lines are hidden ---------


class ChannelGrant(models.Model):
    """Lets one user, or every member of one group, read a private channel's logs."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="grant_is_for_a_user_or_a_group",
            ),
            models.UniqueConstraint("channel", "user", name="one_grant_per_channel_user"),
            models.UniqueConstraint("channel", "group", name="one_grant_per_channel_group"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.group} may read {self.channel}"


class RedactedNick(models.Model):
    """A nick whose lines on one network are published as "[redacted]" (privacy requests)."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="redactions")
    nick = models.CharField(max_length=64, help_text="Case-folded.")
    display_nick = models.CharField(max_length=64)
    reason = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "nick"]
        constraints = [
            models.UniqueConstraint("network", "nick", name="one_redaction_per_network_nick")
        ]

    def __str__(self) -> str:
        return f"{self.display_nick} on {self.network}"


class OutboundMessage(models.Model):
    """A line the web asked the bot to say; the bot worker sends pending rows and sets sent."""

    # Lines older than this are left unsent: a bot that was down for an hour must not
    # replay an hour of chatter when it comes back.
    MAX_AGE = datetime.timedelta(minutes=5)

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="outbound")
    channel = models.CharField(max_length=200, validators=[channel_name])
    text = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)
    sent = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["sent", "created"])]

    def __str__(self) -> str:
        return f"say to {self.channel} on {self.network}: {self.text[:40]}"


class NetworkLease(models.Model):
    """Which bot shard serves a network: renewed while it runs, taken over when it lapses."""

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="lease")
    holder = models.CharField(max_length=255, help_text="host:pid of the runbot process.")
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.network} held by {self.holder}"


# -- Privacy requests: opt-outs said on IRC, and what staff did about a nick ------------


class OptOut(models.Model):
    """A nick that said !optout on a network: its lines are not logged, relayed or seen."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="optouts")
    nick = models.CharField(max_length=64, help_text="Case-folded.")
    display_nick = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "nick"]
        constraints = [models.UniqueConstraint("network", "nick", name="one_optout_per_nick")]

    def __str__(self) -> str:
        return f"{self.display_nick} on {self.network} opted out"


class PrivacyAction(models.Model):
    """The audit log of privacy requests carried out: forgetting, anonymising, redacting."""

    FORGET, ANONYMISE, REDACT, UNREDACT = "forget", "anonymise", "redact", "unredact"
    ACTIONS = [(a, a) for a in (FORGET, ANONYMISE, REDACT, UNREDACT)]

    action = models.CharField(max_length=10, choices=ACTIONS)
    network = models.CharField(max_length=50, help_text="Kept by name: it outlives the network.")
    nick = models.CharField(max_length=64)
    since = models.DateTimeField(null=True, blank=True)
    lines = models.PositiveIntegerField(default=0, help_text="Log lines removed or changed.")
    seen = models.PositiveIntegerField(default=0, help_text="Seen entries removed.")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    via = models.CharField(max_length=100, help_text="The page or command that did it.")
    time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.nick} on {self.network}"
