"""Staff bot administration: networks, channels, status, plugins, redactions, the say box."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appliance.control import BOT_GROUP
from appliance.models import WorkerStatus
from botadmin.models import (
    Channel,
    ChannelGrant,
    Network,
    OutboundMessage,
    Plugin,
    PluginSetting,
    RedactedNick,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rings(monkeypatch) -> list[tuple]:
    """Record the control events the views send to the workers."""
    sent: list[tuple] = []
    monkeypatch.setattr(
        "botadmin.views.admin.ring", lambda group, event, **kw: sent.append((group, event, kw))
    )
    return sent


@pytest.fixture
def channel(network) -> Channel:
    return Channel.objects.create(network=network, name="#python")


@pytest.fixture
def plugin() -> Plugin:
    return Plugin.objects.create(
        name="weather",
        description="Answers weather questions.",
        module="botadmin.plugins.weather",
        settings_schema=[
            {"name": "units", "type": "str", "default": "metric", "help": "metric or imperial"},
            {"name": "max_days", "type": "int", "default": 3, "help": ""},
            {"name": "threshold", "type": "float", "default": 0.5, "help": ""},
            {"name": "verbose", "type": "bool", "default": False, "help": ""},
            {"name": "cities", "type": "list", "default": [], "help": ""},
        ],
    )


ADMIN_URLS = [
    ("botadmin:admin-home", []),
    ("botadmin:status", []),
    ("botadmin:network-add", []),
    ("botadmin:plugin-list", []),
    ("botadmin:redactions", []),
]


@pytest.mark.parametrize(("name", "args"), ADMIN_URLS)
def test_the_administration_is_for_staff_only(user_client, name, args):
    url = reverse(name, args=args)
    assert Client().get(url).status_code == 302  # a stranger is sent to sign in
    assert user_client.get(url).status_code == 403


def test_a_non_staff_user_cannot_change_anything(user_client, network, rings):
    response = user_client.post(reverse("botadmin:network-toggle", args=[network.pk]))
    assert response.status_code == 403
    network.refresh_from_db()
    assert network.enabled and rings == []


def test_staff_add_a_network_and_the_bot_is_told(staff_client, rings):
    response = staff_client.post(
        reverse("botadmin:network-add"),
        {"name": "oftc", "host": "irc.oftc.net", "port": 6697, "tls": "on", "nick": "infobot"},
    )
    assert response.status_code == 302
    assert Network.objects.filter(name="oftc", host="irc.oftc.net").exists()
    assert rings == [(BOT_GROUP, "bot.reload", {})]


def test_a_bad_network_shows_errors_next_to_fields_and_saves_nothing(staff_client, rings):
    response = staff_client.post(
        reverse("botadmin:network-add"),
        {"name": "bad name", "host": "", "port": 70000, "nick": "9nick"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "host", "port", "nick"}
    assert 'class="errorlist' in response.content.decode()
    assert not Network.objects.exists() and rings == []


def test_editing_a_network_keeps_the_sasl_password_when_left_empty(staff_client, network, rings):
    network.sasl_password = "hunter2"
    network.save()
    data = {"name": "libera", "host": "irc.libera.chat", "port": 6697, "nick": "infobot"}
    staff_client.post(reverse("botadmin:network-edit", args=[network.pk]), data)
    network.refresh_from_db()
    assert (network.host, network.sasl_password) == ("irc.libera.chat", "hunter2")
    page = staff_client.get(reverse("botadmin:network-edit", args=[network.pk]))
    assert "hunter2" not in page.content.decode()


def test_only_an_existing_network_offers_to_keep_its_sasl_password(staff_client, network):
    keep = "Leave empty to keep the current value (never shown)."
    assert keep not in staff_client.get(reverse("botadmin:network-add")).content.decode()
    edit = staff_client.get(reverse("botadmin:network-edit", args=[network.pk]))
    assert keep in edit.content.decode()


def test_staff_disable_and_enable_a_network(staff_client, network, rings):
    url = reverse("botadmin:network-toggle", args=[network.pk])
    staff_client.post(url)
    network.refresh_from_db()
    assert not network.enabled
    staff_client.post(url)
    network.refresh_from_db()
    assert network.enabled
    assert len(rings) == 2
    assert staff_client.get(url).status_code == 405


def test_staff_add_a_channel_with_its_readers(staff_client, network, rings, django_user_model):
    reader = django_user_model.objects.create_user("reader", password="pw")
    response = staff_client.post(
        reverse("botadmin:channel-add", args=[network.pk]),
        {"name": "#secret", "public": "", "logged": "on", "enabled": "on", "readers": [reader.pk]},
    )
    assert response.status_code == 302
    channel = Channel.objects.get(name="#secret")
    assert not channel.public and channel.network == network
    assert list(ChannelGrant.objects.values_list("user", flat=True)) == [reader.pk]
    assert rings == [(BOT_GROUP, "bot.reload", {})]


def test_a_channel_name_differing_only_in_case_is_refused(staff_client, channel, rings):
    response = staff_client.post(
        reverse("botadmin:channel-add", args=[channel.network.pk]),
        {"name": "#PYTHON", "logged": "on", "enabled": "on"},
    )
    assert "already has that channel" in response.content.decode()
    assert Channel.objects.count() == 1 and rings == []


def test_an_invalid_channel_name_is_refused(staff_client, network):
    response = staff_client.post(
        reverse("botadmin:channel-add", args=[network.pk]), {"name": "python room"}
    )
    assert "name" in response.context["form"].errors
    assert not Channel.objects.exists()


def test_staff_disable_a_channel(staff_client, channel, rings):
    staff_client.post(reverse("botadmin:channel-toggle", args=[channel.pk]))
    channel.refresh_from_db()
    assert not channel.enabled and len(rings) == 1


class TestStatus:
    def beat(self, details: dict, seconds_ago: int = 0) -> WorkerStatus:
        return WorkerStatus.objects.create(
            kind="bot",
            host="box",
            pid=1000 + seconds_ago,
            last_seen=timezone.now() - timedelta(seconds=seconds_ago),
            details=details,
        )

    def test_it_reports_each_networks_connection_from_the_heartbeat(self, staff_client, network):
        state = {"name": "libera", "connected": True, "nick": "infobot_", "last_error": None}
        self.beat({"networks": {"libera": {**state, "lag": 0.25, "channels": ["#python"]}}})
        status = staff_client.get(reverse("botadmin:status")).json()
        assert status["running"] is True
        assert status["networks"]["libera"]["nick"] == "infobot_"
        assert status["networks"]["libera"]["lag"] == 0.25
        page = staff_client.get(reverse("botadmin:admin-home")).content.decode()
        assert "infobot_" in page and "0.250 s" in page

    def test_a_silent_worker_reports_nothing(self, staff_client, network):
        self.beat({"networks": {"libera": {"connected": True}}}, seconds_ago=600)
        assert staff_client.get(reverse("botadmin:status")).json() == {
            "running": False,
            "networks": {},
        }


class TestPlugins:
    def url(self, plugin: Plugin, query: str = "") -> str:
        return reverse("botadmin:plugin-settings", args=[plugin.name]) + query

    def test_every_plugin_is_listed_with_its_description(self, staff_client, plugin):
        body = staff_client.get(reverse("botadmin:plugin-list")).content.decode()
        assert "weather" in body and "Answers weather questions." in body

    def test_the_form_has_a_field_per_declared_setting(self, staff_client, plugin):
        form = staff_client.get(self.url(plugin)).context["form"]
        assert list(form.fields) == [
            "enabled",
            "setting_units",
            "setting_max_days",
            "setting_threshold",
            "setting_verbose",
            "setting_cities",
        ]

    def test_valid_settings_are_saved_typed_and_applied(self, staff_client, plugin, rings):
        response = staff_client.post(
            self.url(plugin),
            {
                "enabled": "on",
                "setting_units": "imperial",
                "setting_max_days": "5",
                "setting_threshold": "0.75",
                "setting_verbose": "true",
                "setting_cities": "Paris\n\nOslo\n",
            },
        )
        assert response.status_code == 302
        setting = PluginSetting.objects.get(plugin="weather", network=None, channel=None)
        assert setting.enabled
        assert setting.config == {
            "units": "imperial",
            "max_days": 5,
            "threshold": 0.75,
            "verbose": True,
            "cities": ["Paris", "Oslo"],
        }
        assert rings == [(BOT_GROUP, "bot.reload", {})]

    def test_structured_settings_survive_an_unchanged_save(self, staff_client):
        # The relay's pairs of channels and zone news' channels per zone are data, not words.
        relay = Plugin.objects.create(name="relay", settings_schema=[
            {"name": "links", "type": "list", "default": [], "help": ""},
            {"name": "zones", "type": "dict", "default": {}, "help": ""},
        ])  # fmt: skip
        config = {
            "links": [["libera/#dev", "oftc/#project-dev"]],
            "zones": {"example.org.": ["a/#ops"]},
        }
        PluginSetting.objects.create(plugin="relay", config=config)
        form = staff_client.get(self.url(relay)).context["form"]
        shown = {name: form[name].value() for name in ("setting_links", "setting_zones")}
        response = staff_client.post(self.url(relay), {"enabled": "on", **shown}, follow=True)
        assert PluginSetting.objects.get(plugin="relay").config == config
        assert '[["libera/#dev", "oftc/#project-dev"]]' in response.content.decode().replace(
            "&quot;", '"'
        )

    def test_defaults_are_shown_as_data_not_python(self, staff_client, plugin):
        body = staff_client.get(self.url(plugin)).content.decode()
        assert "default: no)" in body and "default: [])" in body
        assert "False" not in body and "&#x27;&#x27;" not in body

    def test_a_list_that_is_not_json_is_an_inline_error(self, staff_client, plugin, rings):
        response = staff_client.post(self.url(plugin), {"setting_cities": '["Paris", '})
        assert "Not a JSON list" in response.content.decode()
        assert not PluginSetting.objects.exists() and rings == []

    def test_invalid_values_show_errors_and_save_nothing(self, staff_client, plugin, rings):
        response = staff_client.post(
            self.url(plugin),
            {"setting_max_days": "many", "setting_threshold": "x", "setting_verbose": "maybe"},
        )
        assert response.status_code == 200
        assert set(response.context["form"].errors) == {
            "setting_max_days",
            "setting_threshold",
            "setting_verbose",
        }
        assert not PluginSetting.objects.exists() and rings == []

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"setting_timeout": "-1"}, "greater than or equal to 0.1"),
            ({"setting_server": "not a server:xx"}, "has no valid port"),
        ],
    )
    def test_declared_ranges_and_checks_hold_in_the_form(
        self, staff_client, rings, fields, message
    ):
        from botadmin import bridge

        bridge.register_plugins(bridge.discover_plugins())
        url = reverse("botadmin:plugin-settings", args=["dig"])
        response = staff_client.post(url, {"enabled": "on", **fields})
        assert message in response.content.decode()
        assert not PluginSetting.objects.exists() and rings == []

    def test_a_channel_scope_stores_only_what_it_overrides(self, staff_client, plugin, channel):
        staff_client.post(self.url(plugin, f"?channel={channel.pk}"), {"setting_units": "kelvin"})
        setting = PluginSetting.objects.get(plugin="weather", channel=channel)
        assert setting.network == channel.network
        assert not setting.enabled  # the unchecked box disables it in this channel
        assert setting.config == {"units": "kelvin"}

    def test_a_network_scope_is_edited_in_place(self, staff_client, plugin, network):
        url = self.url(plugin, f"?network={network.pk}")
        staff_client.post(url, {"enabled": "on", "setting_max_days": "2"})
        staff_client.post(url, {"enabled": "on", "setting_max_days": "4"})
        setting = PluginSetting.objects.get(plugin="weather", network=network, channel=None)
        assert setting.config == {"max_days": 4}
        form = staff_client.get(url).context["form"]
        assert form["setting_max_days"].value() == 4

    def test_resetting_a_scope_makes_it_inherit(self, staff_client, plugin, network, rings):
        PluginSetting.objects.create(plugin="weather", network=network, enabled=False)
        url = reverse("botadmin:plugin-reset", args=["weather"]) + f"?network={network.pk}"
        staff_client.post(url)
        assert not PluginSetting.objects.exists() and len(rings) == 1

    def test_an_unknown_scope_is_a_404(self, staff_client, plugin):
        assert staff_client.get(self.url(plugin, "?network=999")).status_code == 404
        assert staff_client.get(self.url(plugin, "?channel=abc")).status_code == 404


class TestSay:
    def test_it_queues_the_line_and_rings_the_bot(self, staff_client, channel, rings):
        url = reverse("botadmin:channel-say", args=[channel.pk])
        response = staff_client.post(url, {"text": "  hello, channel  "})
        assert response.status_code == 302
        message = OutboundMessage.objects.get()
        assert (message.network, message.channel, message.text) == (
            channel.network,
            "#python",
            "hello, channel",
        )
        assert message.requested_by == staff_client.user and message.sent is None
        assert rings == [(BOT_GROUP, "irc.say", {"id": message.pk})]

    def said(self, staff_client, channel) -> str:
        url = reverse("botadmin:channel-say", args=[channel.pk])
        return staff_client.post(url, {"text": "hello"}, follow=True).content.decode()

    def test_it_says_the_line_is_asked_for_when_the_bot_is_connected(
        self, staff_client, channel, rings
    ):
        TestStatus().beat({"networks": {"libera": {"connected": True}}})
        assert "Asked the bot to say that in #python." in self.said(staff_client, channel)

    @pytest.mark.parametrize("state", [None, {"connected": False}])
    def test_it_says_the_line_waits_when_the_bot_is_not_connected(
        self, staff_client, channel, rings, state
    ):
        TestStatus().beat({"networks": {"libera": state} if state else {}})
        page = self.said(staff_client, channel)
        assert "Queued: the bot is not connected to libera right now" in page
        assert "if it connects within 5 minutes" in page and "Asked the bot" not in page
        assert OutboundMessage.objects.get().sent is None and len(rings) == 1

    @pytest.mark.parametrize("text", ["", "   ", "two\r\nlines", "x" * 2001])
    def test_a_bad_line_is_refused_inline(self, staff_client, channel, rings, text):
        response = staff_client.post(
            reverse("botadmin:channel-say", args=[channel.pk]), {"text": text}
        )
        assert response.status_code == 400
        assert response.context["say_form"].errors
        assert not OutboundMessage.objects.exists() and rings == []

    def test_users_cannot_make_the_bot_talk(self, user_client, channel, rings):
        response = user_client.post(
            reverse("botadmin:channel-say", args=[channel.pk]), {"text": "hi"}
        )
        assert response.status_code == 403
        assert not OutboundMessage.objects.exists()


class TestRedactions:
    def test_staff_redact_a_nick(self, staff_client, network):
        response = staff_client.post(
            reverse("botadmin:redactions"),
            {"network": network.pk, "display_nick": "Grace", "reason": "asked"},
        )
        assert response.status_code == 302
        assert RedactedNick.objects.get().nick == "grace"

    def test_a_nick_is_redacted_once(self, staff_client, network):
        RedactedNick.objects.create(network=network, nick="grace", display_nick="grace")
        response = staff_client.post(
            reverse("botadmin:redactions"), {"network": network.pk, "display_nick": "GRACE"}
        )
        assert "already redacted" in response.content.decode()
        assert RedactedNick.objects.count() == 1

    def test_staff_lift_a_redaction(self, staff_client, network):
        redaction = RedactedNick.objects.create(network=network, nick="g", display_nick="g")
        staff_client.post(reverse("botadmin:redaction-delete", args=[redaction.pk]))
        assert not RedactedNick.objects.exists()


def test_the_menu_links_the_logs_and_the_bot(staff_client):
    body = staff_client.get(reverse("dashboard")).content.decode()
    assert 'href="/logs/"' in body and 'href="/bot/"' in body


def test_the_dashboard_panel_lists_only_channels_the_user_may_read(user_client, network):
    Channel.objects.create(network=network, name="#open")
    Channel.objects.create(network=network, name="#hidden", public=False)
    body = user_client.get(reverse("dashboard")).content.decode()
    assert "IRC logs" in body and "#open" in body
    assert "#hidden" not in body
