"""``run --database postgresql://...``: a named query on a PostgreSQL server.

The checks before the database opens are ``run``'s own (cli/run.py): the query
and its parameters, ``--write`` for statements that change data. The SQL that
runs is PostgreSQL's: a catalog query's twin under ``sql/postgres/`` when it
has one (postgres/catalog.py), else its shared text; an analyst's file as
written (it must also parse as DuckDB SQL, which ``run`` uses to see what each
statement does). Everything runs in one transaction, ``READ ONLY`` unless
``--write``, so the server itself refuses a write that slipped past the
checks. The rows go through an in-memory DuckDB relation on their way out, so
every output format (table, csv, json, jsonl, parquet) is ``run``'s own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import psycopg
import pyarrow as pa

from ..core.config import redact_url
from ..core.sql import Catalog, NamedQuery
from ..errors import Stage
from ..postgres.catalog import load_postgres_catalog
from ..postgres.connection import connect
from ..postgres.errors import from_postgres
from ..postgres.placeholders import psycopg_sql
from .common import CommandError
from .output import unique_names

__all__ = ["postgres_text", "run_on_postgres"]


def postgres_text(query: NamedQuery, catalog: Catalog) -> str:
    """The SQL PostgreSQL runs for ``query``, a query of ``catalog``: its twin's,
    if it has one, else its shared text."""
    twin = load_postgres_catalog(shared=catalog).twins.get(query.name)
    return twin.query.sql if twin is not None else query.sql


def run_on_postgres(
    url: str,
    texts: Sequence[str],
    values: dict[str, Any],
    *,
    write: bool,
    limit: int | None,
    label: str,
) -> tuple[duckdb.DuckDBPyConnection | None, int | None]:
    """Run ``texts`` in one transaction; an in-memory DuckDB connection holding
    the last statement's rows as table ``result`` (None if it returns none),
    and the rows changed by the statements that do not return rows."""
    try:
        connection = connect(url, read_only=not write)
    except psycopg.Error as exc:
        failure = from_postgres(exc, during=Stage.OPEN, database=redact_url(url))
        raise CommandError(str(failure)) from None
    changed: list[int] = []
    try:
        with connection.transaction():
            cursor = connection.cursor()
            for text in texts:
                used = {name: value for name, value in values.items() if f"${name}" in text}
                if used:
                    cursor.execute(psycopg_sql(text), used)
                else:
                    cursor.execute(text)
                if cursor.description is None and cursor.rowcount >= 0:
                    changed.append(cursor.rowcount)
            if cursor.description is None:
                return None, sum(changed) if changed else None
            names = unique_names(column.name for column in cursor.description)
            rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
    except psycopg.Error as exc:
        said = str(exc).strip()
        raise CommandError(f"query {label} failed on PostgreSQL. PostgreSQL said: {said}") from None
    finally:
        connection.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    table = pa.table(
        {name: pa.array(list(column)) for name, column in zip(names, columns, strict=True)}
    )
    result = duckdb.connect(":memory:")
    result.execute("SET TimeZone = 'UTC'")
    result.register("result_rows", table)
    result.execute("CREATE TABLE result AS SELECT * FROM result_rows")
    result.unregister("result_rows")
    return result, sum(changed) if changed else None
