"""Group commit: concurrent auto-commit writes share one transaction.

Every DuckDB commit of a file database writes and fsyncs its WAL, and every
statement is parsed and planned: a create of 100,000 projects costs 2.4-3.4 ms
alone, 1.8-2.1 ms inside a transaction with others. So writes that arrive
together are cheaper committed together.

The engine has one queue for its auto-commit writes (``create``, ``update``,
``append_message`` of every repository). A write that finds no other running
runs at once, alone, exactly as without group commit: no timer, no added wait.
Writes that arrive while one runs queue. When it is done, the first of them is
woken to *lead*: in one worker-thread trip on its own connection it opens a
transaction, runs the work of everyone queued at that moment, in arrival order,
and commits once. So the result equals the same calls made one by one in that
order (each sees the writes before it), and each caller gets its own result.

Each caller also gets its own error:

* A *refusal* (the library's own error: a stale version, a missing row or
  parent) is raised by the work before it writes anything, so the transaction
  goes on and only that caller gets the error. The library's groupable writes
  keep to this; ``tests/test_group_commit.py`` proves it.
* Any other failure (a DuckDB error aborts the transaction) rolls the group
  back; the group runs again without that write, and the write then runs
  alone, as it would have without group commit, and gets its own result.
  (Its own retries included: a write-write conflict with another transaction
  is retried there.) Rolled-back creates leave gaps in the ids, as any failed
  insert does.
* If the commit itself fails, every write of the group runs again alone.

Creates go further: ``MERGE_FROM`` or more creates of one entity next to each
other in a group are written by one statement (``create_<table>``, which
writes what ``create_<entity>`` writes for each, in the same order, ids and
audit entries numbered alike): 7.2 ms for eight projects where eight
statements take 15 ms. If that statement fails, the group runs again with a
statement per write, so a failure is still pinned on its own write.

Cancellation and timeouts: a caller that gives up while queued leaves the
queue. One whose write is in a running group is taken out of it, unless the
group is already committing its write (or running it alone); then the caller
waits for that to finish, as a cancelled call waits for its statement today.
A leader cancelled or timed out stops its trip (the transaction rolls back)
and the writes of the group not yet committed go back to the front of the
queue, whose next caller leads them again.
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

import anyio

from ..errors import ProjectArchitectDBError
from .runner import Row, StatementRunner
from .statements import Statement
from .stats import BatchCounter

__all__ = ["MERGE_FROM", "GroupCommit", "Mergeable"]

T = TypeVar("T")

#: Creates of one entity written by one statement when at least this many are
#: next to each other in a group. On 100,000 projects one create_projects
#: statement took 5.6 ms for one project, 6.3 ms for four and 7.2 ms for eight,
#: against 1.9 ms per create_project inside a transaction: it pays from three.
MERGE_FROM = 3


@dataclass(frozen=True, slots=True)
class Mergeable(Generic[T]):
    """How one write can share a statement with others of its kind in a group."""

    #: Takes ``rows``, a JSON array of the writes' ``values``, writes each as the
    #: write alone would, in array order, and returns each written row with its
    #: 1-based ``ordinal`` in the array.
    statement: Statement
    #: This write's parameters (JSON-encodable; datetimes as ISO text).
    values: Mapping[str, Any]
    #: The write's result from its row (None when nothing was written for it:
    #: then it raises the write's refusal).
    finish: Callable[[Row | None], T]


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a merged write")


class _State(enum.Enum):
    QUEUED = "queued"  # waiting in the engine's queue (changed on the event loop only)
    TAKEN = "taken"  # in a group that has not committed it yet: may still leave
    LOCKED = "locked"  # being committed, or run alone: its fate is the thread's
    SETTLED = "settled"  # done: ``ok`` and ``outcome`` hold its result or error
    DROPPED = "dropped"  # its caller gave up before it could commit


class _Write(Generic[T]):
    """One queued write. While in a group, its state changes under the group's lock."""

    __slots__ = (
        "abandoned",
        "event",
        "group",
        "lead",
        "merge",
        "ok",
        "outcome",
        "position",
        "queued_at",
        "state",
        "work",
    )

    def __init__(
        self, work: Callable[[StatementRunner], T], position: int, merge: Mergeable[T] | None
    ) -> None:
        self.work = work
        self.position = position
        self.merge = merge
        self.event = anyio.Event()
        self.queued_at = time.monotonic()
        self.state = _State.QUEUED
        self.lead = False
        self.abandoned = False
        self.group: _Group | None = None
        self.ok = False
        self.outcome: Any = None

    @property
    def settled(self) -> bool:
        return self.state is _State.SETTLED

    def result(self) -> T:
        if self.ok:
            return self.outcome  # type: ignore[no-any-return]
        raise self.outcome


class _Group:
    """The writes one leader runs in its worker thread, and how they ended."""

    def __init__(self, writes: list[_Write[Any]]) -> None:
        self.writes = writes
        self.lock = threading.Lock()
        #: Writes committed by the group's transaction, and writes run alone.
        self.committed = 0
        self.alone = 0
        #: Whether creates next to each other are merged (off once that failed).
        self.merging = True

    def run(self, runner: StatementRunner) -> None:
        """The worker-thread trip: never leaves a transaction open."""
        try:
            self._run(runner)
        except BaseException:
            with suppress(runner.driver.error):  # a closed connection has nothing open
                runner.rollback()
            raise

    def _run(self, runner: StatementRunner) -> None:
        pending = self._wanted(self.writes)
        alone: list[_Write[Any]] = []
        while pending:
            runner.begin()
            done: list[tuple[_Write[Any], bool, Any]] = []
            try:
                failed = self._execute(runner, pending, done)
            except _MergeFailed:
                # Run the group again with a statement per write, to find the culprit.
                runner.rollback()
                self.merging = False
                pending = self._wanted(pending)
                continue
            if failed is not None:
                runner.rollback()
                alone.append(failed)
                pending = self._wanted(w for w in pending if w is not failed)
                continue
            with self.lock:
                left = [w for w in pending if w.state is _State.DROPPED]
                if not left:
                    for write in pending:
                        write.state = _State.LOCKED
            if left:
                # A caller gave up after its work ran: commit nothing of it.
                runner.rollback()
                pending = self._wanted(pending)
                continue
            try:
                runner.commit()
            except runner.driver.error as error:
                if _ends_trip(runner, error):
                    raise
                runner.rollback()
                with self.lock:
                    for write in pending:
                        write.state = _State.TAKEN
                alone.extend(pending)
                break
            with self.lock:
                for write, ok, outcome in done:
                    _settle(write, ok, outcome)
            self.committed = len(done)
            break
        for write in sorted(alone, key=lambda w: w.position):
            self._run_alone(runner, write)

    def _execute(
        self,
        runner: StatementRunner,
        pending: list[_Write[Any]],
        done: list[tuple[_Write[Any], bool, Any]],
    ) -> _Write[Any] | None:
        """Run the writes in order inside the open transaction, appending each
        outcome to ``done``; the write that failed (the transaction must roll
        back), or None."""
        for step in self._steps(pending):
            outcomes: list[tuple[_Write[Any], Callable[[], Any]]]
            if len(step) > 1:
                outcomes = self._merged(runner, step)
            else:
                outcomes = [(step[0], partial(step[0].work, runner))]
            for write, outcome in outcomes:
                try:
                    done.append((write, True, outcome()))
                except ProjectArchitectDBError as refusal:
                    done.append((write, False, refusal))
                except Exception as error:
                    if _ends_trip(runner, error):
                        raise
                    return write
        return None

    def _steps(self, pending: list[_Write[Any]]) -> Iterator[list[_Write[Any]]]:
        """The writes in order: runs of ``MERGE_FROM`` or more mergeable writes
        of one statement together, every other write on its own."""
        run: list[_Write[Any]] = []
        statement: Statement | None = None
        for write in pending:
            merge = write.merge if self.merging else None
            if run and (merge is None or merge.statement is not statement):
                yield from _split(run)
                run = []
            if merge is None:
                yield [write]
            else:
                run.append(write)
                statement = merge.statement
        yield from _split(run)

    def _merged(
        self, runner: StatementRunner, step: list[_Write[Any]]
    ) -> list[tuple[_Write[Any], Callable[[], Any]]]:
        """One statement for the writes of ``step``; how to finish each."""
        merges = [write.merge for write in step if write.merge is not None]
        assert len(merges) == len(step)
        try:
            rows = runner.rows(
                merges[0].statement,
                rows=json.dumps([merge.values for merge in merges], default=_json_value),
            )
        except Exception as error:
            if _ends_trip(runner, error):
                raise
            raise _MergeFailed() from error
        written = {row.pop("ordinal"): row for row in rows}
        return [
            (write, partial(merge.finish, written.get(ordinal)))
            for ordinal, (write, merge) in enumerate(zip(step, merges, strict=True), start=1)
        ]

    def _run_alone(self, runner: StatementRunner, write: _Write[Any]) -> None:
        """Run one write as if group commit were off (its statements auto-commit)."""
        with self.lock:
            if write.state is _State.DROPPED:
                return
            write.state = _State.LOCKED
        try:
            ok, outcome = True, write.work(runner)
        except Exception as error:
            if _ends_trip(runner, error):
                raise
            ok, outcome = False, error
        with self.lock:
            _settle(write, ok, outcome)
        self.alone += 1

    def _wanted(self, writes: Iterable[_Write[Any]]) -> list[_Write[Any]]:
        """The writes still to run in the group (not dropped by their callers)."""
        with self.lock:
            return [w for w in writes if w.state is _State.TAKEN]


def _split(run: list[_Write[Any]]) -> list[list[_Write[Any]]]:
    """A run of mergeable writes as one step, or one step each when too short."""
    return [run] if len(run) >= MERGE_FROM else [[write] for write in run]


class _MergeFailed(Exception):
    """A merged statement failed: which of its writes is to blame is unknown."""


def _settle(write: _Write[Any], ok: bool, outcome: Any) -> None:
    write.ok, write.outcome, write.state = ok, outcome, _State.SETTLED


def _ends_trip(runner: StatementRunner, error: BaseException) -> bool:
    """Whether a failure ends the whole trip (the leader was cancelled or timed
    out, or its connection is gone) rather than one write."""
    return runner.cancelled or (
        isinstance(error, Exception) and runner.driver.is_connection_lost(error)
    )


class GroupCommit:
    """The queue of one engine's auto-commit writes and its counters."""

    def __init__(self) -> None:
        self._busy = False
        self._queue: deque[_Write[Any]] = deque()
        self._arrivals = 0
        self.counter = BatchCounter()

    async def write(
        self,
        work: Callable[[StatementRunner], T],
        *,
        alone: Callable[[Callable[[StatementRunner], T]], Awaitable[T]],
        group: Callable[[Callable[[StatementRunner], None]], Awaitable[None]],
        deadline: float | None,
        timed_out: Callable[[], BaseException],
        merge: Mergeable[T] | None = None,
    ) -> T:
        """``work``'s result: run by ``alone(work)`` at once when no write runs,
        or in a group with the writes queued with it, which a leader runs with
        ``group(trip)`` (both run their argument in a worker thread); ``merge``
        lets it share a statement with writes of its kind there.
        ``deadline`` (anyio time) bounds the wait: past it the caller gives up
        as described above and ``timed_out()`` is raised."""
        if not self._busy:
            self._busy = True
            try:
                return await alone(work)
            finally:
                self.counter.served(1)
                self._pass_on()

        self._arrivals += 1
        write: _Write[T] = _Write(work, self._arrivals, merge)
        self._queue.append(write)
        try:
            # No cancel scope without a deadline: one costs about 10 us a call.
            if deadline is None:
                await write.event.wait()
            else:
                with anyio.move_on_at(deadline):
                    await write.event.wait()
        except BaseException:
            await self._give_up(write)
            raise
        if not write.settled and not write.lead:
            # Only a passed deadline ends the wait with neither.
            await self._give_up(write)
            if not write.settled:
                raise timed_out()
            # Its group was committing it as the deadline passed: it stands.
        self.counter.waited(time.monotonic() - write.queued_at)
        if write.settled:
            return write.result()
        return await self._lead(write, alone, group)

    async def _lead(
        self,
        leader: _Write[T],
        alone: Callable[[Callable[[StatementRunner], T]], Awaitable[T]],
        group: Callable[[Callable[[StatementRunner], None]], Awaitable[None]],
    ) -> T:
        writes: list[_Write[Any]] = [leader, *self._queue]
        self._queue.clear()
        if len(writes) == 1:
            try:
                return await alone(leader.work)
            finally:
                self.counter.served(1)
                self._pass_on()

        batch = _Group(writes)
        for write in writes:
            write.group = batch
            write.state = _State.TAKEN
        try:
            await group(batch.run)
        except BaseException as error:
            self._after_abort(batch)
            if leader.settled and not isinstance(error, anyio.get_cancelled_exc_class()):
                # The trip failed after the leader's own write was settled
                # (committed with the group): that is its answer.
                return leader.result()
            raise
        finally:
            # The next group starts before this one's callers are answered.
            self._pass_on()
        self._count(batch)
        for write in writes[1:]:
            write.event.set()
        return leader.result()

    def _count(self, batch: _Group) -> None:
        if batch.committed:
            self.counter.served(batch.committed)
        for _ in range(batch.alone):
            self.counter.served(1)
        self.counter.retried += batch.alone

    def _after_abort(self, batch: _Group) -> None:
        """The leader's trip ended early: settled writes get their results; the
        rest were not committed and go back to the front of the queue (those
        whose callers gave up are dropped)."""
        self._count(batch)
        back: list[_Write[Any]] = []
        with batch.lock:
            for write in batch.writes[1:]:
                if write.state in (_State.TAKEN, _State.LOCKED):
                    if write.abandoned:
                        write.state = _State.DROPPED
                    else:
                        write.state = _State.QUEUED
                        write.group = None
                        back.append(write)
        self._queue.extendleft(reversed(back))
        for write in batch.writes[1:]:
            if write.state is not _State.QUEUED:
                write.event.set()

    async def _give_up(self, write: _Write[Any]) -> None:
        """The caller of ``write`` stops waiting (cancelled or timed out)."""
        if write.state is _State.QUEUED:
            if write.lead:
                write.lead = False
                self._pass_on()
            elif write in self._queue:
                self._queue.remove(write)
            write.state = _State.DROPPED
            return
        batch = write.group
        if batch is not None:
            with batch.lock:
                if write.state is _State.TAKEN:
                    write.state = _State.DROPPED
                    return
        if write.state is _State.LOCKED:
            # Its group is committing it: wait for the outcome, as a cancelled
            # call waits for its statement to stop.
            write.abandoned = True
            with anyio.CancelScope(shield=True):
                await write.event.wait()

    def _pass_on(self) -> None:
        """The running write is done: wake the first queued one to lead the
        next group, or mark the queue idle."""
        if self._queue:
            write = self._queue.popleft()
            write.lead = True
            write.event.set()
        else:
            self._busy = False
