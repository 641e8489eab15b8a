"""manage.py bot: networks, channels and plugin settings from the command line."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from botadmin.models import Channel, Network, Plugin, PluginSetting

pytestmark = pytest.mark.django_db


def bot(*args: str) -> str:
    out = io.StringIO()
    call_command("bot", *args, stdout=out)
    return out.getvalue()


def test_networks_are_added_listed_and_removed():
    bot("network", "add", "libera", "irc.libera.chat", "--nick", "appbot")
    bot("network", "add", "local", "127.0.0.1", "--port", "6667", "--no-tls")
    network = Network.objects.get(name="local")
    assert (network.port, network.tls, network.nick) == (6667, False, "infobot")
    listing = bot("network", "list")
    assert "libera\tirc.libera.chat:6697\tappbot" in listing and "local" in listing
    bot("network", "remove", "libera")
    assert not Network.objects.filter(name="libera").exists()


def test_adding_a_network_again_updates_it():
    bot("network", "add", "local", "127.0.0.1")
    bot("network", "add", "local", "irc.example.org", "--port", "7000")
    assert Network.objects.get().host == "irc.example.org"


def test_bad_values_are_operator_errors():
    with pytest.raises(CommandError, match="nick"):
        bot("network", "add", "local", "127.0.0.1", "--nick", "9bad nick")
    with pytest.raises(CommandError, match="No such network"):
        bot("network", "remove", "nowhere")
    with pytest.raises(CommandError, match="No such network"):
        bot("channel", "add", "nowhere", "#x")


def test_channels_are_keyed_by_network():
    bot("network", "add", "one", "127.0.0.1")
    bot("network", "add", "two", "127.0.0.2")
    bot("channel", "add", "one", "#python")
    bot("channel", "add", "two", "#python", "--private")
    assert Channel.objects.filter(name="#python").count() == 2
    assert not Channel.objects.get(network__name="two").public
    bot("channel", "add", "one", "#PYTHON", "--key", "sekrit")  # same channel, IRC case rules
    assert Channel.objects.get(network__name="one").key == "sekrit"
    bot("channel", "remove", "one", "#python")
    assert list(Channel.objects.values_list("network__name", flat=True)) == ["two"]


def test_an_invalid_channel_name_is_refused():
    bot("network", "add", "one", "127.0.0.1")
    with pytest.raises(CommandError, match="channel name"):
        bot("channel", "add", "one", "python")


def test_plugins_are_enabled_disabled_and_configured_per_scope():
    Plugin.objects.create(name="dig", module="botadmin.plugins.dig")
    bot("network", "add", "one", "127.0.0.1")
    bot("channel", "add", "one", "#ops")
    bot("plugin", "disable", "dig")
    bot("plugin", "enable", "dig", "--network", "one", "--channel", "#ops")
    bot("plugin", "config", "dig", "--network", "one", '{"server": "127.0.0.1:5300"}')
    settings = {s.scope: (s.enabled, s.config) for s in PluginSetting.objects.all()}
    assert settings == {
        "global": (False, {}),
        "#ops on one": (True, {}),
        "one": (True, {"server": "127.0.0.1:5300"}),
    }
    assert "#ops on one: enabled" in bot("plugin", "list")


def test_plugin_config_must_be_a_json_object():
    Plugin.objects.create(name="dig", module="botadmin.plugins.dig")
    with pytest.raises(CommandError, match="JSON object"):
        bot("plugin", "config", "dig", "[1, 2]")
    with pytest.raises(CommandError, match="Not JSON"):
        bot("plugin", "config", "dig", "{oops")


def test_an_unknown_plugin_is_an_operator_error():
    with pytest.raises(CommandError, match="No plugin 'nope'"):
        bot("plugin", "enable", "nope")


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ('{"server": "not a server:xx"}', "server: 'not a server:xx' has no valid port"),
        ('{"server": "example:53"}', "not an IP address"),
        ('{"timeout": -1}', "timeout: at least 0.1, not -1"),
        ('{"timeout": "soon"}', "timeout: expected a number"),
    ],
)
def test_plugin_settings_are_checked_against_their_declared_type_and_range(config, problem):
    with pytest.raises(CommandError, match=re.escape(problem)):
        bot("plugin", "config", "dig", config)
    assert not PluginSetting.objects.exists()


def test_a_valid_plugin_setting_is_saved():
    bot("plugin", "config", "dig", '{"server": "127.0.0.1:5300", "timeout": 2}')
    assert PluginSetting.objects.get().config == {"server": "127.0.0.1:5300", "timeout": 2}


def test_built_in_plugins_are_known_before_the_bot_ever_started():
    assert not Plugin.objects.exists()
    bot("plugin", "enable", "seen")
    assert PluginSetting.objects.get(plugin="seen").enabled
    listed = bot("plugin", "list")
    assert "dig\t" in listed and "relay\t" in listed
