"""Two runbot shards over two real ngircd networks: each network served once, taken over."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
from asgiref.sync import sync_to_async

from botadmin import leases
from botadmin.models import Channel, Network, NetworkLease
from tests.conftest import ROOT, clean_environment
from tests.infobot.conftest import Human, Ngircd

pytestmark = pytest.mark.integration


@pytest.fixture
def networks(tmp_path, transactional_db):
    servers = {}
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        server = servers[name] = Ngircd(tmp_path / name)
        server.start()
        network = Network.objects.create(
            name=name, host="127.0.0.1", port=server.port, tls=False, nick="shardbot"
        )
        Channel.objects.create(network=network, name="#test")
    yield servers
    for server in servers.values():
        server.stop()


def start_shard(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "runbot"],
        cwd=ROOT,
        env=clean_environment({**env, "BOT_LEASE_SECONDS": "3"}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def bots_in(server: Ngircd, nick: str = "shardbot") -> list[str]:
    """The bot connections on one network, as a human sees them in #test."""
    human = await Human(f"watcher{server.port % 1000}").connect(server.port)
    try:
        await human.send("NAMES #test")
        names = (await human.expect(" 353 ")).split(":", 2)[-1].replace("@", "").split()
        return [name for name in names if name.startswith(nick)]
    except TimeoutError:
        return []
    finally:
        await human.close()


async def eventually(check, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.5)


def holders() -> dict[str, str]:
    return dict(NetworkLease.objects.values_list("network__name", "holder"))


async def test_two_shards_serve_each_network_once_and_take_over_a_dead_one(networks, worker_env):
    shards = [start_shard(worker_env), start_shard(worker_env)]
    try:

        async def each_network_has_one_bot() -> bool:
            counts = [len(await bots_in(server)) for server in networks.values()]
            return counts == [1, 1]

        await eventually(each_network_has_one_bot, 30)
        held = await sync_to_async(holders)()
        pids = {int(holder.rsplit(":", 1)[1]) for holder in held.values()}
        victim = next(shard for shard in shards if shard.pid in pids)
        victim.send_signal(signal.SIGKILL)  # no clean stop: its leases must lapse
        victim.wait()
        survivor = next(shard for shard in shards if shard is not victim)

        async def survivor_holds_both() -> bool:
            held = await sync_to_async(holders)()
            return {h.rsplit(":", 1)[1] for h in held.values()} == {str(survivor.pid)}

        await eventually(survivor_holds_both, 20)
        await eventually(each_network_has_one_bot, 30)
    finally:
        for shard in shards:
            if shard.poll() is None:
                shard.send_signal(signal.SIGTERM)
                shard.wait(timeout=20)


def test_a_lease_is_held_by_one_shard_until_it_lapses(transactional_db):
    Network.objects.create(name="one", host="127.0.0.1")
    assert leases.claim(["one"], "a:1", 60) == {"one"}
    assert leases.claim(["one"], "b:2", 60) == set()
    assert leases.claim(["one"], "a:1", 60) == {"one"}  # renewed by its holder
    leases.release("a:1")
    assert leases.claim(["one"], "b:2", 60) == {"one"}
