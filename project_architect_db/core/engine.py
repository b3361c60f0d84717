"""The engine: one DuckDB database, its connection pool, and sessions on it."""

from __future__ import annotations

import enum
import os
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import duckdb

from ..errors import DatabaseError, PoolClosedError
from .config import EngineConfig, parse_database_url
from .locks import open_failure_message
from .migrations import apply_migrations
from .pool import ConnectionPool
from .runner import ResultColumns
from .session import Session, open_session
from .snapshot import SnapshotInfo, check_snapshot_target, take_snapshot
from .stats import EngineStats, QueryStatsRecorder

__all__ = ["DatabaseEngine"]


class _Default(enum.Enum):
    """Marks an argument left out (None has a meaning of its own)."""

    TOKEN = enum.auto()


DEFAULT = _Default.TOKEN


class DatabaseEngine:
    """An async handle on one DuckDB database.

    ``async with DatabaseEngine("duckdb:///app.duckdb") as engine:`` opens the
    database, applies pending migrations (unless ``migrate=False``) and closes
    everything on exit. Work happens in ``engine.session()`` (each statement
    auto-commits) or ``engine.transaction()`` (one transaction).

    Pool options follow SQLAlchemy's names: at most ``pool_size + max_overflow``
    connections at once; overflow connections close when returned; an acquire
    waiting longer than ``pool_timeout`` seconds raises ``PoolTimeoutError``;
    connections older than ``pool_recycle`` seconds are replaced. ``threads``,
    ``memory_limit`` and ``temp_directory`` are passed to DuckDB.

    ``statement_timeout`` (seconds, default None: no limit) bounds the database
    work of each library call: one that runs longer is interrupted, rolled back
    and raises ``StatementTimeoutError``. ``session()`` and ``transaction()``
    can override it per session.
    """

    def __init__(
        self,
        database_url: str | Path = "duckdb:///:memory:",
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 30.0,
        pool_recycle: float | None = 3600.0,
        pool_pre_ping: bool = True,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
        read_only: bool = False,
        migrate: bool = True,
        statement_timeout: float | None = None,
    ) -> None:
        self.config = EngineConfig(
            database=parse_database_url(database_url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=pool_recycle,
            pool_pre_ping=pool_pre_ping,
            threads=threads,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
            read_only=read_only,
            migrate=migrate,
            statement_timeout=statement_timeout,
        )
        self._root: duckdb.DuckDBPyConnection | None = None
        self._pool: ConnectionPool | None = None
        self._recorder = QueryStatsRecorder()
        self._columns = ResultColumns()
        self._limiter: anyio.CapacityLimiter | None = None
        self._connect_lock: anyio.Lock | None = None
        self._snapshot_lock: anyio.Lock | None = None

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<DatabaseEngine {self.config.database!r} {state}>"

    @property
    def is_open(self) -> bool:
        return self._pool is not None and not self._pool.closed

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> Self:
        """Open the database and apply pending migrations. Idempotent."""
        if self.is_open:
            return self
        self._root = await anyio.to_thread.run_sync(self._open_database)
        try:
            if self.config.migrate:
                await anyio.to_thread.run_sync(
                    apply_migrations, self._root, self._recorder, self.config.read_only
                )
        except BaseException:
            self._root.close()
            self._root = None
            raise
        self._columns.forget()  # migrations may have changed result shapes
        self._limiter = anyio.CapacityLimiter(self.config.max_connections)
        self._pool = ConnectionPool(self._root, self.config)
        return self

    async def close(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds (forever if None) for checked-out
        connections to come back, interrupt the queries of the rest, then close
        every connection and the database. Later use raises ``PoolClosedError``."""
        pool, root = self._pool, self._root
        if pool is None or pool.closed:
            return
        await pool.close(timeout)
        if root is not None:
            root.close()
        self._root = None

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self.close()

    # -- work --------------------------------------------------------------------

    def session(
        self, *, statement_timeout: float | _Default | None = DEFAULT
    ) -> AbstractAsyncContextManager[Session]:
        """A session on one pooled connection; each statement auto-commits.

        ``statement_timeout`` overrides the engine's for this session (None: no limit).
        """
        return open_session(
            self, transactional=False, statement_timeout=self._timeout(statement_timeout)
        )

    def transaction(
        self, *, statement_timeout: float | _Default | None = DEFAULT
    ) -> AbstractAsyncContextManager[Session]:
        """A session inside one transaction: commit on normal exit, rollback on
        an exception or cancellation. ``statement_timeout`` as in ``session()``."""
        return open_session(
            self, transactional=True, statement_timeout=self._timeout(statement_timeout)
        )

    async def execute_raw(
        self, sql: str, parameters: dict[str, Any] | list[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run one raw SQL statement on a pooled connection (auto-commit); its
        rows as dicts. Bind values through ``parameters``."""
        async with self.session() as session:
            return await session.execute(sql, parameters)

    async def snapshot(
        self, path: str | os.PathLike[str], *, overwrite: bool = False
    ) -> SnapshotInfo:
        """Write a consistent copy of the whole database to the DuckDB file ``path``
        while the engine keeps serving reads and writes; what was written.

        Every table is copied as of one moment (one transaction, so one MVCC
        snapshot: no half of a concurrent transaction or bulk load), with the
        schema, sequences at their current values, defaults, constraints, indexes
        and ``schema_migrations``. The copy is an ordinary database file: open it
        with ``duckdb.connect(path, read_only=True)``, the command line or
        ``DatabaseEngine(path, read_only=True)``. This is how analysts read a live
        app's data, since no other process can open a file the app holds.

        The copy is written under a temporary name beside ``path`` and renamed when
        complete, so ``path`` never holds a half-written file; a failure or a
        cancellation removes it. It is one call on one pooled connection:
        ``statement_timeout`` applies (``StatementTimeoutError``, nothing written),
        and snapshots of one engine run one at a time. Works on ``read_only``
        and ``:memory:`` engines too.

        Raises ``InvalidQueryError`` (a ``ValueError``), before writing anything,
        when ``path`` exists and ``overwrite`` is False, is a directory, lies in a
        missing directory or is the engine's own database file; ``DatabaseError``
        when writing fails.
        """
        target = check_snapshot_target(path, database=self.config.database, overwrite=overwrite)
        if self._snapshot_lock is None:
            # One attach alias per DuckDB instance (sql/snapshot.sql): one at a time.
            self._snapshot_lock = anyio.Lock()
        async with self._snapshot_lock, self.session() as session:
            return await take_snapshot(session, target, overwrite=overwrite)

    def stats(self) -> EngineStats:
        """Pool counters and per-named-query timings since the engine opened."""
        pool = self._open_pool()
        return EngineStats(**pool.stats().model_dump(), queries=self._recorder.snapshot())

    # -- internals ---------------------------------------------------------------

    def _timeout(self, override: float | _Default | None) -> float | None:
        if isinstance(override, _Default):
            return self.config.statement_timeout
        if override is not None and not override > 0:
            raise ValueError(
                f"statement_timeout must be positive seconds or None, not {override!r}"
            )
        return override

    def _parts(
        self,
    ) -> tuple[ConnectionPool, QueryStatsRecorder, ResultColumns, anyio.CapacityLimiter]:
        pool = self._open_pool()
        assert self._limiter is not None
        return pool, self._recorder, self._columns, self._limiter

    def _open_pool(self) -> ConnectionPool:
        if self._pool is None or self._pool.closed:
            raise PoolClosedError(
                f"engine for {self.config.database!r} is not open; use 'async with engine:' "
                "or 'await engine.connect()' first"
            )
        return self._pool

    def _open_database(self) -> duckdb.DuckDBPyConnection:
        config = self.config
        if not config.is_memory:
            parent = Path(config.database).parent
            if not config.read_only and not parent.is_dir():
                raise DatabaseError(
                    f"cannot create database {config.database!r}: directory {str(parent)!r} "
                    "does not exist"
                )
        try:
            root = duckdb.connect(
                config.database, read_only=config.read_only, config=config.duckdb_config()
            )
        except duckdb.IOException as exc:
            raise DatabaseError(
                open_failure_message(config.database, exc, read_only=config.read_only)
            ) from exc
        except duckdb.Error as exc:
            raise DatabaseError(f"cannot open database {config.database!r}: {exc}") from exc
        # Timestamps come back as UTC whatever the machine's zone is.
        root.execute("SET GLOBAL TimeZone = 'UTC'")
        return root
