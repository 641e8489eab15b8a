import importlib
import logging
import sys
import textwrap

import botadmin.plugins
from botadmin.infobot import (
    Discriminating,
    Incoming,
    Plugin,
    PluginSetting,
    Scheduler,
    Setting,
    Source,
    Storage,
    command,
    discover,
    every,
    on,
    rule,
)
from botadmin.infobot import host as host_module
from tests.infobot.fakeclock import FakeClock


class Echo(Plugin):
    """Repeats things."""

    settings = (Setting("suffix", str, "!", "Appended to the echo."),)

    @command("echo")
    async def echo(self, msg: Incoming, args: str) -> None:
        """echo TEXT: says TEXT back."""
        await msg.reply(args + self.config(msg.network, msg.channel)["suffix"])

    @rule(r"\bping me\b")
    async def pinged(self, msg: Incoming, match) -> None:
        await msg.reply(f"{msg.nick}: ping")


class Broken(Plugin):
    """Always fails."""

    @command("boom")
    async def boom(self, msg: Incoming, args: str) -> None:
        raise RuntimeError("kaboom")

    @rule(".")
    async def everything(self, msg: Incoming, match) -> None:
        raise RuntimeError("kaboom too")


class Lifecycle(Plugin):
    """Counts its setups, teardowns and ticks."""

    events: list[str] = []

    async def setup(self) -> None:
        self.events.append("setup")

    async def teardown(self) -> None:
        self.events.append("teardown")

    @every(0.02)
    async def tick(self) -> None:
        self.events.append("tick")


class Blocklist(Plugin):
    """Provides Discriminating: ignores anyone called eve."""

    provides = (Discriminating,)

    def is_ignored(self, source: Source) -> bool:
        return source.mask.startswith("eve!")


class Greeter(Plugin):
    """Greets with a word chosen once, at setup (as a plugin building a client would)."""

    settings = (Setting("word", str, "hello"),)

    async def setup(self) -> None:
        self.word = self.config(None)["word"]

    @command("greet")
    async def greet(self, msg: Incoming, args: str) -> None:
        """greet: says the word."""
        await msg.reply(self.word)


class Tuned(Greeter):
    """Applies new settings in place: configure instead of a reload."""

    calls: list[str] = []

    async def teardown(self) -> None:
        self.calls.append("teardown")

    async def configure(self) -> None:
        self.calls.append("configure")
        self.word = self.config(None)["word"]


class Watcher(Plugin):
    """Observes every message, as seen or relay do."""

    heard: list[str] = []

    @on("message", "join")
    async def hear(self, msg: Incoming) -> None:
        self.heard.append(f"{msg.nick} {msg.kind} {msg.text}")


class WatchingBlocklist(Blocklist):
    """Provides Discriminating and watches too: the ignorer sees what it ignores."""

    name = "watchingblocklist"
    heard: list[str] = []

    @on("message")
    async def hear(self, msg: Incoming) -> None:
        self.heard.append(msg.nick)


class Counter(Plugin):
    """Counts in Storage."""

    @command("count")
    async def count(self, msg: Incoming, args: str) -> None:
        """count: one more."""
        storage = self.context.component(Storage)
        stored = await storage.get(self.name, "n")
        n = (stored.value if stored else 0) + 1
        await storage.put(self.name, "n", n, stored.version if stored else 0)
        await msg.reply(str(n))


async def test_it_dispatches_commands_and_rules(network_factory):
    net = await network_factory([Echo])
    assert await net.say("ann", "#pub", "!echo hi") == ["PRIVMSG #pub :hi!"]
    assert await net.say("ann", "#pub", "please ping me now") == ["PRIVMSG #pub :ann: ping"]
    assert await net.say("ann", "#pub", "echo hi") == []


async def test_the_most_specific_setting_wins(network_factory):
    settings = [
        PluginSetting("echo", config={"suffix": "?"}),
        PluginSetting("echo", config={"suffix": "."}, network="testnet", channel="#priv"),
        PluginSetting("echo", enabled=False, network="other"),
    ]
    net = await network_factory([Echo], settings)
    assert await net.say("ann", "#pub", "!echo a") == ["PRIVMSG #pub :a?"]
    assert await net.say("ann", "#priv", "!echo a") == ["PRIVMSG #priv :a."]


async def test_a_plugin_can_be_disabled_in_one_channel(network_factory):
    settings = [PluginSetting("echo", enabled=False, network="testnet", channel="#priv")]
    net = await network_factory([Echo], settings)
    assert await net.say("ann", "#priv", "!echo a") == []
    assert await net.say("ann", "#pub", "!echo a") == ["PRIVMSG #pub :a!"]


async def test_a_raising_plugin_is_logged_and_the_others_go_on(network_factory, caplog):
    net = await network_factory([Broken, Echo])
    with caplog.at_level(logging.ERROR):
        assert await net.say("ann", "#pub", "!boom") == []
        assert await net.say("ann", "#pub", "!echo still here") == ["PRIVMSG #pub :still here!"]
    assert "kaboom" in caplog.text
    assert "Traceback" in caplog.text


async def test_a_flooding_user_is_told_once_then_ignored_for_a_while(network_factory):
    net = await network_factory([Echo], flood_commands=3, flood_window=10, flood_penalty=60)
    answers = [await net.say("ann", "#pub", f"!echo {i}") for i in range(6)]
    assert answers[:3] == [["PRIVMSG #pub :0!"], ["PRIVMSG #pub :1!"], ["PRIVMSG #pub :2!"]]
    assert answers[3] == ["NOTICE ann :You sent too many commands; ignoring you for 60 seconds."]
    assert answers[4:] == [[], []]
    assert await net.say("bob", "#pub", "!echo b") == ["PRIVMSG #pub :b!"]


async def test_the_host_consults_the_discriminating_component(network_factory):
    net = await network_factory([Echo, Blocklist])
    assert net.host.component(Discriminating) is net.host.loaded["blocklist"]
    assert await net.say("eve", "#pub", "!echo hi") == []
    assert await net.say("eve", "#pub", "ping me") == []
    assert await net.say("ann", "#pub", "!echo hi") == ["PRIVMSG #pub :hi!"]


async def test_ignored_users_reach_no_event_handler_but_the_ignorers(network_factory):
    net = await network_factory([Watcher, WatchingBlocklist])
    Watcher.heard, WatchingBlocklist.heard = [], []  # not the bot's own joins
    await net.say("eve", "#pub", "hello")
    await net.feed(b":eve!eve@eve.example JOIN #pub")
    await net.say("ann", "#pub", "hi")
    assert Watcher.heard == ["ann message hi"]
    assert WatchingBlocklist.heard == ["eve", "ann"]


async def test_a_changed_config_reaches_a_loaded_plugin_without_a_restart(network_factory):
    net = await network_factory([Greeter, Echo])
    echo = net.host.loaded["echo"]
    assert await net.say("ann", "#pub", "!greet") == ["PRIVMSG #pub :hello"]
    await net.host.apply([PluginSetting("greeter", config={"word": "ahoy"})])
    assert await net.say("ann", "#pub", "!greet") == ["PRIVMSG #pub :ahoy"]
    await net.host.apply(
        [PluginSetting("greeter", config={"word": "ahoy"}), PluginSetting("echo", enabled=True)]
    )
    assert net.host.loaded["echo"] is echo  # nothing of its config changed: left alone


async def test_a_plugin_with_a_configure_hook_is_configured_in_place(network_factory):
    Tuned.calls = []
    net = await network_factory([Tuned])
    tuned = net.host.loaded["tuned"]
    await net.host.apply([PluginSetting("tuned", config={"word": "moin"})])
    assert await net.say("ann", "#pub", "!greet") == ["PRIVMSG #pub :moin"]
    assert (net.host.loaded["tuned"], Tuned.calls) == (tuned, ["configure"])


async def test_reapplying_settings_unloads_and_reloads_plugins_and_cancels_their_jobs(
    network_factory,
):
    Lifecycle.events, clock = [], FakeClock()
    net = await network_factory([Lifecycle], clock=clock)
    await clock.advance(0.05)
    assert Lifecycle.events == ["setup", "tick", "tick"]
    await net.host.apply([PluginSetting("lifecycle", enabled=False)])
    assert Lifecycle.events[-1] == "teardown"
    await clock.advance(1)
    assert Lifecycle.events == ["setup", "tick", "tick", "teardown"]
    await net.host.apply([])
    assert Lifecycle.events[-1] == "setup"


async def test_a_plugin_gets_its_own_scheduler_as_a_component(network_factory):
    net = await network_factory([Echo, Counter])
    echo, counter = net.host.loaded["echo"], net.host.loaded["counter"]
    assert isinstance(echo.context.component(Scheduler), Scheduler)
    assert echo.context.component(Scheduler) is not counter.context.component(Scheduler)


async def test_storage_survives_a_plugin_reload(network_factory):
    net = await network_factory([Counter])
    assert await net.say("ann", "#pub", "!count") == ["PRIVMSG #pub :1"]
    await net.host.stop()
    await net.host.apply([])
    assert await net.say("ann", "#pub", "!count") == ["PRIVMSG #pub :2"]


def test_discovery_finds_the_builtin_plugins():
    names = {cls.name for cls in discover([botadmin.plugins])}
    assert {"seen", "ignore", "help", "dig"} <= names


def test_discovery_skips_a_module_that_fails_to_import(tmp_path, monkeypatch, caplog):
    package = tmp_path / "someplugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(
        textwrap.dedent('''
            from botadmin.infobot import Plugin
            class Good(Plugin):
                """Fine."""
        ''')
    )
    (package / "bad.py").write_text("raise ImportError('missing dependency')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.ERROR):
        found = discover([importlib.import_module("someplugins")], group="nothing.here")
    assert [cls.name for cls in found] == ["good"]
    assert "someplugins.bad failed to import" in caplog.text
    sys.modules.pop("someplugins", None)
    sys.modules.pop("someplugins.good", None)


def test_discovery_loads_entry_points_and_skips_broken_ones(monkeypatch, caplog):
    class EntryPoint:
        def __init__(self, name: str, target) -> None:
            self.name, self.target = name, target

        def load(self):
            if isinstance(self.target, Exception):
                raise self.target
            return self.target

    points = [EntryPoint("echo", Echo), EntryPoint("broken", ImportError("nope"))]
    monkeypatch.setattr(host_module, "entry_points", lambda group: points)
    with caplog.at_level(logging.ERROR):
        names = [cls.name for cls in discover([botadmin.plugins])]
    assert "echo" in names and "seen" in names
    assert "entry point broken failed to import" in caplog.text


def test_discovery_finds_a_plugin_an_installed_distribution_declares(tmp_path, monkeypatch):
    """A real (if tiny) installed distribution, found by importlib.metadata on sys.path."""
    (tmp_path / "tinyplugin.py").write_text(
        textwrap.dedent('''
            from botadmin.infobot import Plugin
            class Tiny(Plugin):
                """Installed from a distribution."""
        ''')
    )
    info = tmp_path / "appliance_tinyplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: appliance-tinyplugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[appliance.botplugins]\ntiny = tinyplugin:Tiny\nmissing = tinyplugin_gone:Nope\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tinyplugin", raising=False)
    try:
        found = {cls.name: cls for cls in discover([botadmin.plugins])}
    finally:
        sys.modules.pop("tinyplugin", None)
    assert found["tiny"].__module__ == "tinyplugin"
    assert found["tiny"].description() == "Installed from a distribution."
    assert "seen" in found and "missing" not in found


def test_a_plugin_describes_itself_for_the_web():
    assert Echo.name == "echo"
    assert Echo.description() == "Repeats things."
    assert Echo.settings[0] == Setting("suffix", str, "!", "Appended to the echo.")
    assert Echo.command_help() == {"echo": "echo TEXT: says TEXT back."}
