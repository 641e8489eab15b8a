"""The parent's DS, as the parent's own servers answer (BIND's checkds): BIND 9 serves the
parent zone org. on loopback as the zone's parental agent, and the child's DS is added and
removed there with nsupdate. The clock is injected, as in the other DNSSEC tests."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.resolver
import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from dnsadmin import dnssec
from dnsadmin.models import SigningKey, ZoneSigning
from dnsadmin.names import checkds
from tests.names.zones import NAMED_CONF, Bind
from tests.services import free_port

pytestmark = pytest.mark.integration
ORIGIN = "example.org."
MINUTE = datetime.timedelta(minutes=1)
PARENT = """\
$TTL 60
@        IN SOA ns1 hostmaster 1 3600 600 86400 60
         IN NS  ns1
ns1      IN A   127.0.0.1
example  IN NS  ns.elsewhere.test.
"""
ZONE_CONF = 'zone "org" { type primary; file "org"; allow-update { 127.0.0.1; }; };'


class ParentBind(Bind):
    """BIND serving org., the parent of example.org., open to updates from loopback."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, {"org.": PARENT})

    def start(self) -> None:
        (self.directory / "org").write_text(PARENT)
        conf = self.directory / "named.conf"
        text = NAMED_CONF.format(directory=self.directory, port=self.port, zones=ZONE_CONF)
        conf.write_text(text)
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                ["named", "-g", "-n", "1", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_until_answering()

    def publish(self, ds_lines: list[str]) -> None:
        """Make these (``ds`` command lines) the only DS records for example.org."""
        adds = [f"update add {ORIGIN} 60 {line.split(' ', 1)[1]}" for line in ds_lines]
        script = [f"server 127.0.0.1 {self.port}", "zone org", f"update delete {ORIGIN} DS"]
        script += [*adds, "send", ""]
        done = subprocess.run(
            ["nsupdate", "-t", "5"], input="\n".join(script), capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    @property
    def agent(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParentBind]:
    server = ParentBind(Path(tmp_path_factory.mktemp("parent")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def parent(bind: ParentBind) -> Iterator[ParentBind]:
    """The parent, without a DS for example.org. at the start of each test."""
    bind.publish([])
    yield bind


@pytest.fixture
def signed(zone, parent):
    """example.org. signed now, BIND as its parental agent."""
    start = timezone.now()
    dnssec.enable(zone, now=start)
    dnssec.set_parental_agents(zone, parent.agent)
    zone.start = start
    return zone


def parent_words(zone, now=None) -> str:
    return dnssec.status(zone, now)["parent"]["words"]


def test_the_ksk_rollover_retires_the_old_key_once_the_new_ds_is_at_the_parent(signed, parent):
    start = signed.start
    assert parent_words(signed) == "signed, not yet secure: waiting for the DS at the parent"
    assert dnssec.check_parent(signed, start).startswith("No DS at any of the parent's 1 servers")
    assert parent_words(signed).startswith("signed, not yet secure")
    parent.publish(dnssec.ds_lines(signed, start))
    said = dnssec.check_parent(signed, start + MINUTE)
    old = SigningKey.objects.get(role="ksk")
    assert f"DS of KSK {old.tag} at 1 of 1 parent servers" in said
    assert f"DS of KSK {old.tag} confirmed" in said
    assert parent_words(signed) == "secure: DS published at parent"

    rolled = start + 2 * MINUTE
    dnssec.rollover(signed, "ksk", now=rolled)
    new = SigningKey.objects.filter(role="ksk").exclude(pk=old.pk).get()
    waiting = f"KSK rollover: waiting for the DS of KSK {new.tag} at the parent"
    assert parent_words(signed, rolled) == waiting
    said = dnssec.check_parent(signed, rolled + 10 * MINUTE)
    assert f"DS of KSK {new.tag} at 0 of 1 parent servers" in said
    old.refresh_from_db()
    assert old.retired is None and dnssec.status(signed, rolled)["waiting_for_ds"] == [new.tag]

    new_ds = [line for line in dnssec.ds_lines(signed, rolled) if f" DS {new.tag} " in line]
    parent.publish(new_ds)
    seen = rolled + 20 * MINUTE
    assert dnssec.check_due_parents(seen) == [ORIGIN]  # as the worker's maintenance does
    old.refresh_from_db()
    assert old.retired is not None and old.retired > seen  # the old DS leaves caches first
    assert SigningKey.objects.get(pk=new.pk).ds_seen == seen
    assert parent_words(signed, seen) == "secure: DS published at parent"
    assert old.tag not in {k.tag for k in dnssec.signing_plan(ORIGIN, old.removed).keys}


def test_disable_keeps_signing_while_the_ds_is_at_the_parent_then_goes(signed, parent, capsys):
    start = signed.start
    parent.publish(dnssec.ds_lines(signed, start))
    dnssec.check_parent(signed, start)
    call_command("dnssec", "disable", ORIGIN)
    out, err = capsys.readouterr()
    assert "at 1 of 1 parent servers" in out
    assert "Warning: a DS for example.org. may still be published at the parent" in err
    assert parent_words(signed) == "going insecure: waiting for the DS to go from the parent"
    later = timezone.now() + 10 * MINUTE
    assert dnssec.check_due_parents(later) == [ORIGIN]
    assert dnssec.maintain(signed, later + datetime.timedelta(days=30)) == []
    assert dnssec.signing_plan(ORIGIN, later) is not None  # still signed, still validatable

    parent.publish([])
    gone = later + 10 * MINUTE
    assert dnssec.check_due_parents(gone) == [ORIGIN]
    until = ZoneSigning.objects.get().unsigning_until
    # The DS had a TTL of 60 s at the parent: it leaves caches after that and the margins.
    assert until == gone + datetime.timedelta(seconds=60) + dnssec.PROPAGATION + dnssec.SAFETY
    assert parent_words(signed).startswith("going insecure: the DS is gone from the parent")
    assert dnssec.maintain(signed, until - MINUTE) == []
    assert dnssec.maintain(signed, until) == ["went insecure"]
    assert dnssec.signing_plan(ORIGIN, until) is None and not SigningKey.objects.exists()


def test_an_unreachable_parent_server_holds_everything_and_the_status_says_why(
    signed, parent, capsys
):
    silent = f"127.0.0.1:{free_port()}"  # nothing listens there
    dnssec.set_parental_agents(signed, f"{parent.agent}, {silent}")
    parent.publish(dnssec.ds_lines(signed, signed.start))  # at the one server that answers
    call_command("dnssec", "checkds", ORIGIN)
    out = capsys.readouterr().out
    assert f"Could not ask the parent ({silent}: no answer (timed out))" in out
    assert "signed, not yet secure: waiting for the DS at the parent" in out
    assert SigningKey.objects.get(role="ksk").ds_seen is None

    dnssec.disable(signed)
    dnssec.check_parent(signed)
    assert ZoneSigning.objects.get().unsigning_until is None
    far = timezone.now() + datetime.timedelta(days=30)
    assert dnssec.maintain(signed, far) == []
    call_command("dnssec", "status", ORIGIN)
    out = capsys.readouterr().out
    assert "Parent: going insecure: waiting for the DS to go from the parent" in out
    assert "nothing advances until it answers" in out


def test_bad_parental_agents_are_refused_and_change_nothing(signed, parent):
    with pytest.raises(dnssec.DnssecError, match="not an IP address"):
        dnssec.set_parental_agents(signed, "127.0.0.1 parent.example.")
    assert ZoneSigning.objects.get().parental_agents == parent.agent


def test_a_ds_set_too_large_for_udp_comes_over_tcp(parent):
    ours = f"{ORIGIN} IN DS 12345 13 4 " + "ab" * 48
    others = [f"{ORIGIN} IN DS {tag} 13 4 " + "cd" * 48 for tag in range(1, 10)]
    parent.publish([ours, *others])
    answer = checkds.ask(ORIGIN, parent.agent)
    assert answer.error == "" and len(answer.ds) == 10 and answer.ttl == 60


def test_the_parents_servers_are_found_through_a_resolver(parent):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], parent.port
    assert checkds.parent_servers(ORIGIN, resolver) == ["127.0.0.1"]


def test_the_panel_sets_the_agents_asks_the_parent_and_says_where_the_zone_stands(
    staff_client, zone, parent
):
    def post(**data) -> str:
        url = reverse("dnsadmin:dnssec-action", args=[zone.pk])
        return staff_client.post(url, data, follow=True).content.decode()

    post(action="enable")
    assert "Parent: signed, not yet secure: waiting for the DS at the parent." in post(
        action="parental-agents", agents="nonsense"
    )
    assert "is not an IP address" in post(action="parental-agents", agents="nonsense")
    assert f'value="{parent.agent}"' in post(action="parental-agents", agents=parent.agent)
    parent.publish(dnssec.ds_lines(zone))
    page = post(action="checkds")
    assert "Parent: secure: DS published at parent." in page
    assert "DS of KSK" in page and "at 1 of 1 parent servers" in page


async def test_the_workers_maintenance_asks_the_parent_off_the_event_loop(
    transactional_db, zone, parent, monkeypatch
):
    enable = database_sync_to_async(dnssec.enable)
    await enable(zone)
    await database_sync_to_async(dnssec.set_parental_agents)(zone, parent.agent)
    ds = await database_sync_to_async(dnssec.ds_lines)(zone)
    await asyncio.to_thread(parent.publish, ds)
    monkeypatch.setattr(dnssec, "_next_round", [0.0])  # a worker's first round
    await dnssec.maintain_now_and_then()
    deadline = time.monotonic() + 30  # the check runs in the background: poll for its result
    ksk = await SigningKey.objects.aget(role="ksk")
    while ksk.ds_seen is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        ksk = await SigningKey.objects.aget(role="ksk")
    assert ksk.ds_seen is not None
    signing = await ZoneSigning.objects.aget()
    assert f"DS of KSK {ksk.tag} at 1 of 1 parent servers" in signing.parent_report
