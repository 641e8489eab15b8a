"""Zone news from the database: the change history read by cursor, and the bot announcing it."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db.models import F

from appliance.worker import run_worker, worker_scope
from botadmin import bridge
from botadmin.infobot import PluginSetting, Storage
from botadmin.infobot.zonefeed import ZoneChangeFeed, ZoneChangeNews
from botadmin.models import Channel, Network
from botadmin.models import PluginSetting as PluginSettingRow
from botadmin.plugins.zonenews import ZoneNews, summarize
from botadmin.worker import BotWorker
from botadmin.zonefeed import GAP_GRACE, UNRECORDED, DatabaseZoneChangeFeed, read_changes
from dnsadmin.changes import (
    RecordData,
    RRsetEdit,
    add_record,
    apply_changes,
    delete_zone,
    import_zone,
)
from dnsadmin.models import Zone, ZoneChange
from dnsadmin.zonefile import parse_zone_text
from tests.botadmin import test_runbot
from tests.botadmin.test_runbot import bot_is_in, joined
from tests.infobot.conftest import Human
from tests.plugins.fakenets import FakeNetworks

ZONE = """\
$ORIGIN example.org.
$TTL 3600
@    IN SOA ns1 hostmaster 2026010100 7200 900 1209600 300
     IN NS  ns1
ns1  IN A   192.0.2.53
old  IN CNAME ns1
"""
WWW_AND_OLD = [RRsetEdit("www", "A", (RecordData("192.0.2.7"),)), RRsetEdit("old", "CNAME", ())]
ZONES = {"zones": {"example.org": ["A/#ops"]}, "interval": 3600}


def load_zone() -> Zone:
    """Load example.org. with one change in its history, as a zone in use has.

    Feeds start after the latest history row; with none, ids used before (by other
    tests, or rolled back) would read as a gap still committing.
    """
    zone, _ = import_zone(parse_zone_text(ZONE))
    apply_changes(zone, [RRsetEdit("@", "TXT", (RecordData('"v=spf1 -all"'),))])
    return zone


def edit(zone: Zone) -> str:
    """Add www A, remove old CNAME; the news the issue asks for, with the new serial."""
    apply_changes(zone, WWW_AND_OLD)
    return f"example.org serial {zone.serial}: +www A 192.0.2.7, -old CNAME"


@pytest.mark.django_db
def test_an_edit_through_the_change_service_is_read_with_its_records():
    zone = load_zone()
    _, cursor = read_changes(None)
    expected = edit(zone)
    news, cursor = read_changes(cursor)
    assert [summarize(item, 5) for item in news] == [expected]
    assert read_changes(cursor) == ([], cursor)


@pytest.mark.django_db
def test_changes_before_the_first_cursor_are_not_read():
    zone = load_zone()
    edit(zone)
    news, cursor = read_changes(None)
    assert news == []
    assert read_changes(cursor) == ([], cursor)


def move_serial_outside_the_history(zone: Zone) -> int:
    """Bump the serial as nothing in the code does: a shell, a restored backup."""
    Zone.objects.filter(pk=zone.pk).update(serial=F("serial") + 1)
    zone.refresh_from_db()
    return zone.serial


@pytest.mark.django_db
def test_a_serial_moved_outside_the_history_is_read_without_details_once():
    zone = load_zone()
    _, cursor = read_changes(None)
    serial = move_serial_outside_the_history(zone)
    news, cursor = read_changes(cursor)
    assert news == [ZoneChangeNews("example.org.", serial, note=UNRECORDED)]
    assert read_changes(cursor)[0] == []


@pytest.mark.django_db
def test_a_changed_record_reads_as_one_removed_and_one_added():
    zone = load_zone()
    _, cursor = read_changes(None)
    apply_changes(zone, [RRsetEdit("ns1", "A", (RecordData("192.0.2.54"),))])
    (item,), _ = read_changes(cursor)
    assert summarize(item, 5) == (
        f"example.org serial {zone.serial}: +ns1 A 192.0.2.54, -ns1 A 192.0.2.53"
    )


@pytest.mark.django_db
def test_a_disabled_record_reads_as_removed_and_a_ttl_change_by_its_summary():
    zone = load_zone()
    _, cursor = read_changes(None)
    apply_changes(zone, [RRsetEdit("ns1", "A", (RecordData("192.0.2.53", enabled=False),))])
    disabled = zone.serial
    apply_changes(zone, [RRsetEdit("ns1", "A", (RecordData("192.0.2.53", ttl=60, enabled=False),))])
    news, _ = read_changes(cursor)
    assert [summarize(item, 5) for item in news] == [
        f"example.org serial {disabled}: -ns1 A",  # the whole RRset is out of service
        f"example.org serial {zone.serial}: Changed ns1 A",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("through_the_service", [True, False])
def test_a_deleted_zone_is_read_as_deleted_once(through_the_service):
    zone = load_zone()
    _, cursor = read_changes(None)
    delete_zone(zone, None) if through_the_service else zone.delete()
    news, after = read_changes(cursor)
    assert [summarize(item, 5) for item in news] == [
        f"example.org serial {zone.serial}: zone deleted"
    ]
    assert read_changes(after)[0] == []


@pytest.mark.django_db
def test_a_recent_gap_in_the_ids_holds_later_changes_back_until_it_is_old():
    zone = load_zone()
    _, cursor = read_changes(None)
    edit(zone)
    apply_changes(zone, [RRsetEdit("ftp", "A", (RecordData("192.0.2.9"),))])
    first, second = ZoneChange.objects.filter(pk__gt=cursor["change"]).order_by("pk")
    first.delete()  # as if its transaction were still committing (or rolled back)
    held, after = read_changes(cursor, now=second.created)
    assert (held, after["change"]) == ([], cursor["change"])
    news, after = read_changes(cursor, now=second.created + GAP_GRACE * 2)
    assert [item.serial for item in news] == [second.serial_after]
    assert after["change"] == second.pk


@pytest.fixture
async def db_nets(transactional_db):
    feed = DatabaseZoneChangeFeed()
    components = {ZoneChangeFeed: feed, Storage: bridge.DatabaseStorage()}
    nets = FakeNetworks({"A": ["#ops"]}, [ZoneNews], [PluginSetting("zonenews", config=ZONES)],
                        components)  # fmt: skip
    zone = await sync_to_async(load_zone)()
    await nets.start("A")
    yield nets, feed, zone
    await nets.stop()


async def test_each_edit_through_the_change_service_is_announced_with_its_records(db_nets):
    nets, feed, zone = db_nets
    expected = await sync_to_async(edit)(zone)
    await feed.ring()
    assert nets.links["A"].sent == [f"PRIVMSG #ops :{expected}"]
    await sync_to_async(add_record)(zone, "ftp", "A", "192.0.2.9")
    await feed.ring()
    await zone.arefresh_from_db()
    assert nets.texts("A")[1:] == [f"example.org serial {zone.serial}: +ftp A 192.0.2.9"]


async def test_a_serial_moved_outside_the_history_is_announced_without_details(db_nets):
    nets, feed, zone = db_nets
    serial = await sync_to_async(move_serial_outside_the_history)(zone)
    await feed.ring()
    assert nets.texts("A") == [f"example.org serial {serial}: {UNRECORDED}"]


# -- the bot worker: the zone.changed doorbell ------------------------------------------

ircd = test_runbot.ircd  # the same ngircd fixture


@pytest.fixture
async def bot_worker(ircd, transactional_db, settings, tmp_path):
    settings.VAR_DIR = str(tmp_path)
    network = await Network.objects.acreate(
        name="local", host="127.0.0.1", port=ircd.port, tls=False, nick="newsbot"
    )
    await Channel.objects.acreate(network=network, name="#ops")
    # Polling once an hour: only the zone.changed event can bring the news in time.
    config = {"zones": {"example.org.": ["local/#ops"]}, "interval": 3600}
    await PluginSettingRow.objects.acreate(plugin="zonenews", config=config)
    zone = await sync_to_async(load_zone)()
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(BotWorker, worker_scope("bot"), stop=stop))
    yield zone
    stop.set()
    await asyncio.wait_for(worker, 20)


@pytest.mark.integration
async def test_the_bot_worker_announces_an_edit_as_soon_as_the_zone_changed(ircd, bot_worker):
    human = await Human("oper").connect(ircd.port)
    try:
        await joined(human, "#ops")
        await bot_is_in(human, "#ops", "newsbot")
        expected = await sync_to_async(edit)(bot_worker)
        line = await human.expect("PRIVMSG #ops :", timeout=10)
        assert line.endswith(f":{expected}")
    finally:
        await human.close()
