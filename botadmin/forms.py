"""Forms of the log pages and of the staff bot administration."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from botadmin.infobot.protocol import CHANNEL_PREFIXES, fold
from botadmin.models import Channel, Network, OutboundMessage, RedactedNick, nick_name

# The bot splits a long text into IRC lines (512 bytes with prefix and command) as it does its
# own replies; this only keeps one message from flooding the channel.
SAY_MAX_LENGTH = 2000


class SeenForm(forms.Form):
    network = forms.ModelChoiceField(
        Network.objects.filter(channels__in=Channel.objects.published()).distinct()
    )
    nick = forms.CharField(max_length=64, validators=[nick_name])

    def __init__(self, data=None, *args, **kwargs) -> None:
        super().__init__(data, *args, **kwargs)
        networks = list(self.fields["network"].queryset[:2])
        if len(networks) != 1:
            return
        # With one network there is nothing to choose: a link with only ?nick= works.
        self.fields["network"].initial = networks[0].pk
        if self.is_bound and not self.data.get("network"):
            self.data = self.data.copy()
            self.data["network"] = networks[0].pk


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", max_length=500, required=False)
    network = forms.CharField(max_length=50, required=False)
    channel = forms.CharField(max_length=200, required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def clean_channel(self) -> str:
        channel = self.cleaned_data["channel"].strip()
        if not channel or channel[0] in CHANNEL_PREFIXES:
            return channel
        return f"#{channel}"  # people type channels without the '#', as in the URLs

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data


def clear_field(label: str) -> forms.BooleanField:
    return forms.BooleanField(label=f"Remove the {label.lower()}", required=False)


class WriteOnlySecrets(forms.ModelForm):
    """Secrets (``secret_fields``) are written, never shown again: the field is a password
    input that renders empty, leaving it empty keeps the stored value, and a "clear" box
    beside it removes the value. Used by the bot pages and the Django admin alike."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            field = self.fields[name]
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
            field.required = False
            if self.instance.pk is None:  # nothing stored yet: nothing to keep
                continue
            field.help_text = "Leave empty to keep the current value (never shown)."
            if getattr(self.instance, name):
                field.help_text += " Tick the box below to remove it."
                self.fields.setdefault(f"clear_{name}", clear_field(field.label))

    def _post_clean(self) -> None:
        # Before the model instance is filled in: empty keeps, "clear" removes.
        for name in self.secret_fields:
            if name in self.cleaned_data:
                if self.cleaned_data.get(f"clear_{name}"):
                    self.cleaned_data[name] = ""
                elif not self.cleaned_data[name]:
                    self.cleaned_data[name] = getattr(self.instance, name)
        super()._post_clean()


class NetworkForm(WriteOnlySecrets):
    secret_fields = ("sasl_password",)

    class Meta:
        model = Network
        fields = [
            "name", "host", "port", "tls", "nick", "sasl_account", "sasl_password", "enabled",
            "off_record_marker", "privacy_contact",
        ]  # fmt: skip


class ChannelForm(WriteOnlySecrets):
    secret_fields = ("key",)
    readers = forms.ModelMultipleChoiceField(
        get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        help_text="Users who may read this channel's logs when it is private.",
    )
    reader_groups = forms.ModelMultipleChoiceField(
        Group.objects.order_by("name"),
        required=False,
        help_text="Groups whose members may read this channel's logs when it is private.",
    )

    class Meta:
        model = Channel
        fields = ["name", "key", "public", "logged", "retention_days", "entry_notice", "enabled"]

    def __init__(self, *args: Any, network: Network, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.network = network
        if self.instance.pk:
            grants = self.instance.grants.all()
            self.fields["readers"].initial = [g.user_id for g in grants if g.user_id]
            self.fields["reader_groups"].initial = [g.group_id for g in grants if g.group_id]

    def clean_name(self) -> str:
        # The database constraint is case-insensitive; the form says so before it fails.
        name = self.cleaned_data["name"]
        others = Channel.objects.filter(network=self.instance.network, name__iexact=name)
        if others.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("This network already has that channel.")
        return name

    def save(self) -> Channel:  # type: ignore[override]  # grants need the saved row
        channel = super().save()
        channel.grants.all().delete()
        channel.grants.bulk_create(
            [channel.grants.model(channel=channel, user=u) for u in self.cleaned_data["readers"]]
            + [
                channel.grants.model(channel=channel, group=g)
                for g in self.cleaned_data["reader_groups"]
            ]
        )
        return channel


class SayForm(forms.Form):
    text = forms.CharField(
        max_length=SAY_MAX_LENGTH,
        widget=forms.TextInput,
        help_text="Long text is sent as several lines.",
    )

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if any(c in text for c in "\r\n\x00"):
            raise forms.ValidationError("One line, please: no line breaks.")
        if not text:
            raise forms.ValidationError("Say something.")
        return text

    def save(self, channel: Channel, user: Any) -> OutboundMessage:
        return OutboundMessage.objects.create(
            network=channel.network,
            channel=channel.name,
            text=self.cleaned_data["text"],
            requested_by=user,
        )


class RedactionForm(forms.ModelForm):
    class Meta:
        model = RedactedNick
        fields = ["network", "display_nick", "reason"]
        labels = {"display_nick": "Nick"}

    def clean(self) -> dict:
        data = super().clean()
        network, nick = data.get("network"), data.get("display_nick")
        if network and nick:
            self.instance.nick = fold(nick.strip())
            if RedactedNick.objects.filter(network=network, nick=self.instance.nick).exists():
                self.add_error("display_nick", "This nick is already redacted on that network.")
        return data


class ForgetForm(forms.Form):
    """A right-to-erasure request: a nick's lines on a network, all or since a day."""

    network = forms.ModelChoiceField(Network.objects.all())
    nick = forms.CharField(max_length=64, validators=[nick_name])
    since = forms.DateField(
        required=False,
        widget=forms.DateInput({"type": "date"}),
        help_text="Only lines from this day on (UTC); empty: all of them.",
    )
    anonymise = forms.BooleanField(
        required=False,
        help_text='Keep the lines, said by "anonymous", instead of deleting them.',
    )


# -- Plugin configuration, generated from the plugin's declared settings -------------------

INHERIT_HELP = "Empty: inherited from the wider scope, else the plugin's default"
BOOL_CHOICES = [("", "inherited / default"), ("true", "yes"), ("false", "no")]


class ListField(forms.CharField):
    """A list setting: one item per line when its items are plain words (masks, nicks), or a
    JSON list when they are not (the relay's pairs of channels)."""

    widget = forms.Textarea({"rows": 3})

    def to_python(self, value: Any) -> list | None:
        text = (super().to_python(value) or "").strip()
        if not text.startswith("["):
            return [line.strip() for line in text.splitlines() if line.strip()] or None
        try:
            items = json.loads(text)
        except json.JSONDecodeError as error:
            message = f"Not a JSON list: {error.msg} (line {error.lineno})."
            raise forms.ValidationError(message) from None
        if not isinstance(items, list):
            raise forms.ValidationError("Expected a JSON list.")
        return items or None

    def prepare_value(self, value: Any) -> str:
        if not isinstance(value, list):
            return value or ""
        if all(isinstance(item, str) and item.strip() and "\n" not in item for item in value):
            return "\n".join(value)
        return json.dumps(value)


def shown(value: Any) -> str:
    """Show a default as the form does: JSON for data, words for the rest (no Python reprs)."""
    if value in ("", None):
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def setting_field(setting: dict) -> forms.Field:
    """Build a form field for one entry of a plugin's settings_schema; empty means inherit."""
    kind, default = setting.get("type", "str"), setting.get("default")
    help_text = f"{setting.get('help', '')} ({INHERIT_HELP}: {shown(default)})".strip()
    if kind == "bool":
        return forms.TypedChoiceField(
            choices=BOOL_CHOICES,
            coerce=lambda v: v == "true",
            empty_value=None,
            required=False,
            help_text=help_text,
        )
    bounds = {"min_value": setting.get("minimum"), "max_value": setting.get("maximum")}
    if kind == "int":
        return forms.IntegerField(required=False, help_text=help_text, **bounds)
    if kind == "float":
        return forms.FloatField(required=False, help_text=help_text, **bounds)
    if kind == "list":
        return ListField(
            required=False, help_text=f"One item per line, or a JSON list. {help_text}"
        )
    if kind == "dict":
        return forms.JSONField(
            required=False, widget=forms.Textarea({"rows": 3}), help_text=f"JSON. {help_text}"
        )
    return forms.CharField(required=False, help_text=help_text)


def initial_value(kind: str, value: Any) -> Any:
    return ("true" if value else "false") if kind == "bool" else value


class PluginSettingsForm(forms.Form):
    """Enabled flag and configuration of one plugin in one scope (global, network, channel)."""

    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, schema: list[dict], config: dict, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = {s["name"]: s for s in schema if isinstance(s, dict) and "name" in s}
        for name, setting in self.schema.items():
            self.fields[f"setting_{name}"] = field = setting_field(setting)
            field.label = name.replace("_", " ")
            if name in config:
                field.initial = initial_value(setting.get("type", "str"), config[name])

    def config(self) -> dict[str, Any]:
        """Return the values set in this scope; empty ones are left out so wider scopes show."""
        values: dict[str, Any] = {}
        for name in self.schema:
            value = self.cleaned_data[f"setting_{name}"]
            if value not in (None, "", {}):
                values[name] = value
        return values


class NetworkAdminForm(WriteOnlySecrets):
    """The Django admin's network form: the SASL password is write-only there too."""

    secret_fields = ("sasl_password",)
    clear_sasl_password = clear_field("SASL password")

    class Meta:
        model = Network
        exclude: list[str] = []


class ChannelAdminForm(WriteOnlySecrets):
    """The Django admin's channel form (and inline): the channel key is write-only."""

    secret_fields = ("key",)
    clear_key = clear_field("channel key")

    class Meta:
        model = Channel
        exclude: list[str] = []
