"""Coroutines stepped without an asyncio Task: the server's resolutions of cache misses.

A Task and the future it awaits cost a resolution 3.5 µs, made and finished by the
hundred thousand (the Task added to the loop's weak set of tasks, its first step and its
wakeup each a handle for the event loop to run), a Run and its Waiter 1.5 µs: under a
forwarded storm past what the server can take, a tenth more of it is answered (bench/storm,
20,000 q/s). A Run takes its first step at once, and a reply awaited over UDP
(``upstream.Sockets``, a ``Waiter``) resumes it straight from the read of its socket; a
future it awaits otherwise (a shared resolution's, a semaphore's) resumes it from the
future's done callback, as a Task would.

Code a Run steps has no current task of its own (asyncio.current_task() is None, or the
Task that stepped it inline): what needs one (asyncio.timeout and timeout_at, wait_for from
Python 3.12, dnspython's queries when sniffio is installed) goes through ``in_task``, a Task
of its own; ``current`` tells code which Run steps it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

current: Run | None = None  # the Run stepping now, as asyncio.current_task() tells a Task's


class Run:
    """A coroutine stepped as what it awaits comes: a Waiter, a future, or a bare yield
    (asyncio.sleep(0)). An exception it ends with is logged, as the loop logs a Task's."""

    __slots__ = ("_coroutine", "_awaited", "_finished", "done")

    def __init__(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self._coroutine = coroutine
        self._awaited: object = None  # what the coroutine waits on, the one to resume it
        self._finished: asyncio.Future | None = None  # made when asked (finished())
        self.done = False

    def step(self, error: BaseException | None = None) -> None:
        """Run the coroutine up to what it awaits next, or to its end; error: thrown in."""
        global current
        if self.done:
            return
        outer, current = current, self
        self._awaited = None
        try:
            coroutine = self._coroutine
            awaited = coroutine.send(None) if error is None else coroutine.throw(error)
        except (StopIteration, asyncio.CancelledError):
            self._end()
        except BaseException as failure:
            self._end()  # first: logging may fail too (a RecursionError)
            if isinstance(failure, (KeyboardInterrupt, SystemExit)):
                raise
            log.exception("a resolution failed")
        else:
            self._wait_on(awaited)
        finally:
            current = outer

    def cancel(self) -> None:
        """End the coroutine with CancelledError where it waits, as Task.cancel() does: a
        future it awaits is cancelled, and raises it when the coroutine steps on (whose
        owner, a semaphore, sees it was not handed a slot); else it is thrown in now."""
        awaited = self._awaited
        if type(awaited) is not Waiter and getattr(awaited, "cancel", None) and awaited.cancel():
            return
        self.step(asyncio.CancelledError())

    def finished(self) -> asyncio.Future:
        """Return a future done once the coroutine has ended (for a server stopping)."""
        if self._finished is None:
            self._finished = asyncio.get_running_loop().create_future()
            if self.done:
                self._finished.set_result(None)
        return self._finished

    def _wait_on(self, awaited: object) -> None:
        self._awaited = awaited
        if type(awaited) is Waiter:
            return  # it steps this Run when it has its outcome
        if getattr(awaited, "_asyncio_future_blocking", None):
            awaited._asyncio_future_blocking = False  # (as a Task takes it: see Future.__await__)
            awaited.add_done_callback(self._wake)
        elif awaited is None:  # a bare yield: step again in the next turn of the loop
            asyncio.get_running_loop().call_soon(self._wake, None)
        else:
            self._awaited = None
            bad = RuntimeError(f"a resolution awaited what is not a future: {awaited!r}")
            asyncio.get_running_loop().call_soon(self.step, bad)

    def _wake(self, awaited: object) -> None:
        """Step on once what the coroutine waits on is done (not what it waited on before
        a cancel)."""
        if awaited is self._awaited:
            self.step()

    def _end(self) -> None:
        self.done = True
        self._awaited = None
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(None)


async def in_task(coroutine: Coroutine[Any, Any, T]) -> T:
    """Return what coroutine returns, run in a Task of its own when a Run steps this code:
    for what needs a current task (the rare paths: a wait for a free upstream slot, a
    retry over TCP). Cancelling the Run cancels the Task, as a Task's would."""
    if current is None:
        return await coroutine
    return await asyncio.get_running_loop().create_task(coroutine)


class Waiter:
    """What a coroutine stepped by a Run awaits for its outcome: handed one (the methods of
    a Future that upstream.Sockets uses), it steps the Run at once."""

    __slots__ = ("run", "_result", "_error", "_done")

    def __init__(self, run: Run) -> None:
        self.run = run
        self._result: object = None
        self._error: BaseException | None = None
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: object) -> None:
        self._settle(result, None)

    def set_exception(self, error: BaseException) -> None:
        self._settle(None, error)

    def cancel(self) -> bool:
        """Mark the outcome as no longer awaited (the coroutine left without it), without
        stepping the Run; tell whether it was still awaited (as Future.cancel)."""
        if self._done:
            return False
        self._error, self._done = asyncio.CancelledError(), True
        return True

    def _settle(self, result: object, error: BaseException | None) -> None:
        if self._done:
            raise asyncio.InvalidStateError("the outcome was handed already")
        self._result, self._error, self._done = result, error, True
        if self.run._awaited is self:
            self.run.step()

    def __await__(self):
        if not self._done:
            yield self
        if self._error is not None:
            raise self._error
        return self._result
