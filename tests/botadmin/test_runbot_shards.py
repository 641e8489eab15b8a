"""Two runbot shards over two real ngircd networks: each network served once, taken over."""

from __future__ import annotations

import asyncio
import datetime
import signal
import socket
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.db import connections

from appliance.models import WorkerStatus
from botadmin import leases
from botadmin.models import Channel, Network, NetworkLease
from tests.appliance.test_pages import field, worker_row_html
from tests.botadmin.test_runbot import start_runbot
from tests.infobot.conftest import Human, Ngircd

pytestmark = pytest.mark.integration
LEASE = datetime.timedelta(seconds=3)  # BOT_LEASE_SECONDS: each round renews it, every 1 s


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
    return start_runbot({**env, "BOT_LEASE_SECONDS": str(LEASE.seconds)}, *networks)


async def bots_in(server: Ngircd, nick: str = "shardbot") -> list[str]:
    """List the bot connections on one network, as a human sees them in #test."""
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


def lease_expiry(network: str) -> datetime.datetime:
    return NetworkLease.objects.get(network__name=network).expires


async def renewals(network: str, rounds: int, after: datetime.datetime | None = None) -> None:
    """Wait for the holder of network's lease to renew it ``rounds`` times (a round each).

    With ``after``, count only the renewals made once that moment had passed (a claim
    at time t sets the lease to expire at t + BOT_LEASE_SECONDS).
    """
    seen: set[datetime.datetime] = set()

    async def renewed() -> bool:
        expires = await sync_to_async(lease_expiry)(network)
        if after is None or expires - LEASE > after:
            seen.add(expires)
        return len(seen) > rounds - (after is not None)

    await eventually(renewed, 30)


def holders() -> dict[str, str]:
    return dict(NetworkLease.objects.values_list("network__name", "holder"))


def holder_pids() -> dict[str, int]:
    """Map each network to the pid holding (or last holding) its lease."""
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
        # An unsharded runbot claims every network at start and at each round: two rounds
        # that renewed one show a --network shard that would wrongly take two.
        await renewals("one", 2)
        assert await sync_to_async(holder_pids)() == {"one": first.pid}
        assert await bot_counts(networks) == {"one": 1, "two": 0}

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
        # Two of the survivor's rounds after the lease lapsed, each free to take one.
        lapsed = await sync_to_async(lease_expiry)("one")
        await renewals("two", 2, after=lapsed)
        assert await sync_to_async(holder_pids)() == {"one": first.pid, "two": second.pid}
        await eventually(lambda: has_counts(networks, {"one": 0, "two": 1}), 30)
    finally:
        stop_shards(shards)


def shards_report(networks_by_pid: dict[int, str]) -> bool:
    """Tell whether each shard's heartbeat (every 5 s) shows exactly its network, connected."""
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
