"""Forms for zones and records: typed fields for the common types, rdata text for the rest.

Every typed form composes presentation-format rdata and has dnspython parse it,
so the checks are dnspython's; errors land on the field the user typed.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from django import forms

from dnsadmin import rules
from dnsadmin.changes import SETTINGS, RecordData
from dnsadmin.models import Zone

TTL_HELP = "Empty: the zone's default. One TTL applies to the whole RRset (RFC 2181 §5.2)."
TXT_CHUNK = 255  # a character-string holds at most 255 octets (RFC 1035 §3.3)


CONTACT_HELP = (
    "The zone's contact mailbox: hostmaster@example.org, or as the SOA spells it, "
    "hostmaster.example.org."
)


# Zone names are host names, with the underscore of service labels and the slash of
# classless reverse zones (RFC 2317); anything else typed in a form is a typo.
ORIGIN_LABEL = re.compile(r"^[A-Za-z0-9_/-]+$")


def web_name(value: str, origin: dns.name.Name, *, literal_dotted: bool) -> str:
    """Read a name typed in a web form by Technitium's rule (rules.typed_name); return it absolute."""
    try:
        return rules.typed_name(value, origin, literal_dotted=literal_dotted).to_text()
    except rules.RecordError as error:
        raise forms.ValidationError(str(error)) from None


class ContactForm(forms.ModelForm):
    """Creation and settings both take the contact mailbox in either spelling."""

    def zone_origin(self) -> dns.name.Name | None:
        origin = self.cleaned_data.get("origin") or self.instance.origin
        try:
            return dns.name.from_text(origin) if origin else None
        except dns.exception.DNSException:
            return None

    def typed_name(self, field: str) -> str:
        origin = self.zone_origin()
        if origin is None:  # the origin itself is wrong, and says so
            return self.cleaned_data[field]
        return web_name(self.cleaned_data[field], origin, literal_dotted=True)

    def clean_primary_ns(self) -> str:
        return self.typed_name("primary_ns")

    def clean_contact(self) -> str:
        """Spell a mailbox as the SOA RNAME does (RFC 1035 §8): the local part's dots escaped."""
        contact = self.cleaned_data["contact"].strip()
        if any(char.isspace() for char in contact):
            raise forms.ValidationError("A contact mailbox has no spaces: hostmaster@example.org.")
        if "@" in contact:
            local, _, domain = contact.partition("@")
            if not local or not domain or "@" in domain:
                raise forms.ValidationError("Enter a mailbox: hostmaster@example.org.")
            domain = domain if domain.endswith(".") else domain + "."
            contact = local.replace(".", "\\.") + "." + domain
        self.cleaned_data["contact"] = contact
        return self.typed_name("contact")


class ZoneCreateForm(ContactForm):
    class Meta:
        model = Zone
        fields = ["origin", "primary_ns", "contact", "default_ttl"]
        help_texts = {"contact": CONTACT_HELP}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Left out (as the README's API example does), it is the model's default.
        self.fields["default_ttl"].required = False

    def clean_default_ttl(self) -> int:
        value = self.cleaned_data.get("default_ttl")
        return Zone._meta.get_field("default_ttl").default if value is None else value

    def clean_origin(self) -> str:
        origin = self.cleaned_data["origin"].strip()
        labels = origin.rstrip(".").split(".")
        if not origin.rstrip(".") or not all(ORIGIN_LABEL.match(label) for label in labels):
            raise forms.ValidationError(
                "Not a valid domain name: a zone's name is labels of letters, digits, hyphens "
                "(and _ or /) separated "
                "by dots, e.g. example.org."
            )
        return origin if origin.endswith(".") else origin + "."


class ZoneSettingsForm(ContactForm):
    class Meta:
        model = Zone
        fields = list(SETTINGS)  # what the change service takes as zone settings
        widgets = {
            "transfer_acl": forms.Textarea(attrs={"rows": 2}),
            "notify_targets": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {"contact": CONTACT_HELP}


def changed_settings(form: forms.ModelForm) -> dict[str, object]:
    """Return the zone settings a valid form changed, with their new (cleaned) values."""
    return {name: getattr(form.instance, name) for name in form.changed_data}


class RecordFilterForm(forms.Form):
    name = forms.CharField(required=False, help_text="Wildcards allowed: *.dev, www*")
    type = forms.CharField(required=False)


class RecordForm(forms.Form):
    """The fields every record has; subclasses add the rdata's own fields."""

    rdtype = ""  # set by each typed form; the generic form has a field instead
    main_field = "rdata"  # where whole-rdata errors from dnspython are shown

    owner = forms.CharField(
        label="Name",
        initial="@",
        help_text="www, or in full www.example.org; @ for the zone itself.",
    )
    ttl = forms.IntegerField(
        label="TTL", required=False, min_value=0, max_value=2**31 - 1, help_text=TTL_HELP
    )
    comment = forms.CharField(required=False, max_length=255)
    enabled = forms.BooleanField(required=False, initial=True)
    fingerprint = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, zone: Zone, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        # Zone-file order: name, type, TTL, then the type's own data, then the extras.
        extras = ["comment", "enabled", "fingerprint"]
        data_fields = [
            name for name in self.fields if name not in ("owner", "type", "ttl", *extras)
        ]
        self.order_fields(["owner", "type", "ttl", *data_fields, *extras])

    def record_type(self) -> str:
        return self.rdtype

    def compose(self) -> str:
        raise NotImplementedError

    @classmethod
    def initial_from(cls, rdata: dns.rdata.Rdata) -> dict:
        return {"rdata": rdata.to_text()}

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.parsed = rules.parse_rdata(
                rules.parse_rdtype(self.record_type()), self.compose(), self.zone.name
            )
        except rules.RecordError as error:
            self.add_error(self.main_field if error.field == "rdata" else None, str(error))
        return data

    def clean_owner(self) -> str:
        owner = web_name(self.cleaned_data["owner"], self.zone.name, literal_dotted=False)
        try:
            rules.parse_owner(owner, self.zone.name)
        except rules.RecordError as error:
            raise forms.ValidationError(str(error)) from None
        return owner

    def clean_target_name(self, field: str) -> str:
        """A target name typed in the form, absolute by the web rule (see web_name)."""
        return web_name(self.cleaned_data[field], self.zone.name, literal_dotted=True)

    def record(self) -> RecordData:
        data = self.cleaned_data
        return RecordData(self.parsed.to_text(), data["ttl"], data["enabled"], data["comment"])

    def show_error(self, field: str, message: str) -> None:
        """Put an error from the change service next to the input it is about."""
        target = self.main_field if field == "rdata" else field
        self.add_error(target if target in self.fields else None, message)


class GenericRecordForm(RecordForm):
    type = forms.CharField(label="Type", help_text="Any type dnspython knows, e.g. SSHFP, TLSA.")
    rdata = forms.CharField(label="Data", widget=forms.TextInput(attrs={"class": "mono"}))

    def record_type(self) -> str:
        return self.cleaned_data["type"]

    def clean_type(self) -> str:
        try:
            return dns.rdatatype.to_text(rules.parse_rdtype(self.cleaned_data["type"]))
        except rules.RecordError as error:
            raise forms.ValidationError(str(error)) from None

    def compose(self) -> str:
        return self.cleaned_data["rdata"]


class AddressForm(RecordForm):
    main_field = "address"
    version = 4

    address = forms.CharField()

    def clean_address(self) -> str:
        value = self.cleaned_data["address"].strip()
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            address = None
        if address is None or address.version != self.version:
            raise forms.ValidationError(f"Enter a valid IPv{self.version} address.")
        return str(address)

    def compose(self) -> str:
        return self.cleaned_data["address"]

    @classmethod
    def initial_from(cls, rdata) -> dict:
        return {"address": rdata.address}


class AForm(AddressForm):
    rdtype = "A"


class AAAAForm(AddressForm):
    rdtype = "AAAA"
    version = 6


class TargetForm(RecordForm):
    main_field = "target"

    target = forms.CharField(
        help_text="A name with a dot is taken as typed (example.com); a single label is "
        "completed with the zone (www).",
    )

    def clean_target(self) -> str:
        return self.clean_target_name("target")

    def compose(self) -> str:
        return self.cleaned_data["target"]

    @classmethod
    def initial_from(cls, rdata) -> dict:
        return {"target": rdata.target.to_text()}


class CNAMEForm(TargetForm):
    rdtype = "CNAME"


class NSForm(TargetForm):
    rdtype = "NS"


class PTRForm(TargetForm):
    rdtype = "PTR"


class MXForm(RecordForm):
    rdtype = "MX"
    main_field = "exchange"

    preference = forms.IntegerField(min_value=0, max_value=65535, initial=10)
    exchange = forms.CharField(help_text="The mail server's name; '.' for no mail (RFC 7505).")

    def clean_exchange(self) -> str:
        return self.clean_target_name("exchange")

    def compose(self) -> str:
        return f"{self.cleaned_data['preference']} {self.cleaned_data['exchange']}"

    @classmethod
    def initial_from(cls, rdata) -> dict:
        return {"preference": rdata.preference, "exchange": rdata.exchange.to_text()}


# One or more complete "…" strings and nothing else: zone-file spelling of TXT data.
QUOTED_STRINGS = re.compile(r'^\s*"(?:[^"\\]|\\.)*"(?:\s+"(?:[^"\\]|\\.)*")*\s*$', re.S)


class TXTForm(RecordForm):
    rdtype = "TXT"
    main_field = "text"

    text = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Plain text; long text is split into 255-byte strings for you.",
    )

    def clean_text(self) -> str:
        """Take text pasted with its quotes ("v=spf1 … ~all", as providers print it) as the
        character-strings it spells, not as text with literal quotes that breaks SPF."""
        text = self.cleaned_data["text"]
        if not QUOTED_STRINGS.match(text):
            return text
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text.strip())
        return b"".join(rdata.strings).decode(errors="replace")

    def compose(self) -> str:
        data = self.cleaned_data["text"].encode()
        chunks = [data[i : i + TXT_CHUNK] for i in range(0, len(data), TXT_CHUNK)] or [b""]
        return " ".join(f'"{escape_txt(chunk)}"' for chunk in chunks)

    @classmethod
    def initial_from(cls, rdata) -> dict:
        return {"text": b"".join(rdata.strings).decode(errors="replace")}


def escape_txt(chunk: bytes) -> str:
    """RFC 1035 §5.1 quoting: backslash the quote and backslash, \\DDD for non-printables."""
    out = []
    for byte in chunk:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


class SRVForm(RecordForm):
    rdtype = "SRV"
    main_field = "target"

    priority = forms.IntegerField(min_value=0, max_value=65535, initial=10)
    weight = forms.IntegerField(min_value=0, max_value=65535, initial=10)
    port = forms.IntegerField(min_value=0, max_value=65535)
    target = forms.CharField()

    def clean_target(self) -> str:
        return self.clean_target_name("target")

    def clean_owner(self) -> str:
        owner = super().clean_owner()
        if not owner.startswith("_"):
            raise forms.ValidationError("An SRV name is _service._proto, e.g. _sip._tcp.")
        return owner

    def compose(self) -> str:
        d = self.cleaned_data
        return f"{d['priority']} {d['weight']} {d['port']} {d['target']}"

    @classmethod
    def initial_from(cls, rdata) -> dict:
        return {
            "priority": rdata.priority,
            "weight": rdata.weight,
            "port": rdata.port,
            "target": rdata.target.to_text(),
        }


class CAAForm(RecordForm):
    rdtype = "CAA"
    main_field = "value"

    flags = forms.IntegerField(min_value=0, max_value=255, initial=0)
    tag = forms.ChoiceField(choices=[(t, t) for t in ("issue", "issuewild", "iodef")])
    value = forms.CharField(help_text="e.g. letsencrypt.org, or mailto:… for iodef.")

    def clean(self) -> dict:
        data = self.cleaned_data
        if data.get("tag") == "iodef" and data.get("value") and not iodef_url(data["value"]):
            self.add_error(
                "value",
                "An iodef value is where to report: a mailto:, http: or https: URL "
                "(RFC 8659 §4.4), e.g. mailto:security@example.org.",
            )
        return super().clean()

    def compose(self) -> str:
        d = self.cleaned_data
        return f'{d["flags"]} {d["tag"]} "{escape_txt(d["value"].encode())}"'

    @classmethod
    def initial_from(cls, rdata) -> dict:
        return {
            "flags": rdata.flags,
            "tag": rdata.tag.decode(),
            "value": rdata.value.decode(errors="replace"),
        }


def iodef_url(value: str) -> bool:
    parts = urlsplit(value.strip())
    if parts.scheme == "mailto":
        return "@" in parts.path and not any(char.isspace() for char in value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


TYPED_FORMS: dict[str, type[RecordForm]] = {
    form.rdtype: form
    for form in (AForm, AAAAForm, CNAMEForm, MXForm, TXTForm, SRVForm, NSForm, PTRForm, CAAForm)
}


def form_class_for(rdtype: str) -> type[RecordForm]:
    return TYPED_FORMS.get(rdtype.upper(), GenericRecordForm)


def initial_for(record) -> dict:
    """Return a form's initial values from a stored Record."""
    form_class = form_class_for(record.rdtype)
    rdtype = dns.rdatatype.from_text(record.rdtype)
    rdata = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, bytes(record.wire), 0, len(record.wire))
    initial = {
        "owner": record.owner,
        "ttl": record.ttl,
        "comment": record.comment,
        "enabled": record.enabled,
    }
    if form_class is GenericRecordForm:
        initial.update(type=record.rdtype, rdata=record.rdata)
    else:
        initial.update(form_class.initial_from(rdata))
    return initial


class ImportForm(forms.Form):
    MODES = [
        ("merge", "Merge: replace the RRsets in the file, keep the others"),
        ("replace", "Replace: the zone's records become exactly the file's"),
    ]

    file = forms.FileField(required=False, help_text="A BIND zone file.")
    text = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "class": "mono"}),
        help_text="Or paste the zone here.",
    )
    mode = forms.ChoiceField(choices=MODES, initial="merge", widget=forms.RadioSelect)
    expected = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        if upload:
            try:
                data["text"] = upload.read().decode()
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
        if not data.get("text", "").strip() and not self.errors:
            self.add_error("text", "Upload a file or paste the zone's text.")
        return data


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. certbot on web1.")
    scope = forms.ChoiceField(
        choices=[("read", "read only"), ("write", "read and write")],
        initial="read",
        help_text="A write token changes only the zones you may edit.",
    )
    zones = forms.ModelMultipleChoiceField(
        queryset=Zone.objects.none(),
        required=False,
        help_text="Only these zones; none selected: every zone you may reach.",
    )
    expires = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Refused after this time; empty: never.",
    )

    def __init__(self, *args, zones=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if zones is not None:
            self.fields["zones"].queryset = zones

    def clean_expires(self):
        from django.utils import timezone

        expires = self.cleaned_data["expires"]
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError("That time has passed.")
        return expires


class GrantForm(forms.Form):
    """Grant a user or a group view or edit on one zone (the zone settings page)."""

    who = forms.CharField(max_length=160, help_text="A user name, or group:NAME for a group.")
    level = forms.ChoiceField(choices=[("view", "view"), ("edit", "view and edit")])

    def clean_who(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        text = self.cleaned_data["who"].strip()
        if text.startswith("group:"):
            found = Group.objects.filter(name=text.removeprefix("group:")).first()
        else:
            found = get_user_model().objects.filter(username=text).first()
        if found is None:
            raise forms.ValidationError(f"No user or group {text!r}.")
        return found
