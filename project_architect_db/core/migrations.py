"""Applying the numbered scripts of ``sql/migrations`` (DuckDB) or
``sql/postgres/migrations`` (PostgreSQL) to a database."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import DatabaseError
from . import statements as sql
from .driver import DUCKDB, Driver
from .observe import QueryObserver
from .runner import NeverCancelled, ResultColumns, StatementRunner

__all__ = ["apply_migrations", "pending_migrations"]

logger = logging.getLogger("project_architect_db.migrations")


def pending_migrations(runner: StatementRunner) -> list[int]:
    """Versions of the migrations this database has not applied yet."""
    applied: set[int] = set()
    if runner.value(sql.MIGRATIONS_TABLE_EXISTS):
        applied = {row["version"] for row in runner.rows(sql.APPLIED_MIGRATIONS)}
    return [m.version for m in runner.driver.migrations() if m.version not in applied]


def apply_migrations(
    connection: Any,
    observer: QueryObserver,
    read_only: bool,
    database: str = "",
    driver: Driver = DUCKDB,
) -> list[int]:
    """Apply pending migrations in order, each in its own transaction together
    with its row in ``schema_migrations``; the versions applied. Running it again
    applies nothing. The driver's exceptions pass through: the engine's connect
    translates them (``errors.Stage.MIGRATE``)."""
    runner = StatementRunner(
        connection, observer, ResultColumns(), NeverCancelled(), in_transaction=False, driver=driver
    )
    pending = pending_migrations(runner)
    if read_only:
        if pending:
            raise DatabaseError(
                f"database is read-only and lacks migrations {pending}; open it once "
                "with read_only=False to upgrade it, or pass migrate=False"
            )
        return []
    runner.run(sql.CREATE_SCHEMA_MIGRATIONS)
    pending = pending_migrations(runner)
    by_version = {m.version: m for m in driver.migrations()}
    for version in pending:
        migration = by_version[version]
        with runner.atomic():
            runner.script(f"migration {version:04d}_{migration.name}", migration.script)
            runner.run(sql.RECORD_MIGRATION, version=version, name=migration.name)
        logger.info(
            "applied migration %04d_%s to %s",
            version,
            migration.name,
            database or "the database",
            extra={"version": version, "migration": migration.name},
        )
    return pending
