"""The connection pool.

Invariants (all pool state lives in this object and is changed only on the
event loop, never from a worker thread):

* One database: on DuckDB every pooled connection is a ``cursor()`` of the
  engine's root connection, so all of them see the same database, ``:memory:``
  included; on PostgreSQL each is its own connection to the server. The
  engine hands the pool a ``connect`` function that makes one, and says
  whether it is slow enough (a network round trip) to run in a worker thread.
* ``open_connections <= pool_size + max_overflow``. A connection is either idle
  (in ``_idle``), checked out (in ``_checked_out``) or being opened for a caller
  that already counted it in ``_open``.
* On release, a connection goes first to the longest-waiting task (first come,
  first served); with nobody waiting it is kept if at most ``pool_size``
  connections remain open, otherwise it is an overflow connection and is closed.
* A task cancelled or timed out while waiting leaves nothing behind: if a
  connection was handed to it in the meantime, that connection is passed on.
* ``release`` never awaits, so a cancelled caller cannot interrupt it halfway.
  The session makes a connection clean (rolled back) before releasing it.
* ``pool_recycle``: a connection older than that many seconds is replaced when
  it is next checked out. ``pool_pre_ping``: the first statement of a checkout
  that finds its connection closed makes the session replace the connection and
  run the work again (see ``Session``); detecting it costs nothing extra: the
  first statement fails before doing anything.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel

from ..errors import PoolClosedError, PoolTimeoutError
from .config import EngineConfig
from .driver import INTERRUPT_EVERY, Driver
from .stats import PoolStats

__all__ = ["ConnectionPool", "PooledConnection"]

logger = logging.getLogger("project_architect_db.pool")


@dataclass(eq=False, slots=True)
class PooledConnection:
    """One pool slot: a connection (DuckDB's, or postgres/connection.py's) and
    when it was opened."""

    connection: Any
    opened_at: float = field(default_factory=time.monotonic)


@dataclass(eq=False, slots=True)
class _Waiter:
    event: anyio.Event = field(default_factory=anyio.Event)
    connection: PooledConnection | None = None
    may_open: bool = False
    closed: bool = False


class ConnectionPool:
    """Hands out connections of one database to tasks, fairly and safely."""

    def __init__(
        self,
        connect: Callable[[], Any],
        config: EngineConfig,
        driver: Driver,
        *,
        connect_in_thread: bool = False,
    ) -> None:
        self._connect = connect
        self._connect_in_thread = connect_in_thread
        self._driver = driver
        self._config = config
        self._max = config.max_connections
        self._idle: list[PooledConnection] = []
        self._checked_out: set[PooledConnection] = set()
        self._waiters: deque[_Waiter] = deque()
        self._open = 0
        self._closed = False
        self._all_returned: anyio.Event | None = None
        self._total_acquisitions = 0
        self._acquisition_timeouts = 0

    def reset_counters(self) -> None:
        """Start ``total_acquisitions`` and ``acquisition_timeouts`` again from 0."""
        self._total_acquisitions = 0
        self._acquisition_timeouts = 0

    # -- the two doors -----------------------------------------------------------

    async def acquire(self) -> PooledConnection:
        """A connection for the caller's exclusive use until ``release``.

        Raises ``PoolTimeoutError`` after ``pool_timeout`` seconds of waiting and
        ``PoolClosedError`` once the pool is closing.
        """
        self._check_open()
        pooled: PooledConnection | None = None
        if not self._waiters:
            if self._idle:
                pooled = self._idle.pop()
            elif self._open < self._max:
                self._open += 1
                pooled = await self._open_connection()
        if pooled is None:
            pooled = await self._wait()
        pooled = await self._recycled(pooled)
        self._checked_out.add(pooled)
        self._total_acquisitions += 1
        return pooled

    def release(self, pooled: PooledConnection, *, discard: bool = False) -> None:
        """Give a connection back. ``discard=True`` closes it (it is broken)."""
        if pooled not in self._checked_out:
            return  # close() already closed it while the caller held it
        self._checked_out.remove(pooled)
        if discard or self._closed:
            self._close_connection(pooled)
        else:
            self._idle.append(pooled)
            self._serve_waiters()
            if len(self._idle) and self._open > self._config.pool_size and not self._waiters:
                # An overflow connection: close it rather than keep it idle.
                self._close_connection(self._idle.pop())
        if not self._checked_out and self._all_returned is not None:
            self._all_returned.set()

    async def replace(self, pooled: PooledConnection) -> None:
        """Swap a checked-out slot's dead connection for a fresh one, in place."""
        with contextlib.suppress(self._driver.error):
            pooled.connection.close()
        self._check_open()
        pooled.connection = await self._new_connection()
        pooled.opened_at = time.monotonic()

    # -- shutdown ----------------------------------------------------------------

    async def close(self, timeout: float | None = None) -> None:
        """Refuse new acquires, wait up to ``timeout`` seconds for checked-out
        connections to come back, interrupt the queries of those that do not,
        then close every connection and the database."""
        if self._closed:
            return
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            waiter.closed = True
            waiter.event.set()
        if self._checked_out:
            self._all_returned = anyio.Event()
            with anyio.move_on_after(timeout):
                await self._all_returned.wait()
            # Interrupted sessions roll back and release within moments; one
            # held idle by its caller is closed under it below. The interrupt is
            # repeated: one sent just before a statement starts is dropped.
            with anyio.move_on_after(1.0):
                while self._checked_out:
                    await anyio.to_thread.run_sync(self._interrupt_each, list(self._checked_out))
                    with anyio.move_on_after(INTERRUPT_EVERY):
                        await self._all_returned.wait()
        for pooled in [*self._idle, *self._checked_out]:
            self._close_connection(pooled)
        self._idle.clear()
        self._checked_out.clear()

    def interrupt(self, pooled: PooledConnection) -> None:
        """Ask ``pooled``'s connection to stop the statement it runs, if any. Call
        it from a worker thread: on PostgreSQL it is a network round trip."""
        # One closed under its call (see pool_pre_ping) runs nothing more.
        with contextlib.suppress(self._driver.error):
            pooled.connection.interrupt()

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> PoolStats:
        checked_out = len(self._checked_out)
        return PoolStats(
            pool_size=self._config.pool_size,
            max_overflow=self._config.max_overflow,
            open_connections=self._open,
            checked_out=checked_out,
            idle=len(self._idle),
            overflow_in_use=max(0, checked_out - self._config.pool_size),
            waiters=len(self._waiters),
            total_acquisitions=self._total_acquisitions,
            acquisition_timeouts=self._acquisition_timeouts,
        )

    # -- internals ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError(
                "the engine is closed; open a new DatabaseEngine (or await engine.connect())"
            )

    async def _open_connection(self) -> PooledConnection:
        try:
            return PooledConnection(await self._new_connection())
        except BaseException:
            self._open -= 1
            self._serve_waiters()
            raise

    async def _new_connection(self) -> Any:
        if not self._connect_in_thread:
            # DuckDB: a cursor of the root connection opens in microseconds,
            # cheaper than a thread hop, so it is made right here.
            return self._connect()
        # A network round trip: in a worker thread, shielded so that a caller
        # cancelled meanwhile does not leave a connection open behind it.
        with anyio.CancelScope(shield=True):
            connection = await anyio.to_thread.run_sync(self._connect)
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            with contextlib.suppress(self._driver.error):
                connection.close()
            raise
        return connection

    def _interrupt_each(self, checked_out: list[PooledConnection]) -> None:
        for pooled in checked_out:
            self.interrupt(pooled)

    def _close_connection(self, pooled: PooledConnection) -> None:
        self._open -= 1
        with contextlib.suppress(self._driver.error):
            pooled.connection.close()
        self._serve_waiters()

    async def _recycled(self, pooled: PooledConnection) -> PooledConnection:
        recycle = self._config.pool_recycle
        if recycle is not None and time.monotonic() - pooled.opened_at > recycle:
            await self.replace(pooled)
        return pooled

    def _serve_waiters(self) -> None:
        while self._waiters and not self._closed:
            if self._idle:
                waiter = self._waiters.popleft()
                waiter.connection = self._idle.pop()
            elif self._open < self._max:
                waiter = self._waiters.popleft()
                self._open += 1
                waiter.may_open = True
            else:
                return
            waiter.event.set()

    async def _wait(self) -> PooledConnection:
        waiter = _Waiter()
        self._waiters.append(waiter)
        try:
            with anyio.move_on_after(self._config.pool_timeout):
                await waiter.event.wait()
        except BaseException:
            self._abandon(waiter)
            raise
        if waiter.closed:
            self._check_open()
        if waiter.connection is not None:
            return waiter.connection
        if waiter.may_open:
            return await self._open_connection()
        self._abandon(waiter)
        self._acquisition_timeouts += 1
        stats = self.stats()
        message = (
            f"no connection became free within pool_timeout={self._config.pool_timeout}s "
            f"({stats.checked_out} checked out of pool_size={stats.pool_size} + "
            f"max_overflow={stats.max_overflow}, {stats.waiters} waiting); raise pool_size or "
            "max_overflow, or hold sessions for less time"
        )
        logger.warning("pool timeout: %s", message, extra={"pool": stats.model_dump()})
        raise PoolTimeoutError(message)

    def _abandon(self, waiter: _Waiter) -> None:
        """Undo a wait that ended without the caller taking its connection."""
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        elif waiter.connection is not None:
            pooled, waiter.connection = waiter.connection, None
            self._idle.append(pooled)
            self._serve_waiters()
        elif waiter.may_open:
            waiter.may_open = False
            self._open -= 1
            self._serve_waiters()
