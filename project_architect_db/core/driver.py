"""What the shared machinery needs to know about one database driver.

The pool, the sessions, the runner and group commit are written once; the few
things in them that depend on the database behind a connection are gathered
here, in one frozen :class:`Driver` per backend: the driver's exception
classes, how they become the library's errors, which failures mean "retry on
fresh data" or "the connection is gone", and which SQL each named query runs.

DuckDB's driver is :data:`DUCKDB`; PostgreSQL's is built in
``project_architect_db.postgres.driver`` (importing psycopg only when a
``postgresql://`` engine is made). A connection of either kind offers the same
small surface the runner uses: ``execute(sql, parameters)`` returning a cursor
(``fetchone``, ``fetchall``, ``description``), ``begin``/``commit``/
``rollback``, ``interrupt`` (from another thread), ``close``, and
``register``/``unregister`` of an Arrow table for the bulk paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from ..errors import ProjectArchitectDBError, from_duckdb, is_write_conflict
from .sql import Migration, NamedQuery, migrations
from .statements import Statement, checked_query

__all__ = ["DUCKDB", "INTERRUPT_EVERY", "Driver", "Translate"]

#: How often an interrupt is sent again while the statement it should stop still
#: runs (seconds). One is not enough: sent after the runner's last check of
#: ``cancelled`` but before the statement reaches the database, it finds nothing
#: to stop (DuckDB and PostgreSQL both drop it), and the statement then runs to
#: its end, which for a long query is hours.
INTERRUPT_EVERY = 0.1

#: ``translate(exc, during=..., entity=..., entity_id=...)``: the library error for
#: a driver exception raised at ``during``.
Translate = Callable[..., ProjectArchitectDBError]


@dataclass(frozen=True, slots=True, eq=False)
class Driver:
    """One backend's answers to the questions the shared code asks."""

    #: ``"duckdb"`` or ``"postgresql"``: stats, logs, spans and messages say it.
    name: str
    #: The base class of the driver's exceptions (what a statement may raise).
    error: type[Exception]
    #: The exceptions of an interrupted statement (``interrupt()`` or a cancel).
    interrupted: tuple[type[Exception], ...]
    #: ``translate(exc, during=, entity=, entity_id=)``: the library's error.
    translate: Translate
    #: A write that lost a race with a concurrent transaction and may be run
    #: again on fresh data (``retrying_conflicts``).
    is_write_conflict: Callable[[Exception], bool]
    #: The connection itself is gone (closed under us, or the server lost it):
    #: nothing more can run on it.
    is_connection_lost: Callable[[Exception], bool]
    #: The named query a registered statement runs on this backend, checked
    #: against the statement's use and parameters (``InvalidQueryError``: a bug).
    query: Callable[[Statement], NamedQuery]
    #: The numbered migrations this backend applies, in order.
    migrations: Callable[[], tuple[Migration, ...]]


def _duckdb_translate(exc: Exception, **context: Any) -> ProjectArchitectDBError:
    assert isinstance(exc, duckdb.Error)
    return from_duckdb(exc, **context)


def _duckdb_conflict(exc: Exception) -> bool:
    return isinstance(exc, duckdb.Error) and is_write_conflict(exc)


def _duckdb_lost(exc: Exception) -> bool:
    return isinstance(exc, duckdb.ConnectionException)


DUCKDB = Driver(
    name="duckdb",
    error=duckdb.Error,
    interrupted=(duckdb.InterruptException,),
    translate=_duckdb_translate,
    is_write_conflict=_duckdb_conflict,
    is_connection_lost=_duckdb_lost,
    query=checked_query,
    migrations=migrations,
)
