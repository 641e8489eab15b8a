from datetime import UTC, datetime, timedelta

from botadmin.infobot import IgnoreEntry, PluginSetting
from botadmin.plugins.ignore import Ignore, glob_match
from botadmin.plugins.seen import Seen

from .conftest import OPERATOR

OPERATORS = [PluginSetting("ignore", config={"operators": ["boss!*@admin.example", "$a:chief"]})]


async def ignoring_net(network_factory):
    return await network_factory([Ignore, Seen], OPERATORS)


def test_masks_glob_with_star_and_question_mark_only_and_fold_case():
    assert glob_match("*!*@*.example", "Ann!a@host.example")
    assert glob_match("an?!*@*", "ANN!x@y")
    assert not glob_match("[a]!*@*", "a!x@y")
    assert glob_match("[a]!*@*", "{A}!x@y")


async def test_an_ignored_user_gets_no_answer_until_removed(network_factory):
    net = await ignoring_net(network_factory)
    assert await net.say(OPERATOR, "#pub", "!ignore add troll") == [
        "PRIVMSG #pub :Ignoring troll!*@* (network testnet)."
    ]
    assert await net.say("troll", "#pub", "!seen boss") == []
    assert await net.say("troll", "bot", "seen boss") == []
    await net.say(OPERATOR, "#pub", "!ignore remove troll")
    assert await net.say("troll", "#pub", "!seen boss") != []


async def test_only_operators_may_use_it(network_factory):
    net = await ignoring_net(network_factory)
    assert await net.say("mallory", "#pub", "!ignore add ann") == [
        "PRIVMSG #pub :Only operators may use ignore."
    ]
    assert await net.ignores.load() == []


async def test_an_operator_may_be_named_by_account(network_factory):
    net = await ignoring_net(network_factory)
    line = b"@account=chief :someone!s@anywhere PRIVMSG #pub :!ignore add ann"
    assert (await net.feed(line))[0].startswith("PRIVMSG #pub :Ignoring ann!*@*")


async def test_an_account_mask_ignores_that_account_whatever_the_nick(network_factory):
    net = await ignoring_net(network_factory)
    await net.say(OPERATOR, "#pub", "!ignore add $a:spammer global")
    assert await net.feed(b"@account=spammer :x!y@z PRIVMSG #pub :!seen boss") == []
    assert await net.feed(b"@account=other :x!y@z PRIVMSG #pub :!seen boss") != []


async def test_a_channel_scoped_ignore_applies_only_in_that_channel(network_factory):
    net = await ignoring_net(network_factory)
    await net.say(OPERATOR, "#pub", "!ignore add ann channel")
    assert await net.say("ann", "#pub", "!seen boss") == []
    assert await net.say("ann", "#priv", "!seen boss") != []


async def test_an_ignore_expires_after_its_duration(network_factory):
    net = await ignoring_net(network_factory)
    await net.say(OPERATOR, "#pub", "!ignore add ann 1h")
    [entry] = await net.ignores.load()
    assert entry.expires - datetime.now(UTC) > timedelta(minutes=59)
    plugin = net.host.loaded["ignore"]
    plugin.entries = [IgnoreEntry("ann!*@*", "testnet", expires=datetime.now(UTC))]
    assert await net.say("ann", "#pub", "!seen boss") != []
    await plugin.expire()
    assert plugin.entries == []


async def test_ignores_are_loaded_from_the_store_at_setup(network_factory):
    net = await ignoring_net(network_factory)
    await net.ignores.add(IgnoreEntry("ann!*@*", None))
    await net.host.stop()
    await net.host.apply(OPERATORS)
    assert await net.say("ann", "#pub", "!seen boss") == []


async def test_it_lists_the_ignores_of_this_network(network_factory):
    net = await ignoring_net(network_factory)
    await net.say(OPERATOR, "#pub", "!ignore add ann")
    await net.say(OPERATOR, "#pub", "!ignore add bob 2d global")
    [listing] = await net.say(OPERATOR, "#pub", "!ignore list")
    assert "ann!*@* (network testnet)" in listing
    assert "bob!*@* (everywhere, until " in listing


async def test_it_explains_its_usage_and_rejects_bad_options(network_factory):
    net = await ignoring_net(network_factory)
    assert "Usage" in (await net.say(OPERATOR, "#pub", "!ignore"))[0]
    assert (
        "Not a duration or scope: soon"
        in (await net.say(OPERATOR, "#pub", "!ignore add ann soon"))[0]
    )
