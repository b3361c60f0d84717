"""Opening a PostgreSQL database: connect, check the server, migrate.

Runs in a worker thread when the engine connects, on a connection of its own
that is closed afterwards (the pool opens the connections that serve calls).
Several processes may start at once against one database (``uvicorn
--workers 4``): migrations run under a transaction-level advisory lock, so one
process applies them and the others find them applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from ..core.config import EngineConfig
from ..core.driver import Driver
from ..core.migrations import apply_migrations, pending_migrations
from ..core.observe import QueryObserver
from ..core.runner import NeverCancelled, ResultColumns, StatementRunner
from ..errors import DatabaseError, Stage
from .connection import PostgresConnection, connect
from .errors import from_postgres

__all__ = ["MIGRATION_LOCK", "MINIMUM_SERVER_VERSION", "open_postgres", "postgres_connector"]

#: The oldest server the library runs on (``server_version_num``).
MINIMUM_SERVER_VERSION = 140000
#: The advisory lock key that serializes migrations across processes
#: (``pg_advisory_lock``; any other user of this number would wait on it).
MIGRATION_LOCK = 0x70_61_64_6D_69_67  # "padmig"


def postgres_connector(config: EngineConfig) -> Callable[[], PostgresConnection]:
    """The pool's ``connect``: a new connection to the engine's server."""

    def open_one() -> PostgresConnection:
        return PostgresConnection(connect(config.database, read_only=config.read_only))

    return open_one


def open_postgres(config: EngineConfig, observer: QueryObserver, driver: Driver) -> None:
    """Check that the server can serve this engine and apply pending
    migrations (unless ``migrate=False``); raise the library's errors."""
    stage = Stage.OPEN
    try:
        raw = connect(config.database)
        try:
            stage = Stage.MIGRATE
            _check_server(config, raw)
            connection = PostgresConnection(raw)
            if config.migrate and not config.read_only:
                raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
                try:
                    apply_migrations(connection, observer, False, config.label, driver)
                finally:
                    raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            else:
                _check_migrated(config, connection, driver, observer)
        finally:
            raw.close()
    except psycopg.Error as exc:
        raise from_postgres(exc, during=stage, database=config.label) from exc


def _check_server(config: EngineConfig, raw: psycopg.Connection[Any]) -> None:
    version = raw.info.server_version
    if version < MINIMUM_SERVER_VERSION:
        shown = f"{version // 10000}.{version % 10000}"
        raise DatabaseError(
            f"PostgreSQL at {config.label} is version {shown}; the library needs 14 or newer "
            "(the oldest it is tested on). Upgrade the server"
        )


def _check_migrated(
    config: EngineConfig, connection: PostgresConnection, driver: Driver, observer: QueryObserver
) -> None:
    """With ``migrate=False`` (or read-only), the schema must already be there."""
    runner = StatementRunner(connection, observer, ResultColumns(), NeverCancelled(), False, driver)
    pending = pending_migrations(runner)
    if not pending:
        return
    if len(pending) == len(driver.migrations()):
        raise DatabaseError(
            f"PostgreSQL database {config.label} has no schema_migrations table: the library's "
            "schema was never created there. Open it once with migrate=True (the default) and "
            "read_only=False"
        )
    raise DatabaseError(
        f"PostgreSQL database {config.label} lacks migrations {pending}; open it once with "
        "migrate=True (the default) and read_only=False to upgrade it"
    )
