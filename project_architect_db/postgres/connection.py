"""One PostgreSQL connection, offering what the runner uses of a DuckDB one.

The shared machinery (pool, session, runner, group commit) talks to a
connection through a handful of methods that ``duckdb.DuckDBPyConnection``
has: ``execute(sql, parameters)`` returning a cursor, ``begin``/``commit``/
``rollback``, ``interrupt`` from another thread, ``close``, and
``register``/``unregister`` of an Arrow table. :class:`PostgresConnection`
gives a psycopg 3 connection those methods, so nothing above it branches on
the backend:

* psycopg runs in autocommit mode and the library sends ``BEGIN``/``COMMIT``
  itself, as it does on DuckDB: a statement outside a transaction commits on
  its own, and a transaction is opened only when the session wants one.
  Transactions are ``REPEATABLE READ``: one snapshot for the whole
  transaction, and a write that loses a race with a concurrent transaction
  fails with a serialization failure (``ConflictError``), as DuckDB's
  snapshot isolation does, instead of silently writing over it.
* ``$name`` placeholders become ``%(name)s`` (and ``?`` becomes ``%s`` when
  the parameters are a list), once per statement text: placeholders.py.
* ``jsonb`` (the stored JSON documents) comes back as text, as DuckDB's JSON
  does, so the same row mapping parses them (schemas/rows.py); ``json``, which
  only queries build (``json_agg``, ``json_build_object``), is what the twins
  return where DuckDB returns lists and structs, and comes back as Python
  lists and dicts, as those do.
* ``register(name, arrow_table)`` copies the table into a temporary table of
  that name with ``COPY``: the bulk paths' ``staged_*`` relations.
* ``interrupt()`` asks the server to cancel the running statement
  (``cancel_safe``), which stops the query on the server, not just the wait.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import psycopg.pq
import pyarrow as pa
from psycopg.types.string import TextLoader

from .placeholders import psycopg_sql

__all__ = ["PostgresConnection", "arrow_column_type", "connect"]

#: Seconds ``interrupt()`` may take to reach the server before it gives up.
CANCEL_TIMEOUT = 5.0

_IN_ERROR = psycopg.pq.TransactionStatus.INERROR
_IDLE = psycopg.pq.TransactionStatus.IDLE


class _Cursor(psycopg.Cursor[tuple[Any, ...]]):
    """A cursor whose ``fetchall``/``fetchone`` give nothing (instead of
    raising) after a statement that returns no rows, as DuckDB's do."""

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self.pgresult is None or self.pgresult.status != psycopg.pq.ExecStatus.TUPLES_OK:
            return []
        return super().fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        if self.pgresult is None or self.pgresult.status != psycopg.pq.ExecStatus.TUPLES_OK:
            return None
        return super().fetchone()


def connect(
    conninfo: str, *, read_only: bool = False, connect_timeout: float = 10.0
) -> psycopg.Connection[Any]:
    """A new psycopg connection set up as the library needs it (UTC, JSON as
    text, autocommit; ``read_only``: every transaction read-only)."""
    # JIT compilation pays off for long analytical queries only; for the
    # library's statements it cost more than the query (about 0.2 s for the bulk
    # search-term insert, whose row estimate is far too high).
    options = "-c TimeZone=UTC -c jit=off"
    if read_only:
        options += " -c default_transaction_read_only=on"
    connection = psycopg.connect(
        conninfo,
        autocommit=True,
        options=options,
        connect_timeout=max(1, round(connect_timeout)),
        cursor_factory=_Cursor,
    )
    # Stored JSON documents (jsonb columns) come back as text, as DuckDB's JSON
    # does; json values a query builds (json_agg, json_build_object) stand for
    # DuckDB's lists and structs and come back as Python lists and dicts.
    connection.adapters.register_loader("jsonb", TextLoader)
    return connection


class PostgresConnection:
    """A psycopg connection with the DuckDB connection methods the runner uses."""

    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        # One cursor, reused: psycopg resets it on each execute.
        self._cursor = connection.cursor()

    @property
    def raw(self) -> psycopg.Connection[Any]:
        """The psycopg connection underneath (for COPY and the tests)."""
        return self._connection

    @property
    def closed(self) -> bool:
        return self._connection.closed

    def execute(
        self, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> _Cursor:
        cursor = self._cursor
        try:
            if not parameters:
                # Without parameters psycopg sends the text as it is (no % escapes).
                cursor.execute(sql)
            else:
                positional = not isinstance(parameters, Mapping)
                cursor.execute(psycopg_sql(sql, positional), parameters)
        except UnicodeEncodeError as exc:
            raise _not_utf8(exc) from exc
        return cursor  # type: ignore[return-value]

    def begin(self) -> None:
        self._cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")

    def commit(self) -> None:
        self._cursor.execute("COMMIT")

    def rollback(self) -> None:
        # Outside a transaction PostgreSQL only warns: nothing to undo.
        if self._connection.info.transaction_status != _IDLE:
            self._cursor.execute("ROLLBACK")

    def interrupt(self) -> None:
        """Cancel the statement running on this connection (from any thread)."""
        if not self._connection.closed:
            with contextlib.suppress(psycopg.Error):
                self._connection.cancel_safe(timeout=CANCEL_TIMEOUT)

    def close(self) -> None:
        self._connection.close()

    # -- Arrow tables as temporary tables (the bulk paths) ----------------------------

    def register(self, name: str, table: pa.Table) -> None:
        """Make ``table`` readable as the temporary table ``name``."""
        columns = ", ".join(
            f"{_identifier(field.name)} {arrow_column_type(field.type)}" for field in table.schema
        )
        quoted = _identifier(name)
        cursor = self._cursor
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{quoted}")
        cursor.execute(f"CREATE TEMPORARY TABLE {quoted} ({columns})")
        if table.num_rows:
            names = ", ".join(_identifier(field.name) for field in table.schema)
            try:
                with cursor.copy(f"COPY {quoted} ({names}) FROM STDIN") as copy:
                    for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
                        copy.write_row(row)
            except UnicodeEncodeError as exc:
                raise _not_utf8(exc) from exc

    def unregister(self, name: str) -> None:
        if self._connection.info.transaction_status == _IN_ERROR:
            return  # the rollback that follows removes a table this transaction made
        self._cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_identifier(name)}")


def _not_utf8(exc: UnicodeEncodeError) -> psycopg.ProgrammingError:
    """Text with a lone surrogate cannot be sent as UTF-8: psycopg's own class
    for a value it cannot send, so the library's error table translates it
    (DuckDB refuses the same text with an error of its own)."""
    return psycopg.ProgrammingError(
        f"text that is not valid Unicode (a lone surrogate at position {exc.start}) cannot "
        "be sent as UTF-8"
    )


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_ARROW_TYPES: dict[pa.DataType, str] = {
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.int16(): "smallint",
    pa.bool_(): "boolean",
    pa.string(): "text",
    pa.large_string(): "text",
    pa.float64(): "double precision",
    pa.float32(): "real",
}


def arrow_column_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type that holds values of ``arrow_type``."""
    if arrow_type in _ARROW_TYPES:
        return _ARROW_TYPES[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz is not None else "timestamp"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"{arrow_column_type(arrow_type.value_type)}[]"
    raise TypeError(f"no PostgreSQL column type for Arrow type {arrow_type}")
