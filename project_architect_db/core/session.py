"""Sessions: one pooled connection, lent to one task, with its transaction state.

A session runs each piece of work in a worker thread, one thread hop per call
(:meth:`Session.run_in_worker`). Its transaction state has two parts:

* ``_tx_wanted``: statements must run inside a transaction (a session from
  ``engine.transaction()``, or inside ``async with session.begin()``). The
  ``BEGIN`` is sent lazily, in the same thread hop as the first statement.
* ``_tx_open``: DuckDB has a transaction open on this connection right now.

Cancellation: a call cancelled before its thread starts never runs; one
cancelled while running gets ``interrupt()`` on its connection, repeated until
its thread is done, runs no further statement, and the session waits (shielded)
for the thread to finish and rolls back. If the caller had a transaction open,
that transaction is gone, so the session refuses further statements until the
caller rolls back or leaves the transaction block: it never silently starts a
new transaction in its place.

Dependencies run one way: the engine builds one :class:`SessionContext` (pool,
query observer, column cache, thread limiter, options) at connect and hands it
to every session it opens; this module never imports the engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import (
    AbstractAsyncContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
    suppress,
)
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio
import duckdb

from ..errors import DatabaseError, Stage, StatementTimeoutError
from .coalesce import ReadCoalescer
from .driver import DUCKDB, INTERRUPT_EVERY, Driver
from .group_commit import GroupCommit, Mergeable
from .observe import QueryObserver
from .pool import ConnectionPool, PooledConnection
from .runner import CallCancelled, ResultColumns, StatementRunner

__all__ = ["Session", "SessionContext", "SessionManager", "SessionSource"]

#: Statement timeouts (WARNING); the statements themselves log under ``.query``.
logger = logging.getLogger("project_architect_db.query")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What every session of one engine shares; the engine builds it once per
    connect and hands it to each session it opens."""

    pool: ConnectionPool
    #: Hears of every statement: per-query stats, the query log, the listeners.
    observer: QueryObserver
    #: Result column names per statement, read once per database.
    columns: ResultColumns
    #: Bounds the engine's worker threads to its connections.
    limiter: anyio.CapacityLimiter
    #: ``pool_pre_ping``: retry a checkout's first work on a fresh connection
    #: when the pooled one was closed under us.
    pre_ping: bool
    #: Coalesced point reads (None: ``coalesce_reads=False``).
    reads: ReadCoalescer | None = None
    #: Group commit of auto-commit writes (None: ``group_commit=False``).
    writes: GroupCommit | None = None
    #: The backend's exceptions, error translation and SQL (core/driver.py).
    driver: Driver = DUCKDB


class _WorkerCall:
    """Shared between the awaiting task and the worker thread of one call.

    ``lock`` guards ``cancelled``/``started``; the thread holds ``running`` from
    the moment it starts until it is done, so waiting for it is acquiring it.
    (Plain locks and attributes: two ``threading.Event`` per call cost more
    than everything else a call adds to its thread hop.)
    """

    __slots__ = (
        "cancelled",
        "in_transaction",
        "lock",
        "result",
        "running",
        "started",
        "succeeded",
        "timed_out",
    )

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = threading.Lock()
        self.cancelled = False
        self.timed_out = False
        self.started = False
        self.in_transaction = False
        self.succeeded = False
        self.result: Any = None

    def interrupt_until_done(self, interrupt: Callable[[], None]) -> None:
        """Block until the worker thread has finished (it has started), calling
        ``interrupt`` now and every ``INTERRUPT_EVERY`` seconds while it runs."""
        while self.running.locked():
            interrupt()
            if self.running.acquire(timeout=INTERRUPT_EVERY):
                self.running.release()
                return


class _ConnectionClosed(Exception):
    """The pooled connection was closed before the work ran a statement."""


class Session:
    """A unit of work on one pooled connection.

    Get one from ``engine.session()`` (each statement auto-commits) or
    ``engine.transaction()`` (everything commits on exit). A session belongs to
    one task: two calls on it at the same time raise an error.
    """

    def __init__(
        self,
        context: SessionContext,
        pooled: PooledConnection,
        *,
        transactional: bool = False,
        statement_timeout: float | None = None,
    ) -> None:
        self._context = context
        self._pooled: PooledConnection | None = pooled
        self._tx_wanted = transactional
        self._tx_open = False
        self._doomed: str | None = None
        self._busy = False
        self._fresh_checkout = True
        self._statement_timeout = statement_timeout

    # -- public API --------------------------------------------------------------

    @property
    def driver(self) -> Driver:
        """The backend this session talks to (``driver.name``: ``"duckdb"`` or
        ``"postgresql"``), for SQL composed around the named queries."""
        return self._context.driver

    @property
    def in_transaction(self) -> bool:
        """True inside ``engine.transaction()`` or ``session.begin()``."""
        return self._tx_wanted or self._tx_open

    async def execute(
        self, sql: str, parameters: dict[str, Any] | Sequence[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run one raw SQL statement; its rows as dicts (empty if it returns none).

        ``parameters`` binds ``$name`` (dict) or ``?`` (sequence) placeholders:
        pass values this way, never by formatting them into ``sql``.
        """
        bound: dict[str, Any] | list[Any] | None
        bound = (
            parameters if parameters is None or isinstance(parameters, dict) else list(parameters)
        )
        return await self.run_in_worker(lambda runner: runner.raw(sql, bound))

    async def commit(self) -> None:
        """Commit the open transaction, if any. In ``engine.transaction()`` or a
        ``begin()`` block, later statements start a new transaction."""
        self._raise_if_doomed()
        if self._tx_open:
            await self.run_in_worker(_commit, begin_pending=False)

    async def rollback(self) -> None:
        """Roll back the open transaction, if any."""
        self._doomed = None
        if self._tx_open:
            await self.run_in_worker(_rollback, begin_pending=False)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Session]:
        """A transaction inside an auto-commit session: commit on normal exit,
        roll back on an exception or cancellation."""
        if self._tx_wanted:
            raise DatabaseError(
                "this session is already in a transaction; the library has no nested "
                "transactions (DuckDB has no savepoints), so run the work in the outer one"
            )
        self._tx_wanted = True
        try:
            async with self._committing():
                yield self
        finally:
            self._tx_wanted = False
            self._doomed = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        context: SessionContext,
        *,
        transactional: bool = False,
        statement_timeout: float | None = None,
    ) -> AsyncIterator[Session]:
        """A session on a connection from ``context``'s pool, given back (rolled
        back if anything was left open) on exit; ``transactional``: one
        transaction, as ``begin()``. What ``engine.session()`` and
        ``engine.transaction()`` return; use those."""
        pooled = await context.pool.acquire()
        session = cls(
            context, pooled, transactional=transactional, statement_timeout=statement_timeout
        )
        try:
            if transactional:
                async with session._committing():
                    yield session
            else:
                yield session
        finally:
            if session._rollback_pending:
                with anyio.CancelScope(shield=True):
                    await session._finish()
            else:
                # Nothing to wait for: no shielded scope (one costs about 10 us,
                # a session per request pays it on every request).
                session._release()

    async def run_in_worker(
        self,
        work: Callable[[StatementRunner], T],
        *,
        entity: str | None = None,
        entity_id: int | None = None,
        begin_pending: bool = True,
    ) -> T:
        """Run ``work`` in a worker thread on this session's connection: one hop.

        This is how every repository method talks to DuckDB, and the way to make
        several statements of your own for the price of one hop: ``work``
        receives a :class:`StatementRunner` (exported from the package), whose
        ``raw(sql, parameters)`` runs caller-supplied SQL and ``atomic()`` groups
        statements in one transaction. Every statement belongs to this session
        (and its transaction); keep ``work`` quick and synchronous, and do not keep
        the runner beyond it. ``entity``/``entity_id`` name the row concerned,
        for error messages. DuckDB errors come back as the library's errors.
        """
        with self._in_use():
            return await self._run(work, entity, entity_id, begin_pending)

    async def read_by_id(
        self,
        lane: Hashable,
        id: int,
        one: Callable[[StatementRunner, int], T | None],
        many: Callable[[StatementRunner, list[int]], Mapping[int, T]],
        *,
        entity: str,
    ) -> T | None:
        """A point read that concurrent callers may share (``coalesce_reads``).

        ``one(runner, id)`` reads one id; ``many(runner, ids)`` reads several in
        one statement, keyed by id (missing ids absent). In an auto-commit
        session of an engine that coalesces reads, a call made while another
        call of the same ``lane`` (a hashable naming the query) runs waits and
        is served by one ``many`` statement with everyone else waiting
        (core/coalesce.py); otherwise ``one`` runs at once, as
        ``run_in_worker`` would. Inside a transaction it always runs ``one``:
        the transaction's own snapshot and writes must answer.
        """
        coalescer = self._context.reads
        if coalescer is None or self.in_transaction or not _is_bigint(id):
            # An id DuckDB cannot bind as BIGINT runs alone: exactly what it got before.
            return await self.run_in_worker(lambda db: one(db, id), entity=entity, entity_id=id)
        with self._in_use():
            return await coalescer.read(
                lane,
                id,
                fetch_one=one,
                fetch_many=many,
                run=lambda trip: self._run(trip, entity, id),
                deadline=self._deadline(),
                timed_out=lambda: self._timed_out(entity, id),
            )

    async def write_in_worker(
        self,
        work: Callable[[StatementRunner], T],
        *,
        entity: str,
        entity_id: int | None = None,
        merge: Mergeable[T] | None = None,
    ) -> T:
        """``run_in_worker`` for a write that concurrent callers may commit
        together (``group_commit``): in an auto-commit session, a write made
        while another runs waits and is committed with every write waiting, in
        one transaction, each keeping its own result and error
        (core/group_commit.py). ``work`` must raise the library's own errors
        only before it writes anything (a refusal); inside a transaction it
        runs as ``run_in_worker``. ``merge``: how the write can share one
        statement with writes of its kind in a group.
        """
        commit = self._context.writes
        if commit is None or self.in_transaction:
            return await self.run_in_worker(work, entity=entity, entity_id=entity_id)
        with self._in_use():
            try:
                return await commit.write(
                    work,
                    alone=lambda w: self._run(w, entity, entity_id),
                    group=lambda trip: self._run(trip, None, None),
                    deadline=self._deadline(),
                    timed_out=lambda: self._timed_out(entity, entity_id),
                    merge=merge,
                )
            except self._context.driver.error as exc:
                # This write's own failure, met in the trip of the group's leader.
                raise self._context.driver.translate(
                    exc, during=Stage.STATEMENT, entity=entity, entity_id=entity_id
                ) from exc

    # -- internals ---------------------------------------------------------------

    async def _run(
        self,
        work: Callable[[StatementRunner], T],
        entity: str | None,
        entity_id: int | None,
        begin_pending: bool = True,
    ) -> T:
        """One thread hop on this session's connection (checks already made)."""
        pooled = self._pooled
        if pooled is None:
            raise DatabaseError("this session has ended; open a new one from the engine")
        try:
            try:
                return await self._hop(pooled, work, begin_pending, entity, entity_id)
            except _ConnectionClosed:
                # pre-ping: the connection died while idle; nothing ran, so a fresh
                # connection can take the same work.
                await self._context.pool.replace(pooled)
                return await self._hop(pooled, work, begin_pending, entity, entity_id)
        finally:
            self._fresh_checkout = False

    def _deadline(self) -> float | None:
        """When a call starting now passes ``statement_timeout`` (anyio time)."""
        timeout = self._statement_timeout
        return None if timeout is None else anyio.current_time() + timeout

    def _timed_out(self, entity: str | None, entity_id: int | None) -> StatementTimeoutError:
        """The error of a call that passed ``statement_timeout`` (logged: one
        WARNING per call, whether a statement or a queue held it)."""
        operation = (
            f"{entity or 'the'} operation{'' if entity_id is None else f' on id {entity_id}'}"
        )
        logger.warning(
            "statement timeout: %s ran longer than statement_timeout=%gs; interrupted and "
            "rolled back",
            operation,
            self._statement_timeout,
            extra={"entity": entity, "entity_id": entity_id},
        )
        return StatementTimeoutError(
            f"{operation} ran longer than statement_timeout={self._statement_timeout:g}s and was "
            "interrupted; its changes were rolled back. Make the query cheaper or pass a "
            "larger statement_timeout to engine.session()/engine.transaction()"
        )

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        """Claim the session for one call: refused if it has ended, is doomed or
        is already running one (a session belongs to one task)."""
        self._usable()
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    def _usable(self) -> PooledConnection:
        if self._pooled is None:
            raise DatabaseError("this session has ended; open a new one from the engine")
        if self._busy:
            raise DatabaseError(
                "this session is already running a statement; a session belongs to one "
                "task, so give each concurrent task its own engine.session()"
            )
        self._raise_if_doomed()
        return self._pooled

    def _raise_if_doomed(self) -> None:
        if self._doomed is not None:
            raise DatabaseError(self._doomed)

    async def _hop(
        self,
        pooled: PooledConnection,
        work: Callable[[StatementRunner], T],
        begin_pending: bool,
        entity: str | None,
        entity_id: int | None,
    ) -> T:
        call = _WorkerCall()
        begin = begin_pending and self._tx_wanted and not self._tx_open
        in_transaction = self._tx_open
        context = self._context
        driver = context.driver
        can_retry = context.pre_ping and self._fresh_checkout and not in_transaction

        def in_thread() -> T:
            with call.lock:
                if call.cancelled:
                    raise CallCancelled()
                call.started = True
                call.running.acquire()
            runner = StatementRunner(
                pooled.connection, context.observer, context.columns, call, in_transaction, driver
            )
            try:
                if begin:
                    runner.begin()
                call.result = work(runner)
                call.succeeded = True
                return call.result  # type: ignore[no-any-return]
            except driver.error as exc:
                if can_retry and not runner.in_transaction and driver.is_connection_lost(exc):
                    raise _ConnectionClosed() from exc
                raise
            finally:
                call.in_transaction = runner.in_transaction
                call.running.release()

        timeout = self._statement_timeout
        # No cancel scope without a timeout: an idle one costs about 7 us a call.
        timer = (
            None if timeout is None else anyio.CancelScope(deadline=anyio.current_time() + timeout)
        )
        try:
            with timer or nullcontext():
                result = await anyio.to_thread.run_sync(
                    in_thread, abandon_on_cancel=True, limiter=context.limiter
                )
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._stop(pooled, call, "was cancelled")
            raise
        except driver.error as exc:
            self._tx_open = call.in_transaction
            # The one place a statement's driver error becomes the library's.
            during = Stage.CLOSED_ENGINE if self._context.pool.closed else Stage.STATEMENT
            error = driver.translate(exc, during=during, entity=entity, entity_id=entity_id)
            if self._tx_open:
                # DuckDB has aborted the transaction: a later COMMIT would quietly
                # roll back, so refuse to pretend anything can still commit.
                self._doomed = (
                    f"the transaction was aborted by a failed statement ({error}); roll it "
                    "back (leave the transaction block or call rollback()) before running "
                    "more statements"
                )
            raise error from exc
        except BaseException:
            self._tx_open = call.in_transaction
            raise
        if timer is not None and timer.cancelled_caught:
            # The deadline cancelled the hop (the caller was not cancelled).
            with anyio.CancelScope(shield=True):
                started = await self._halt(pooled, call, timed_out=True)
                if call.succeeded:
                    # It finished as the deadline passed: its work stands.
                    self._tx_open = call.in_transaction
                    return call.result  # type: ignore[no-any-return]
                if started:
                    await self._clean_up(pooled, call, "ran longer than statement_timeout")
            raise self._timed_out(entity, entity_id)
        self._tx_open = call.in_transaction
        return result

    async def _halt(
        self, pooled: PooledConnection, call: _WorkerCall, *, timed_out: bool = False
    ) -> bool:
        """Make a call stop as soon as it can and wait until it has; False if its
        thread never started (then it never will). ``timed_out``: the reason is
        ``statement_timeout`` (for the stats of the statement it interrupts)."""
        with call.lock:
            call.cancelled = True
            call.timed_out = timed_out
            started = call.started
        if not started:
            return False
        pool = self._context.pool
        # In a worker thread: a PostgreSQL cancel is a network round trip.
        await anyio.to_thread.run_sync(call.interrupt_until_done, lambda: pool.interrupt(pooled))
        return True

    async def _stop(self, pooled: PooledConnection, call: _WorkerCall, why: str) -> None:
        """Stop a call whose caller gave up on it and leave the connection clean."""
        if await self._halt(pooled, call):
            await self._clean_up(pooled, call, why)

    async def _clean_up(self, pooled: PooledConnection, call: _WorkerCall, why: str) -> None:
        """After a halted call: roll back, and doom the caller's transaction."""
        # Roll back whatever the flags say: the interrupt may have stopped a BEGIN
        # or a ROLLBACK halfway, leaving an aborted transaction open that the
        # runner does not know about (rolling back nothing is fine).
        await anyio.to_thread.run_sync(_quiet_rollback, pooled.connection)
        if call.in_transaction or self._tx_open:
            self._tx_open = False
            if self._tx_wanted:
                self._doomed = (
                    f"the transaction was rolled back because an operation in it {why}; "
                    "leave the transaction block (or call rollback()) before running more "
                    "statements"
                )

    @asynccontextmanager
    async def _committing(self) -> AsyncIterator[None]:
        """The end of every transaction block (``engine.transaction()``,
        ``begin()``): commit on normal exit, roll back on an exception or a
        cancellation (shielded, so the rollback itself is not cancelled)."""
        try:
            yield
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.rollback()
            raise
        await self.commit()

    @property
    def _rollback_pending(self) -> bool:
        """Ending the session must roll back a transaction (in a worker thread)."""
        return self._tx_open and self._pooled is not None and not self._context.pool.closed

    def _release(self) -> None:
        """Give the connection back (nothing is open on it)."""
        pooled, self._pooled = self._pooled, None
        if pooled is not None:
            self._tx_open = False
            self._context.pool.release(pooled)

    async def _finish(self) -> None:
        """Roll back anything left open and give the connection back."""
        pooled, self._pooled = self._pooled, None
        if pooled is None:
            return
        discard = False
        if self._tx_open and not self._context.pool.closed:
            try:
                await anyio.to_thread.run_sync(_quiet_rollback, pooled.connection)
            except self._context.driver.error:
                discard = True
        self._tx_open = False
        self._context.pool.release(pooled, discard=discard)


_BIGINT = range(-(2**63), 2**63)


def _is_bigint(id: object) -> bool:
    """An id DuckDB can bind as BIGINT (bool is an int, but not an id)."""
    return type(id) is int and id in _BIGINT


def _commit(runner: StatementRunner) -> None:
    runner.commit()


def _rollback(runner: StatementRunner) -> None:
    runner.rollback()


def _quiet_rollback(connection: Any) -> None:
    with suppress(duckdb.TransactionException):
        connection.rollback()


class SessionSource(Protocol):
    """What ``SessionManager`` needs: a ``DatabaseEngine`` is one."""

    def session(self) -> AbstractAsyncContextManager[Session]: ...

    def transaction(self) -> AbstractAsyncContextManager[Session]: ...


class SessionManager:
    """Sessions and transactions of one engine, plus running several operations
    in one transaction."""

    def __init__(self, engine: SessionSource) -> None:
        self._engine = engine

    def session(self) -> AbstractAsyncContextManager[Session]:
        """Same as ``engine.session()``."""
        return self._engine.session()

    def transaction(self) -> AbstractAsyncContextManager[Session]:
        """Same as ``engine.transaction()``."""
        return self._engine.transaction()

    async def execute_in_transaction(
        self, operations: Sequence[Callable[[Session], Awaitable[Any]]]
    ) -> list[Any]:
        """Run each operation (an async callable taking the session) in order, in
        one transaction; their results in order. Any failure rolls back all of
        them and re-raises."""
        results: list[Any] = []
        async with self._engine.transaction() as session:
            for operation in operations:
                results.append(await operation(session))
        return results
