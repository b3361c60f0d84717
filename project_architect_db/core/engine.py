"""The engine: one database (a DuckDB file, or a PostgreSQL server), its
connection pool, and sessions on it."""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, Unpack

import anyio
import duckdb

from ..errors import DatabaseError, PoolClosedError, Stage, from_duckdb
from .coalesce import ReadCoalescer
from .config import EngineConfig, EngineOptions, check_statement_timeout, parse_database_url
from .driver import DUCKDB, Driver
from .group_commit import GroupCommit
from .migrations import apply_migrations
from .observe import QueryListener, QueryObserver
from .pool import ConnectionPool
from .runner import ResultColumns
from .session import Session, SessionContext
from .snapshot import SnapshotInfo, check_snapshot_target, take_snapshot
from .stats import EngineStats, QueryStatsRecorder

__all__ = ["DatabaseEngine"]

#: Run once on each pooled DuckDB connection when it opens. A page of a list
#: (``ORDER BY ... LIMIT``) is picked in two steps by DuckDB itself: the top rows'
#: row ids from the filter and order columns alone, then just those rows' other
#: columns. DuckDB does that (late materialization) for a LIMIT of at most 50
#: rows by default; lists take up to 1,000. Without it every matching row carried
#: all its columns through the top-N heap: 100 newest of 100,000 projects took
#: 29-37 ms, now 7-9 ms (hand-written two-step SQL took 10 ms). Where the newest
#: rows are also the last written, zone maps skip most row groups anyway, and it
#: costs about 1 ms (4.6 against 3.6 ms). A session setting: a connection of the
#: same database opened by hand keeps DuckDB's default.
SESSION_SETUP = "SET late_materialization_max_rows = 1000"

logger = logging.getLogger("project_architect_db.engine")


class _Default(enum.Enum):
    """Marks an argument left out (None has a meaning of its own)."""

    TOKEN = enum.auto()


DEFAULT = _Default.TOKEN


class DatabaseEngine:
    """An async handle on one database: a DuckDB file (or ``:memory:``), or a
    PostgreSQL server.

    ``async with DatabaseEngine("duckdb:///app.duckdb") as engine:`` opens the
    database, applies pending migrations (unless ``migrate=False``) and closes
    everything on exit. ``DatabaseEngine("postgresql://user:password@host:5432/db")``
    gives the same API on PostgreSQL (the ``[postgres]`` extra: psycopg 3), for
    more than one process (README, "Scaling out").

    Work happens in ``engine.session()`` (each statement auto-commits) or
    ``engine.transaction()`` (one transaction).

    ``options`` are :class:`~project_architect_db.core.config.EngineConfig`'s
    fields (pool size and timeouts, DuckDB's ``threads``/``memory_limit``/
    ``temp_directory``, ``read_only``, ``migrate``, ``statement_timeout``,
    ``coalesce_reads``, ``group_commit``, ``slow_query_threshold``,
    ``log_parameters``): their
    meanings and defaults are documented there, and a bad or unknown one raises
    pydantic's ``ValidationError`` (a ``ValueError``) here. ``engine.config`` is
    the resulting ``EngineConfig``.
    """

    def __init__(
        self,
        database_url: str | Path = "duckdb:///:memory:",
        **options: Unpack[EngineOptions],
    ) -> None:
        self.config = EngineConfig(database=parse_database_url(database_url), **options)
        self.driver = _driver(self.config)
        self._root: duckdb.DuckDBPyConnection | None = None
        self._pool: ConnectionPool | None = None
        self._sessions: SessionContext | None = None
        self._observer = QueryObserver(
            QueryStatsRecorder(),
            slow_query_threshold=self.config.slow_query_threshold,
            log_parameters=self.config.log_parameters,
        )
        self._columns = ResultColumns()
        self._snapshot_lock: anyio.Lock | None = None
        # The queues of concurrent calls (empty whenever no session is open) and
        # their counters, kept for the engine's life like the query timings.
        self._reads = ReadCoalescer()
        self._writes = GroupCommit()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<DatabaseEngine {self.config.label!r} {state}>"

    @property
    def is_open(self) -> bool:
        return self._pool is not None and not self._pool.closed

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> Self:
        """Open the database and apply pending migrations. Idempotent."""
        if self.is_open:
            return self
        self._columns.forget()  # migrations may change result shapes
        if self.config.backend == "postgresql":
            pool = await self._open_postgres()
        else:
            pool = await self._open_duckdb()
        self._pool = pool
        self._sessions = SessionContext(
            pool=pool,
            observer=self._observer,
            columns=self._columns,
            limiter=anyio.CapacityLimiter(self.config.max_connections),
            pre_ping=self.config.pool_pre_ping,
            reads=self._reads if self.config.coalesce_reads else None,
            writes=self._writes if self.config.group_commit else None,
            driver=self.driver,
        )
        logger.info(
            "opened %s with %s",
            self.config.label,
            _options(self.config),
            extra={"database": self.config.label},
        )
        return self

    async def _open_duckdb(self) -> ConnectionPool:
        opened: list[duckdb.DuckDBPyConnection] = []
        try:
            await anyio.to_thread.run_sync(self._open_database, opened.append)
        except BaseException:
            for root in opened:  # cancelled while the thread finished opening it
                root.close()
            raise
        self._root = root = opened[0]

        def cursor() -> duckdb.DuckDBPyConnection:
            # cursor() opens a connection to the same instance in microseconds,
            # and a SET takes about 50 us: the pool makes it without a thread hop.
            connection = root.cursor()
            try:
                connection.execute(SESSION_SETUP)
            except BaseException:
                connection.close()
                raise
            return connection

        return ConnectionPool(cursor, self.config, self.driver)

    async def _open_postgres(self) -> ConnectionPool:
        from ..postgres.database import open_postgres, postgres_connector

        # Abandoned on cancellation: it holds no resource past its own connection,
        # which it closes; migrations it applied stay applied.
        await anyio.to_thread.run_sync(open_postgres, self.config, self._observer, self.driver)
        return ConnectionPool(
            postgres_connector(self.config), self.config, self.driver, connect_in_thread=True
        )

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
        logger.info("closed %s", self.config.label, extra={"database": self.config.label})

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
        timeout = self._timeout(statement_timeout)
        return Session.open(self._session_context(), transactional=False, statement_timeout=timeout)

    def transaction(
        self, *, statement_timeout: float | _Default | None = DEFAULT
    ) -> AbstractAsyncContextManager[Session]:
        """A session inside one transaction: commit on normal exit, rollback on
        an exception or cancellation. ``statement_timeout`` as in ``session()``."""
        timeout = self._timeout(statement_timeout)
        return Session.open(self._session_context(), transactional=True, statement_timeout=timeout)

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

        On PostgreSQL the copy is a DuckDB file too (postgres/snapshot.py): the
        server's tables as of one transaction, in a file migrated with the
        DuckDB schema, so the analytics run there at DuckDB's speed.

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
        copy: Callable[..., dict[str, int]] | None = None
        if self.config.backend == "postgresql":
            from ..postgres.snapshot import copy_postgres_to_duckdb

            copy = copy_postgres_to_duckdb
        async with self._snapshot_lock, self.session() as session:
            return await take_snapshot(session, target, overwrite=overwrite, copy=copy)

    def stats(self) -> EngineStats:
        """Pool counters, per-named-query timings and the batching of concurrent
        calls (``coalesced_reads``, ``group_commits``) since the engine opened."""
        pool = self._open_pool()
        return EngineStats(
            **pool.stats().model_dump(),
            queries=self._observer.recorder.snapshot(),
            coalesced_reads=self._reads.counter.snapshot(),
            group_commits=self._writes.counter.snapshot(),
        )

    def reset_stats(self) -> None:
        """Start every counter of ``stats()`` again from zero: the query timings,
        the batching counters and the pool's ``total_acquisitions`` and
        ``acquisition_timeouts`` (its gauges, such as ``checked_out``, say what
        is true now and stay). Useful between benchmark rounds or test phases."""
        self._observer.recorder.reset()
        self._reads.counter.reset()
        self._writes.counter.reset()
        if self._pool is not None:
            self._pool.reset_counters()

    def add_query_listener(self, listener: QueryListener) -> None:
        """Call ``listener(event)`` after every statement the engine runs, with a
        frozen :class:`~project_architect_db.QueryEvent` (name, sql, duration,
        rows, error, in_transaction).

        Listeners run in the worker thread that ran the statement, before its
        call returns: keep them quick and thread-safe (hand slow work to a
        queue). A listener that raises is logged (logger
        ``project_architect_db.query``) and removed; the call it ran in goes on
        as if nothing happened. Adding one twice makes it hear every event twice.
        """
        self._observer.add_listener(listener)

    def remove_query_listener(self, listener: QueryListener) -> None:
        """Stop calling ``listener`` (one registration of it). Raises
        ``ValueError`` if it is not registered, as ``list.remove`` does."""
        if not self._observer.remove_listener(listener):
            raise ValueError(f"{listener!r} is not a query listener of this engine")

    # -- internals ---------------------------------------------------------------

    def _timeout(self, override: float | _Default | None) -> float | None:
        if isinstance(override, _Default):
            return self.config.statement_timeout
        return check_statement_timeout(override)

    def _session_context(self) -> SessionContext:
        self._open_pool()
        assert self._sessions is not None
        return self._sessions

    def _open_pool(self) -> ConnectionPool:
        if self._pool is None or self._pool.closed:
            raise PoolClosedError(
                f"engine for {self.config.label!r} is not open; use 'async with engine:' "
                "or 'await engine.connect()' first"
            )
        return self._pool

    def _open_database(self, opened: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Open the database, apply pending migrations and hand the root
        connection to ``opened`` (in a worker thread): the one place the
        engine's DuckDB errors become the library's."""
        config = self.config
        if not config.is_memory:
            parent = Path(config.database).parent
            if not config.read_only and not parent.is_dir():
                raise DatabaseError(
                    f"cannot create database {config.database!r}: directory {str(parent)!r} "
                    "does not exist"
                )
        stage = Stage.OPEN
        try:
            root = duckdb.connect(
                config.database, read_only=config.read_only, config=config.duckdb_config()
            )
            try:
                # Timestamps come back as UTC whatever the machine's zone is.
                root.execute("SET GLOBAL TimeZone = 'UTC'")
                stage = Stage.MIGRATE
                if config.migrate:
                    apply_migrations(root, self._observer, config.read_only, config.database)
            except BaseException:
                root.close()
                raise
        except duckdb.Error as exc:
            raise from_duckdb(
                exc, during=stage, database=config.database, read_only=config.read_only
            ) from exc
        opened(root)


def _driver(config: EngineConfig) -> Driver:
    """The engine's driver; PostgreSQL's needs psycopg (the ``[postgres]`` extra)."""
    if config.backend == "duckdb":
        return DUCKDB
    try:
        from ..postgres.driver import postgres_driver
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("psycopg"):
            raise
        raise ImportError(
            f"a PostgreSQL engine ({config.label}) needs psycopg 3: "
            'pip install "project_architect_db[postgres]"',
            name=exc.name,
        ) from exc
    return postgres_driver(config.label)


def _options(config: EngineConfig) -> str:
    """The options the engine opened with, for the INFO line (no secrets: a
    DuckDB engine's options hold none)."""
    fields = config.model_dump(exclude={"database"})
    return ", ".join(f"{name}={value!r}" for name, value in fields.items())
