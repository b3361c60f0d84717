"""Coalesced point reads: concurrent lookups by id become one statement.

DuckDB's cost is per statement, not per row: on 100,000 projects a lookup by
primary key takes about 0.7 ms, and one statement for sixteen ids about 2.5 ms.
So under concurrent load the way to serve more ``get_by_id`` calls is to make
fewer statements.

Each query has a lane (the live projects, the projects including deleted ones,
...). A call that finds its lane idle runs its own one-id statement at once: no
timer, no added wait. Calls that arrive while that statement runs queue. When
it returns, the first of them is woken to *lead*: it runs one statement for the
ids of everyone queued at that moment and hands each caller its row. Calls that
arrive meanwhile queue for the statement after, and so on: batches grow with
the load and vanish without it, as in a database's group commit.

One statement per lane at a time, not one per core: with 16 tasks on two
cores, one at a time served 4,100 gets/s (batches of 7 on average), two at a
time 3,800 and three 3,000 (smaller batches, more statements).

What a caller can count on:

* The statement that serves a caller starts after the caller queued, so it sees
  every write committed before the call (a caller's own committed write too).
* Each caller gets the row of its own id, or None; the same id twice is fine.
* A caller cancelled or timed out while queued just leaves the queue. A leader
  whose statement fails or is cancelled gives the batch back to the queue,
  whose next caller leads it again: nobody receives an error, or a
  cancellation, that was not its own.

Everything here runs on the event loop; the statements run where the callables
the caller passes run them (a session's worker thread).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import anyio

from .stats import BatchCounter

__all__ = ["ReadCoalescer"]

T = TypeVar("T")


class _Reader(Generic[T]):
    """One queued call: its id, and what the statement that served it found."""

    __slots__ = ("event", "id", "lead", "queued_at", "result", "served")

    def __init__(self, id: int) -> None:
        self.id = id
        self.event = anyio.Event()
        self.queued_at = time.monotonic()
        self.served = False
        self.result: T | None = None
        #: Woken to run the next statement for everyone queued.
        self.lead = False


class _Lane:
    """The calls of one query: whether a statement runs, and who waits for the next."""

    __slots__ = ("busy", "queue")

    def __init__(self) -> None:
        self.busy = False
        self.queue: deque[_Reader[Any]] = deque()


class ReadCoalescer:
    """The lanes of one engine's point reads and their counters."""

    def __init__(self) -> None:
        self._lanes: dict[Hashable, _Lane] = {}
        self.counter = BatchCounter()

    async def read(
        self,
        lane_key: Hashable,
        id: int,
        *,
        one: Callable[[int], Awaitable[T | None]],
        many: Callable[[list[int]], Awaitable[Mapping[int, T]]],
        deadline: float | None,
        timed_out: Callable[[], BaseException],
    ) -> T | None:
        """The row of ``id`` (None when there is none), read by ``one(id)`` at
        once when the lane is idle, or by ``many(ids)`` together with the calls
        queued with it. ``deadline`` (anyio time) bounds the wait in the queue:
        past it the caller leaves and ``timed_out()`` is raised; a statement the
        caller runs has its own limit (the session's)."""
        lane = self._lanes.get(lane_key)
        if lane is None:
            lane = self._lanes[lane_key] = _Lane()
        if not lane.busy:
            lane.busy = True
            try:
                return await one(id)
            finally:
                self.counter.served(1)
                self._pass_on(lane)

        reader: _Reader[T] = _Reader(id)
        lane.queue.append(reader)
        try:
            # No cancel scope without a deadline: one costs about 10 us a call.
            if deadline is None:
                await reader.event.wait()
            else:
                with anyio.move_on_at(deadline):
                    await reader.event.wait()
        except BaseException:
            self._leave(lane, reader)
            raise
        if not reader.served and not reader.lead:
            # Only a passed deadline ends the wait with neither.
            self._leave(lane, reader)
            raise timed_out()
        self.counter.waited(time.monotonic() - reader.queued_at)
        if reader.served:
            return reader.result
        return await self._lead(lane, reader, one, many)

    async def _lead(
        self,
        lane: _Lane,
        leader: _Reader[T],
        one: Callable[[int], Awaitable[T | None]],
        many: Callable[[list[int]], Awaitable[Mapping[int, T]]],
    ) -> T | None:
        """Run one statement for the leader and everyone queued behind it."""
        batch = [leader, *lane.queue]
        lane.queue.clear()
        try:
            if len(batch) == 1:
                found: Mapping[int, T | None] = {leader.id: await one(leader.id)}
            else:
                found = await many(sorted({reader.id for reader in batch}))
        except BaseException:
            # Not the others' failure: they go back to the front of the queue
            # (in their order), and the first of them leads the batch again.
            lane.queue.extendleft(reversed(batch[1:]))
            raise
        finally:
            # The next statement starts before this one's callers are answered.
            self._pass_on(lane)
        self.counter.served(len(batch))
        for reader in batch[1:]:
            reader.result = found.get(reader.id)
            reader.served = True
            reader.event.set()
        return found.get(leader.id)

    def _pass_on(self, lane: _Lane) -> None:
        """The lane's statement is over: wake the first queued call to lead the
        next, or mark the lane idle."""
        if lane.queue:
            reader = lane.queue.popleft()
            reader.lead = True
            reader.event.set()
        else:
            lane.busy = False

    def _leave(self, lane: _Lane, reader: _Reader[Any]) -> None:
        """A queued caller gives up: out of the queue, or, if it had just been
        woken to lead, the lead goes to the next one."""
        if reader.served:
            return
        if reader.lead:
            reader.lead = False
            self._pass_on(lane)
        elif reader in lane.queue:
            lane.queue.remove(reader)
