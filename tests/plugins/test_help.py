from botadmin.infobot import PluginSetting
from botadmin.plugins.help import Help
from botadmin.plugins.seen import Seen


async def test_it_lists_the_commands_enabled_here(network_factory):
    settings = [PluginSetting("seen", enabled=False, channel="#priv", network="testnet")]
    net = await network_factory([Help, Seen], settings)
    assert await net.say("ann", "#pub", "!help") == [
        "PRIVMSG #pub :Commands: help, seen. Try: help COMMAND"
    ]
    assert await net.say("ann", "#priv", "!help") == [
        "PRIVMSG #priv :Commands: help. Try: help COMMAND"
    ]


async def test_it_explains_a_command_from_its_docstring(network_factory):
    net = await network_factory([Help, Seen])
    [reply] = await net.say("ann", "#pub", "!help !seen")
    assert reply == "PRIVMSG #pub :seen NICK: when and where NICK last spoke, and what they said."
    assert await net.say("ann", "#pub", "!help nope") == ["PRIVMSG #pub :No such command: nope"]
