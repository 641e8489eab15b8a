"""Two runbot shards over two real ngircd networks: each network served once, taken over."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.db import connections

from appliance.models import WorkerStatus
from botadmin import leases
from botadmin.models import Channel, Network, NetworkLease
from tests.appliance.test_pages import field, worker_row_html
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


@pytest.fixture
async def db_thread():
    """Close the connection sync_to_async's thread opened, or PostgreSQL cannot drop the test db."""
    yield
    await sync_to_async(connections.close_all)()


def start_shard(env: dict[str, str], *networks: str) -> subprocess.Popen:
    """A runbot process; given networks, a shard that serves only those (--network each)."""
    options = [arg for name in networks for arg in ("--network", name)]
    return subprocess.Popen(
        [sys.executable, "manage.py", "runbot", *options],
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
        # End of NAMES comes whether or not #test exists (no 353 when nobody is in it).
        await human.expect(" 366 ")
        replies = [line for line in human.lines if " 353 " in line]
        names = " ".join(line.split(":", 2)[-1] for line in replies).replace("@", "").split()
        return [name for name in names if name.startswith(nick)]
    finally:
        await human.close()


async def eventually(check, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.5)


def holders() -> dict[str, str]:
    return dict(NetworkLease.objects.values_list("network__name", "holder"))


def holder_pids() -> dict[str, int]:
    """The pid holding (or last holding) each network's lease."""
    return {name: int(holder.rsplit(":", 1)[1]) for name, holder in holders().items()}


async def bot_counts(networks: dict[str, Ngircd]) -> dict[str, int]:
    return {name: len(await bots_in(server)) for name, server in networks.items()}


def stop_shards(shards: list[subprocess.Popen]) -> None:
    for shard in shards:
        if shard.poll() is None:
            shard.send_signal(signal.SIGTERM)
            shard.wait(timeout=20)


async def test_two_shards_serve_each_network_once_and_take_over_a_dead_one(
    networks, worker_env, db_thread
):
    shards = [start_shard(worker_env), start_shard(worker_env)]
    try:

        async def each_network_has_one_bot() -> bool:
            return await bot_counts(networks) == {"one": 1, "two": 1}

        await eventually(each_network_has_one_bot, 30)
        pids = set((await sync_to_async(holder_pids)()).values())
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
        stop_shards(shards)


async def test_a_shard_given_a_network_serves_only_it_even_when_the_other_is_free(
    networks, worker_env, user_client, db_thread
):
    first = start_shard(worker_env, "one")
    shards = [first]
    try:
        await eventually(lambda: has_counts(networks, {"one": 1, "two": 0}), 30)
        # An unsharded runbot claims and joins every network at start, so a few reconcile
        # rounds (2 s each) are ample for a --network shard to show it wrongly took two.
        await asyncio.sleep(5)
        assert await bot_counts(networks) == {"one": 1, "two": 0}
        assert await sync_to_async(holder_pids)() == {"one": first.pid}

        second = start_shard(worker_env, "two")
        shards.append(second)
        await eventually(lambda: has_counts(networks, {"one": 1, "two": 1}), 30)
        assert await sync_to_async(holder_pids)() == {"one": first.pid, "two": second.pid}
        await eventually(
            lambda: sync_to_async(shards_report)({first.pid: "one", second.pid: "two"}), 20
        )
        page = (await sync_to_async(user_client.get)("/")).content.decode()
        for shard, network in ((first, "one"), (second, "two")):
            row = worker_row_html(page, "bot", socket.gethostname(), shard.pid)
            assert field(row, "serving") == f"{network}: connected as shardbot"

        first.send_signal(signal.SIGKILL)  # its lease of one lapses after 3 s
        first.wait()
        await asyncio.sleep(3 + 2 * 2)  # the lease, then two of the survivor's rounds
        assert await bot_counts(networks) == {"one": 0, "two": 1}
        assert await sync_to_async(holder_pids)() == {"one": first.pid, "two": second.pid}
    finally:
        stop_shards(shards)


def shards_report(networks_by_pid: dict[int, str]) -> bool:
    """Each shard's heartbeat (every 5 s) shows exactly its network, connected."""
    reported = dict(WorkerStatus.objects.filter(kind="bot").values_list("pid", "details"))
    return all(
        set(reported.get(pid, {}).get("networks", {})) == {network}
        and reported[pid]["networks"][network]["connected"]
        for pid, network in networks_by_pid.items()
    )


async def has_counts(networks: dict[str, Ngircd], expected: dict[str, int]) -> bool:
    return await bot_counts(networks) == expected


@pytest.mark.django_db
def test_runbot_refuses_a_network_that_does_not_exist():
    Network.objects.create(name="one", host="127.0.0.1")
    with pytest.raises(CommandError, match="No such network: nowhere"):
        call_command("runbot", "--network", "one", "--network", "nowhere")


def test_a_lease_is_held_by_one_shard_until_it_lapses(transactional_db):
    Network.objects.create(name="one", host="127.0.0.1")
    assert leases.claim(["one"], "a:1", 60) == {"one"}
    assert leases.claim(["one"], "b:2", 60) == set()
    assert leases.claim(["one"], "a:1", 60) == {"one"}  # renewed by its holder
    leases.release("a:1")
    assert leases.claim(["one"], "b:2", 60) == {"one"}
