"""Running statements on one DuckDB connection, inside a worker thread.

Everything here is synchronous and runs in the thread that ``Session.run``
started: a repository method hands the session one function of a
:class:`StatementRunner`, and that function makes every statement the method
needs, so the method costs one thread hop however many statements it runs.

The runner also reports each statement to the engine's observer (its timing for
``engine.stats()``, the query log, the query listeners: core/observe.py) and
refuses to start another statement once the caller has been cancelled. The
driver's exceptions pass through it unchanged: the session's thread hop
translates them (``Driver.translate``), so work can still catch a driver error
it expects. What differs between DuckDB and PostgreSQL is asked of the
:class:`~project_architect_db.core.driver.Driver` the runner is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Protocol, TypeVar

import duckdb

from ..errors import InvalidQueryError
from .driver import DUCKDB, Driver
from .observe import QueryObserver
from .sql import NamedQuery
from .statements import Statement, Use

__all__ = [
    "CallCancelled",
    "CancelFlag",
    "NeverCancelled",
    "ResultColumns",
    "Row",
    "StatementRunner",
]

Row = dict[str, Any]
T = TypeVar("T")

#: How a statement's result is read (given its SQL and cursor): the value handed
#: back, and the rows it returned (None for a statement run for its effect).
_Reader = Callable[[str, duckdb.DuckDBPyConnection], tuple[T, int | None]]


class CallCancelled(Exception):
    """Raised inside the worker thread when the awaiting task was cancelled
    between two statements; the runner rolls back and the session re-raises
    the caller's cancellation."""


class CancelFlag(Protocol):
    """What the runner checks before each statement: ``cancelled`` is set (from
    the event loop) once the caller has been cancelled, and ``timed_out`` with
    it when the reason was ``statement_timeout``."""

    cancelled: bool
    timed_out: bool


class NeverCancelled:
    """The flag of work no task waits for (migrations at connect)."""

    cancelled = False
    timed_out = False


class ResultColumns:
    """The column names of each statement's result, by SQL text, for one database.

    DuckDB 2.0's ``cursor.description`` builds a type object per column: about
    130 us for a projects row, more than everything else a get_by_id adds to
    its statement. A statement's columns change only with the schema, so they
    are read once; ``forget()`` runs after migrations and after caller-supplied
    SQL (which may change the schema).
    """

    __slots__ = ("_names",)

    #: Composed SQL varies with filters and ordering; keep the cache bounded.
    LIMIT = 4096

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, ...]] = {}

    def of(self, sql: str, cursor: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
        names = self._names.get(sql)
        if names is None:
            names = tuple(column[0] for column in cursor.description or ())
            if len(self._names) < self.LIMIT:
                self._names[sql] = names
        return names

    def forget(self) -> None:
        self._names.clear()


class StatementRunner:
    """One connection plus what is needed to use it well from a worker thread:
    what ``Session.run_in_worker(work)`` hands to ``work``.

    For your own code: ``raw(sql, parameters)`` (rows as dicts), ``atomic()``
    (statements that commit together), ``in_transaction``. The library's own
    ``rows``/``one``/``value``/``run`` take a registered ``Statement`` from
    ``core/statements.py`` (the named queries of ``sql/``). Instances are made
    by the session for a single thread trip and must not be kept beyond it.
    """

    __slots__ = ("_call", "_columns", "_in_transaction", "_observer", "connection", "driver")

    def __init__(
        self,
        connection: Any,
        observer: QueryObserver,
        columns: ResultColumns,
        call: CancelFlag,
        in_transaction: bool,
        driver: Driver = DUCKDB,
    ) -> None:
        #: A ``duckdb.DuckDBPyConnection``, or the PostgreSQL connection of
        #: ``postgres/connection.py`` that offers the same methods.
        self.connection = connection
        #: What depends on the backend (core/driver.py).
        self.driver = driver
        self._observer = observer
        self._columns = columns
        self._call = call
        self._in_transaction = in_transaction

    # -- statements --------------------------------------------------------------

    def rows(self, statement: Statement, **params: Any) -> list[Row]:
        """All rows of a named query, as dicts keyed by column name."""
        query = self._query(statement, Use.ROWS, params)
        return self._statement(query.name, query.sql, params, self._read_all)

    def one(self, statement: Statement, **params: Any) -> Row | None:
        """The first row of a named query, or None."""
        query = self._query(statement, Use.ONE, params)
        return self._statement(query.name, query.sql, params, self._read_first)

    def value(self, statement: Statement, **params: Any) -> Any:
        """The first column of the first row of a named query, or None."""
        query = self._query(statement, Use.VALUE, params)
        return self._statement(query.name, query.sql, params, _read_value)

    def run(self, statement: Statement, **params: Any) -> None:
        """Run a named query for its effect, discarding any result."""
        query = self._query(statement, Use.RUN, params)
        self._statement(query.name, query.sql, params, _drain)

    def composed(self, base: Statement, sql: str, params: dict[str, Any]) -> list[Row]:
        """Rows of SQL composed around a named query (filters, ordering, paging),
        reported under that query's name."""
        return self._statement(base.name, sql, params, self._read_all)

    @contextmanager
    def staged(self, name: str, table: Any) -> Iterator[None]:
        """Make an Arrow table readable as ``name`` for the statements in the block."""
        self.connection.register(name, table)
        try:
            yield
        finally:
            self.connection.unregister(name)

    def script(self, label: str, sql: str) -> None:
        """Run a multi-statement script (migrations only)."""
        try:
            self._statement(label, sql, None, _ignore)
        finally:
            self._columns.forget()

    def raw(self, sql: str, parameters: dict[str, Any] | list[Any] | None) -> list[Row]:
        """Run caller-supplied SQL; its rows as dicts (empty when it has none)."""
        try:
            return self._statement("execute_raw", sql, parameters, _read_raw)
        finally:
            # The statement may have changed the schema (and so a cached result shape).
            self._columns.forget()

    # -- transactions ------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    @property
    def cancelled(self) -> bool:
        """The caller that runs this trip was cancelled or timed out: the trip
        must end (the next statement raises ``CallCancelled``)."""
        return self._call.cancelled

    def begin(self) -> None:
        self._check_cancelled()
        self.connection.begin()
        self._in_transaction = True

    def commit(self) -> None:
        self._check_cancelled()
        self.connection.commit()
        self._in_transaction = False

    def rollback(self) -> None:
        self._in_transaction = False
        # Nothing open is fine: a failed statement may have ended it already.
        with suppress(duckdb.TransactionException):
            self.connection.rollback()

    @contextmanager
    def atomic(self) -> Iterator[StatementRunner]:
        """All statements in the block commit together or not at all.

        Inside a transaction the session already opened, the block joins it (the
        caller's commit or rollback decides); otherwise the block is its own
        transaction.
        """
        if self._in_transaction:
            yield self
            return
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def retrying_conflicts(self, work: Callable[[StatementRunner], T], attempts: int = 50) -> T:
        """Run ``work`` atomically, retrying when a concurrent transaction wins a
        write-write conflict. Only for changes that are correct to re-apply on
        fresh data (appending a message, bumping a counter); never inside a
        caller's transaction, whose earlier statements cannot be replayed."""
        if self._in_transaction:
            return work(self)
        for attempt in range(attempts):
            try:
                with self.atomic():
                    return work(self)
            except self.driver.error as exc:
                if not self.driver.is_write_conflict(exc) or attempt == attempts - 1:
                    raise
                time.sleep(min(0.0005 * 2**attempt, 0.02))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals ---------------------------------------------------------------

    def _check_cancelled(self) -> None:
        if self._call.cancelled:
            raise CallCancelled()

    def _query(self, statement: Statement, use: Use, params: dict[str, Any]) -> NamedQuery:
        """The query behind ``statement``, refusing a use or parameters it was not
        registered with (a bug in the library, caught by its tests and check-sql)."""
        if statement.use is not use or params.keys() != statement.parameter_set:
            raise InvalidQueryError(
                f"statement {statement.name!r} is registered as {statement.use.value}"
                f"({', '.join(statement.parameters)}), not run as {use.value}"
                f"({', '.join(params)})"
            )
        return self.driver.query(statement)

    def _statement(self, name: str, sql: str, params: Any, read: _Reader[T]) -> T:
        """Run one statement and ``read`` its result, reporting it to the observer
        (its time covers both) under ``name``; refused for a cancelled caller."""
        self._check_cancelled()
        started = time.perf_counter()
        try:
            result, rows = read(sql, self.connection.execute(sql, params))
        except self.driver.error as exc:
            call = self._call
            self._observer.failed(
                name,
                sql,
                params,
                time.perf_counter() - started,
                exc,
                self._in_transaction,
                call.cancelled and call.timed_out,
                self.driver,
            )
            raise
        self._observer.finished(
            name, sql, params, time.perf_counter() - started, rows, self._in_transaction
        )
        return result

    def _read_all(self, sql: str, cursor: duckdb.DuckDBPyConnection) -> tuple[list[Row], int]:
        rows = _dicts(self._columns.of(sql, cursor), cursor)
        return rows, len(rows)

    def _read_first(self, sql: str, cursor: duckdb.DuckDBPyConnection) -> tuple[Row | None, int]:
        row = cursor.fetchone()
        if row is None:
            return None, 0
        # A statement with RETURNING must be drained before the next one runs.
        cursor.fetchall()
        return dict(zip(self._columns.of(sql, cursor), row, strict=True)), 1


def _read_value(sql: str, cursor: duckdb.DuckDBPyConnection) -> tuple[Any, int]:
    row = cursor.fetchone()
    if row is None:
        return None, 0
    cursor.fetchall()  # drained, as in one()
    return row[0], 1


def _drain(sql: str, cursor: duckdb.DuckDBPyConnection) -> tuple[None, None]:
    # Every DuckDB statement has a result (DML: its row count); drain it.
    cursor.fetchall()
    return None, None


def _ignore(sql: str, cursor: duckdb.DuckDBPyConnection) -> tuple[None, None]:
    return None, None


def _read_raw(sql: str, cursor: duckdb.DuckDBPyConnection) -> tuple[list[Row], int | None]:
    # Not cached: caller-supplied SQL is as varied as its callers.
    description = cursor.description
    rows = _dicts([column[0] for column in description or ()], cursor)
    return rows, len(rows) if description else None


def _dicts(names: Sequence[str], cursor: duckdb.DuckDBPyConnection) -> list[Row]:
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
