from botadmin.infobot import PluginSetting
from botadmin.plugins.seen import Seen


async def test_it_says_when_where_and_what_a_nick_last_said(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "I like turtles")
    [reply] = await net.say("bob", "#pub", "!seen ann")
    assert reply.startswith("PRIVMSG #pub :ann was last seen in #pub ")
    assert reply.endswith("ago, saying: I like turtles")


async def test_it_answers_when_addressed_by_nick(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "hello")
    assert "hello" in (await net.say("bob", "#pub", "bot: seen ann"))[0]
    assert "hello" in (await net.say("bob", "#pub", "Bot, seen ANN"))[0]


async def test_it_answers_in_private_to_a_query(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "hello")
    [reply] = await net.say("bob", "bot", "seen ann")
    assert reply.startswith("PRIVMSG bob :ann was last seen in #pub")


async def test_it_shows_actions_as_actions(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "\x01ACTION dances\x01")
    assert (await net.say("bob", "#pub", "!seen ann"))[0].endswith("saying: * ann dances")


async def test_it_never_reveals_a_private_channel_or_its_text_elsewhere(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#priv", "the secret plan")
    [elsewhere] = await net.say("bob", "#pub", "!seen ann")
    assert "#priv" not in elsewhere and "secret" not in elsewhere
    assert elsewhere == "PRIVMSG #pub :I have not seen ann."
    [in_query] = await net.say("bob", "bot", "seen ann")
    assert "#priv" not in in_query and "secret" not in in_query
    [inside] = await net.say("bob", "#priv", "!seen ann")
    assert "the secret plan" in inside


async def test_it_may_say_a_private_sighting_happened_but_not_where(network_factory):
    settings = [PluginSetting("seen", config={"reveal_private": True})]
    net = await network_factory([Seen], settings)
    await net.say("ann", "#priv", "the secret plan")
    [reply] = await net.say("bob", "#pub", "!seen ann")
    assert "somewhere I cannot say" in reply
    assert "#priv" not in reply and "secret" not in reply


async def test_it_writes_sightings_to_the_store_in_batches(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "first")
    await net.say("ann", "#pub", "second")
    assert await net.seen.get("testnet", "ann") is None
    await net.host.loaded["seen"].flush()
    entry = await net.seen.get("testnet", "ANN")
    assert (entry.channel, entry.text, entry.public) == ("#pub", "second", True)


async def test_it_reads_sightings_back_from_the_store_after_a_reload(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "remember me")
    await net.host.stop()
    assert (await net.seen.get("testnet", "ann")).text == "remember me"
    await net.host.apply([])
    assert "remember me" in (await net.say("bob", "#pub", "!seen ann"))[0]


async def test_it_says_so_when_it_never_saw_the_nick(network_factory):
    net = await network_factory([Seen])
    assert await net.say("bob", "#pub", "!seen nobody") == ["PRIVMSG #pub :I have not seen nobody."]


async def test_a_private_last_line_does_not_hide_an_earlier_public_one(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "said in public")
    await net.host.loaded["seen"].flush()
    await net.say("ann", "#priv", "the secret plan")
    [reply] = await net.say("bob", "#pub", "!seen ann")
    assert "was last seen in #pub" in reply and reply.endswith("saying: said in public")
    await net.host.loaded["seen"].flush()  # and once both are stored
    [stored] = await net.say("bob", "#pub", "!seen ann")
    assert stored.endswith("saying: said in public") and "secret" not in stored
