"""``engine.snapshot(path)`` on PostgreSQL: the server's data in a DuckDB file.

Analytics are DuckDB's strength (5-17x faster than the same questions on
PostgreSQL here, README "Scaling out"), so an app on PostgreSQL hands its
analysts a DuckDB copy: a new file is migrated with the DuckDB migrations (the
library's own schema, so every analytics query, ``report`` and ``run`` work on
it), then every table is read from PostgreSQL inside one ``REPEATABLE READ
READ ONLY`` transaction (one snapshot: the tables agree with each other, and
no half of a concurrent transaction shows) and written into the file through
Arrow, and each sequence is advanced to the server's value so the copy can
take new rows too. It runs as one session call on a pooled connection, so
``statement_timeout`` and cancellation apply as to any other; the file is
written under a temporary name and renamed when complete (core/snapshot.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..core.driver import DUCKDB
from ..core.migrations import apply_migrations
from ..core.observe import QueryObserver
from ..core.runner import StatementRunner
from ..core.stats import QueryStatsRecorder
from .connection import PostgresConnection

__all__ = ["copy_postgres_to_duckdb"]

#: Rows fetched from the server and written to DuckDB at a time.
BATCH_ROWS = 50_000


def copy_postgres_to_duckdb(runner: StatementRunner, *, temporary: Path) -> dict[str, int]:
    """Write the runner's PostgreSQL data into a new DuckDB file at
    ``temporary``; the rows copied per table."""
    connection = runner.connection
    assert isinstance(connection, PostgresConnection)
    target = duckdb.connect(str(temporary))
    try:
        target.execute("SET TimeZone = 'UTC'")
        apply_migrations(target, QueryObserver(QueryStatsRecorder()), False, str(temporary), DUCKDB)
        tables = [
            row[0]
            for row in target.execute(
                "SELECT table_name FROM duckdb_tables() "
                "WHERE schema_name = 'main' AND table_name <> 'schema_migrations' "
                "ORDER BY table_name"
            ).fetchall()
        ]
        sequences = [
            row[0]
            for row in target.execute(
                "SELECT sequence_name FROM duckdb_sequences() WHERE schema_name = 'main' "
                "ORDER BY sequence_name"
            ).fetchall()
        ]
        counts: dict[str, int] = {}
        raw = connection.raw
        with runner.atomic():
            # One snapshot for every table; read-only, so it never blocks writers.
            raw.execute("SET TRANSACTION READ ONLY")
            for table in tables:
                counts[table] = _copy_table(runner, raw, target, table)
            for sequence in sequences:
                _advance_sequence(raw, target, sequence)
        target.execute("CHECKPOINT")
        counts["schema_migrations"] = target.execute(
            "SELECT count(*) FROM schema_migrations"
        ).fetchall()[0][0]
        return counts
    finally:
        target.close()


def _copy_table(
    runner: StatementRunner, raw: Any, target: duckdb.DuckDBPyConnection, table: str
) -> int:
    schema: pa.Schema = target.sql(f'SELECT * FROM "{table}" LIMIT 0').to_arrow_table().schema
    names = ", ".join(f'"{name}"' for name in schema.names)
    copied = 0
    with raw.cursor(name=f"snapshot_{table}") as cursor:  # server-side: batches, not all rows
        cursor.execute(f'SELECT {names} FROM "{table}"')
        while rows := cursor.fetchmany(BATCH_ROWS):
            if runner.cancelled:
                break  # the next statement raises CallCancelled and rolls back
            columns = list(zip(*rows, strict=True))
            batch = pa.table(
                [
                    pa.array(column, type=field.type)
                    for column, field in zip(columns, schema, strict=True)
                ],
                schema=schema,
            )
            target.register("snapshot_batch", batch)
            try:
                target.execute(f'INSERT INTO "{table}" SELECT * FROM snapshot_batch')
            finally:
                target.unregister("snapshot_batch")
            copied += len(rows)
    return copied


def _advance_sequence(raw: Any, target: duckdb.DuckDBPyConnection, sequence: str) -> None:
    row = raw.execute(
        "SELECT last_value FROM pg_sequences WHERE schemaname = current_schema() "
        "AND sequencename = %s",
        (sequence,),
    ).fetchone()
    if row is None or row[0] is None:
        return  # never used on the server (or not there): the copy starts where it would
    used = int(row[0])
    if used > 0:
        target.execute(f"SELECT max(nextval('{sequence}')) FROM range($n)", {"n": used})
