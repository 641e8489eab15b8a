"""Resolutions stepped without a Task (issue 16): a Run takes its first step at once, a
Waiter's outcome resumes it at once, a future's when the loop runs its callbacks, and
cancelling one ends it where it waits, as a Task's cancel would."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import dns.asyncquery
import dns.flags
import dns.message
import dns.name
import dns.rcode
import pytest

from dnsadmin.names import drive
from dnsadmin.names import server as server_module
from dnsadmin.names import upstream as upstream_module
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.server import DNSServer
from dnsadmin.names.upstream import Question, Slots, Sockets
from dnsadmin.names.zone import zone_from_text
from tests.names.hierarchy import EXAMPLE_ZONE
from tests.names.zones import serve


async def test_a_run_takes_its_first_step_at_once_and_a_waiters_outcome_resumes_it_at_once():
    seen = []

    async def resolution(waiter_box):
        seen.append(drive.current)
        waiter_box.append(drive.Waiter(drive.current))
        seen.append(await waiter_box[0])

    box: list[drive.Waiter] = []
    run = drive.Run(resolution(box))
    run.step()
    assert seen == [run] and not run.done and drive.current is None
    box[0].set_result("reply")
    assert seen == [run, "reply"] and run.done  # no turn of the loop in between
    assert run.finished().done()


async def test_a_waiters_error_is_raised_where_it_is_awaited():
    caught = []

    async def resolution(box):
        box.append(drive.Waiter(drive.current))
        try:
            await box[0]
        except TimeoutError as error:
            caught.append(error)

    box: list[drive.Waiter] = []
    run = drive.Run(resolution(box))
    run.step()
    box[0].set_exception(TimeoutError("no reply"))
    assert [str(error) for error in caught] == ["no reply"] and run.done
    with pytest.raises(asyncio.InvalidStateError):
        box[0].set_result("late")


async def test_a_future_awaited_resumes_the_run_when_the_loop_runs_its_callbacks():
    future = asyncio.get_running_loop().create_future()
    got = []

    async def resolution():
        got.append(await future)
        await asyncio.sleep(0)  # a bare yield: stepped again in the next turn
        got.append("after a turn")

    run = drive.Run(resolution())
    run.step()
    future.set_result(7)
    assert got == []
    await asyncio.wait_for(run.finished(), 1)
    assert got == [7, "after a turn"]


async def test_cancelling_a_run_waiting_for_a_waiter_ends_it_there_and_ignores_the_reply():
    ended = []

    async def resolution(box):
        box.append(drive.Waiter(drive.current))
        try:
            await box[0]
        finally:
            ended.append(drive.current)

    box: list[drive.Waiter] = []
    run = drive.Run(resolution(box))
    run.step()
    run.cancel()
    assert ended == [run] and run.done
    box[0].set_result("too late")  # steps nothing


async def test_cancelling_a_run_waiting_for_a_semaphore_gives_no_slot_away():
    semaphore = asyncio.Semaphore(1)
    await semaphore.acquire()

    async def resolution():
        await semaphore.acquire()

    run = drive.Run(resolution())
    run.step()
    run.cancel()  # as Task.cancel: the semaphore's future cancelled, raised a turn on
    await asyncio.wait_for(run.finished(), 1)
    semaphore.release()
    assert semaphore._value == 1  # the cancelled waiter took no slot, and added none


async def test_an_error_a_resolution_ends_with_is_logged_and_ends_it(caplog):
    async def resolution():
        raise LookupError("a bug")

    run = drive.Run(resolution())
    with caplog.at_level(logging.ERROR, logger="dnsadmin.names.drive"):
        run.step()
    assert run.done and "a resolution failed" in caplog.text and "a bug" in caplog.text


async def test_a_resolution_whose_error_cannot_be_logged_still_ends(monkeypatch):
    async def resolution():
        raise LookupError("a bug")

    def logging_fails(*args, **kwargs):
        raise RecursionError("no stack left to log with")

    monkeypatch.setattr(drive.log, "exception", logging_fails)
    run = drive.Run(resolution())
    with pytest.raises(RecursionError):
        run.step()
    assert run.done and drive.current is None


async def test_a_cache_miss_over_udp_is_resolved_without_a_task(monkeypatch):
    upstream = serve(ZoneCatalog([zone_from_text(EXAMPLE_ZONE, "example.test.")]))
    await upstream.start(["127.0.0.1"], 0)
    config = ChainConfig(forwarders=[f"127.0.0.1:{upstream.port}"], query_timeout=2.0)
    server = DNSServer(ResolverChain(ZoneCatalog(), config))
    await server.start(["127.0.0.1"], 0)
    loop = asyncio.get_running_loop()
    made = []
    create_task = loop.create_task

    def counted(coroutine, **kw):
        made.append(coroutine)
        return create_task(coroutine, **kw)

    try:
        monkeypatch.setattr(loop, "create_task", counted)
        for qname, rcode in (("www.example.test.", "NOERROR"), ("no.example.test.", "NXDOMAIN")):
            query = dns.message.make_query(qname, "A")
            response = await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=3)
            assert dns.rcode.to_text(response.rcode()) == rcode
        ours = [c for c in made if "names" in c.cr_code.co_filename]  # not the client's own
        assert ours == [] and not server._runs and server._resolving == 0
    finally:
        monkeypatch.undo()
        await server.stop()
        await server.chain.close()
        await upstream.stop()


class Listener:
    """A UDP listener whose every read gives one question the kept answers cannot answer."""

    size = 16

    def __init__(self, questions: int) -> None:
        self.left = questions

    def receive(self) -> list[tuple[bytes, tuple[str, int]]]:
        if not self.left:
            return []
        self.left -= 1
        return [(dns.message.make_query("a.example.", "A").to_wire(), ("127.0.0.1", 5300))]

    def fileno(self) -> int:
        return 3

    def send(self, replies: list) -> list[int]:
        return []


async def test_a_resolution_ending_in_its_first_step_starts_no_turn_within_its_turn(monkeypatch):
    # Each resolution ends at once (as one that fails does) and reads the sockets, which
    # hold another question for the backlog: no turn is taken within the turn that started
    # it (under a storm, they would nest as deep as the stack goes).
    server = DNSServer(ResolverChain(ZoneCatalog(), ChainConfig()))
    server._loop = asyncio.get_running_loop()
    listener = Listener(40)
    server._udp.append(listener)
    monkeypatch.setattr(server_module, "READ_EVERY", 0.0)  # every ending reads the sockets

    async def ended():
        return None  # (no answer to send)

    monkeypatch.setattr(server.chain, "at_once", lambda query, client: None)
    monkeypatch.setattr(server.chain, "resolve", lambda query, **kw: (ended(), "forwarder"))
    depth, deepest = 0, 0
    take_turn = server._take_turn

    def counted() -> None:
        nonlocal depth, deepest
        depth += 1
        deepest = max(deepest, depth)
        try:
            take_turn()
        finally:
            depth -= 1

    monkeypatch.setattr(server, "_take_turn", counted)
    server._on_udp_readable(listener)
    while server._backlog or server._waiting or server._runs:
        await asyncio.sleep(0)
    assert listener.left == 0 and server._resolving == 0
    assert deepest == 1


BIG_ZONE = """$TTL 300
@ IN SOA ns.big.test. hostmaster.big.test. 1 3600 900 604800 300
@ IN NS ns.big.test.
ns IN A 192.0.2.53
""" + "".join(f'txt IN TXT "{n:03d}{"x" * 60}"\n' for n in range(40))


async def forwarding_to(upstream_port: int) -> DNSServer:
    config = ChainConfig(forwarders=[f"127.0.0.1:{upstream_port}"], query_timeout=2.0)
    server = DNSServer(ResolverChain(ZoneCatalog(), config))
    await server.start(["127.0.0.1"], 0)
    return server


async def test_what_needs_a_task_under_a_run_gets_its_own(monkeypatch):
    # A reply truncated over UDP is asked again over TCP, and a miss finding every upstream
    # slot taken waits for one: both use what needs a current task (asyncio.timeout_at; from
    # Python 3.12 wait_for, dnspython's TCP timeouts), which a Run is not.
    upstream = serve(ZoneCatalog([zone_from_text(BIG_ZONE, "big.test.")]))
    await upstream.start(["127.0.0.1"], 0)
    server = await forwarding_to(upstream.port)
    server.chain.upstream.sockets.queries = Slots(1)
    seen = []
    tcp, hold = dns.asyncquery.tcp, upstream_module._hold

    async def tcp_seen(*args, **kwargs):
        seen.append(("tcp", asyncio.current_task(), drive.current))
        return await tcp(*args, **kwargs)

    async def hold_seen(*args):
        seen.append(("hold", asyncio.current_task(), drive.current))
        return await hold(*args)

    monkeypatch.setattr(dns.asyncquery, "tcp", tcp_seen)
    monkeypatch.setattr(upstream_module, "_hold", hold_seen)
    try:
        big = dns.message.make_query("txt.big.test.", "TXT", use_edns=0, payload=4096)
        names = [dns.message.make_query(f"h{n}.big.test.", "A") for n in range(6)]
        asked = [dns.asyncquery.udp(q, "127.0.0.1", port=server.port, timeout=5) for q in names]
        asked.append(dns.asyncquery.udp(big, "127.0.0.1", port=server.port, timeout=5))
        answers = await asyncio.gather(*asked)
        # (too big for UDP to the client too: it asks again over TCP, answered from the cache)
        answers.append(await tcp(big, "127.0.0.1", port=server.port, timeout=5))
    finally:
        await server.stop()
        await server.chain.close()
        await upstream.stop()
    assert [dns.rcode.to_text(a.rcode()) for a in answers] == ["NXDOMAIN"] * 6 + ["NOERROR"] * 2
    assert answers[-2].flags & dns.flags.TC
    assert sum(len(rrset) for rrset in answers[-1].answer) == 40
    assert {what for what, _, _ in seen} == {"tcp", "hold"}
    assert all(task is not None and run is None for _, task, run in seen)


async def test_a_query_whose_run_was_cancelled_before_it_went_out_is_not_sent():
    listening = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listening.bind(("127.0.0.1", 0))
    listening.setblocking(False)
    sockets = Sockets(8)
    question = Question.of(dns.name.from_text("a.test."), 1, recursion=True)
    run = drive.Run(sockets.udp(question, "127.0.0.1", listening.getsockname()[1], 2.0))
    try:
        run.step()  # its datagram waits for the end of the turn (_send_all)
        run.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        with pytest.raises(BlockingIOError):
            listening.recv(512)
        assert run.done
    finally:
        sockets.close()
        listening.close()


async def test_a_key_freed_by_a_reply_read_stays_with_the_query_that_takes_it_next(monkeypatch):
    # Two replies read in one batch free their queries' keys before either resolution
    # resumes; the first resumed asks again under the second's key (the same ID drawn): the
    # second, resuming after, must not take that new query's key away.
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 0))
    upstream.setblocking(False)
    port = upstream.getsockname()[1]
    drawn = [b"\0\1\0\0", b"\0\2\0\0", b"\0\2\0\0"]  # IDs 1, 2, then 2 again; one socket
    monkeypatch.setattr(upstream_module._random, "take", lambda count: drawn.pop(0))
    sockets = Sockets(8, size=1)
    question = Question.of(dns.name.from_text("a.test."), 1, recursion=True)
    answers = []

    async def asking_twice():
        await sockets.udp(question, "127.0.0.1", port, 1.0)
        answers.append(await sockets.udp(question, "127.0.0.1", port, 1.0))

    first = drive.Run(asking_twice())
    second = drive.Run(sockets.udp(question, "127.0.0.1", port, 1.0))

    async def answer(count: int) -> None:
        queries = []
        while len(queries) < count:
            await asyncio.sleep(0)
            with contextlib.suppress(BlockingIOError):
                queries.append(upstream.recvfrom(512))
        for data, client in queries:  # sent together: read in one batch
            reply = dns.message.make_response(dns.message.from_wire(data))
            upstream.sendto(reply.to_wire(), client)

    try:
        first.step()
        second.step()
        await answer(2)
        await answer(1)  # the first's second query, under the second's ID
        await asyncio.wait_for(first.finished(), 2)
    finally:
        sockets.close()
        upstream.close()
    assert len(answers) == 1 and sockets.dropped == 0
