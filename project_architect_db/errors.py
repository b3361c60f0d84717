"""The library's exception hierarchy, and the one table that turns DuckDB's
exceptions into it.

Every error raised by the public API derives from :class:`ProjectArchitectDBError`;
DuckDB's own exceptions never escape (they are chained as ``__cause__``).
Pydantic's ``ValidationError`` is the one exception from another library that
callers see: it is raised, unchanged, when input data or an engine option fails
validation.

DuckDB's exceptions are translated by :data:`DUCKDB_ERRORS`, applied by
:func:`from_duckdb` at the two places DuckDB work meets the caller: the
session's thread hop (every statement) and the engine's connect (opening the
file and migrating it).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from .core.locks import open_failure_message

__all__ = [
    "DUCKDB_ERRORS",
    "ConflictError",
    "DatabaseError",
    "DuckDBErrorRule",
    "DuckDBFailure",
    "IntegrityError",
    "InvalidQueryError",
    "NotFoundError",
    "PoolClosedError",
    "PoolTimeoutError",
    "ProjectArchitectDBError",
    "Stage",
    "StatementTimeoutError",
    "duckdb_error_rule",
    "from_duckdb",
    "is_write_conflict",
]


class ProjectArchitectDBError(Exception):
    """Base class of every error the library raises on purpose."""


class NotFoundError(ProjectArchitectDBError):
    """Raised when an operation names a row that does not exist or is soft-deleted.

    ``entity`` and ``entity_id`` say which row was missing.
    """

    def __init__(self, entity: str, entity_id: int | str, hint: str | None = None) -> None:
        self.entity = entity
        self.entity_id = entity_id
        message = f"{entity} {entity_id} not found"
        if hint:
            message = f"{message}: {hint}"
        super().__init__(message)


class ConflictError(ProjectArchitectDBError):
    """Raised when a write loses a race: a stale ``expected_version``, or a
    concurrent transaction changed the same row first.

    Re-read the row and apply the change again (see ``retry_on_conflict``).
    """

    def __init__(
        self,
        entity: str,
        entity_id: int | None,
        detail: str,
        *,
        expected_version: int | None = None,
        actual_version: int | None = None,
    ) -> None:
        self.entity = entity
        self.entity_id = entity_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        subject = entity if entity_id is None else f"{entity} {entity_id}"
        super().__init__(f"{subject}: {detail}; re-read it and retry the change")


class IntegrityError(ProjectArchitectDBError):
    """Raised when a write would break a database constraint (a duplicate key,
    a reference to a missing row). Nothing was written."""


class InvalidQueryError(ProjectArchitectDBError, ValueError):
    """Raised before any SQL runs when a query is malformed: an unknown field,
    lookup or ordering, a value of the wrong kind, or raw SQL DuckDB cannot
    parse or bind."""


class DatabaseError(ProjectArchitectDBError):
    """Raised when DuckDB fails for a reason the caller did not cause directly
    (I/O, out of memory, a locked file, an invalidated database)."""


class StatementTimeoutError(DatabaseError):
    """Raised when a call's database work ran longer than ``statement_timeout``.

    The query was interrupted and its changes rolled back (inside a transaction,
    the whole transaction: leave the block or roll back before going on). Make
    the query cheaper, or raise the timeout for that session.
    """


class PoolTimeoutError(ProjectArchitectDBError):
    """Raised when no pooled connection became free within ``pool_timeout``.

    Raise ``pool_size``/``max_overflow`` or hold connections for less time.
    """


class PoolClosedError(ProjectArchitectDBError):
    """Raised when a closed (or never opened) engine is used.

    Open it with ``await engine.connect()`` or ``async with engine:``.
    """


# -- DuckDB's exceptions, translated ------------------------------------------------------


class Stage(enum.Enum):
    """Where a DuckDB call failed: the same DuckDB exception means different
    things when the database opens and when a statement runs."""

    #: ``duckdb.connect()`` of the engine's database (and setting it up).
    OPEN = "open"
    #: Applying the numbered migrations while the engine connects.
    MIGRATE = "migrate"
    #: A session's work in its worker thread.
    STATEMENT = "statement"
    #: A session's work, on an engine that was closed while it ran (closing
    #: interrupts running queries and closes connections under them).
    CLOSED_ENGINE = "closed engine"


#: The rows of any statement apply on a closed engine too, after its own.
STATEMENTS = (Stage.STATEMENT, Stage.CLOSED_ENGINE)


@dataclass(frozen=True, slots=True)
class DuckDBFailure:
    """A DuckDB exception and what its caller knew, for the error message."""

    exc: duckdb.Error
    entity: str | None = None
    entity_id: int | None = None
    database: str = ""
    read_only: bool = False

    @property
    def subject(self) -> str:
        """What the message names: the entity, or "row" when the caller named none."""
        return self.entity or "row"


@dataclass(frozen=True, slots=True)
class DuckDBErrorRule:
    """One row of :data:`DUCKDB_ERRORS`, called ``name``: a DuckDB exception
    raised during one of ``during``, of one of the classes ``raised`` and, when
    ``pattern`` is given, whose message it matches, becomes ``error`` with
    ``message``.

    ``message`` is a ``str.format`` template over ``{text}`` (DuckDB's message),
    ``{kind}`` (its class name), ``{subject}`` (the entity, or "row") and
    ``{database}``, or a function of the :class:`DuckDBFailure`. For
    ``ConflictError`` it is the detail after the row's name.
    """

    name: str
    during: tuple[Stage, ...]
    raised: tuple[type[duckdb.Error], ...]
    pattern: re.Pattern[str] | None
    error: type[ProjectArchitectDBError]
    message: str | Callable[[DuckDBFailure], str]

    def matches(self, exc: duckdb.Error, during: Stage) -> bool:
        return (
            during in self.during
            and isinstance(exc, self.raised)
            and (self.pattern is None or self.pattern.search(str(exc)) is not None)
        )

    def build(self, failure: DuckDBFailure) -> ProjectArchitectDBError:
        if callable(self.message):
            message = self.message(failure)
        else:
            message = self.message.format(
                text=str(failure.exc),
                kind=type(failure.exc).__name__,
                subject=failure.subject,
                database=failure.database,
            )
        if self.error is ConflictError:
            return ConflictError(failure.subject, failure.entity_id, message)
        return self.error(message)


def _open_failure(failure: DuckDBFailure) -> str:
    return open_failure_message(failure.database, failure.exc, read_only=failure.read_only)


#: DuckDB's write-write conflict ("Conflict on update!", "Conflict on tuple
#: deletion!"): the one failure some work retries (``retrying_conflicts``).
WRITE_CONFLICT = DuckDBErrorRule(
    "write conflict",
    STATEMENTS,
    (duckdb.TransactionException,),
    re.compile("conflict", re.IGNORECASE),
    ConflictError,
    "a concurrent transaction changed it first",
)

#: Every translation of a DuckDB exception into the library's; the first row
#: that matches wins, and each stage ends with a row for any ``duckdb.Error``.
#: ``tests/test_error_mapping.py`` raises each row's real DuckDB error.
DUCKDB_ERRORS: tuple[DuckDBErrorRule, ...] = (
    # Opening the database: locks.py says who holds a locked file and what to do.
    DuckDBErrorRule(
        "open: file", (Stage.OPEN,), (duckdb.IOException,), None, DatabaseError, _open_failure
    ),
    DuckDBErrorRule(
        "open: other",
        (Stage.OPEN,),
        (duckdb.Error,),
        None,
        DatabaseError,
        "cannot open database {database!r}: {text}",
    ),
    DuckDBErrorRule(
        "migrate",
        (Stage.MIGRATE,),
        (duckdb.Error,),
        None,
        DatabaseError,
        "applying migrations failed: {text}",
    ),
    # Statements. Closing the engine interrupts the queries still running once
    # its timeout has passed, then closes the connections under them.
    DuckDBErrorRule(
        "engine closed",
        (Stage.CLOSED_ENGINE,),
        (duckdb.ConnectionException, duckdb.InterruptException),
        None,
        PoolClosedError,
        "the engine was closed while this operation ran",
    ),
    DuckDBErrorRule(
        "interrupted",
        STATEMENTS,
        (duckdb.InterruptException,),
        None,
        DatabaseError,
        "the statement was interrupted",
    ),
    WRITE_CONFLICT,
    # Two transactions wrote the same key; DuckDB finds it when the second commits.
    DuckDBErrorRule(
        "constraint at commit",
        STATEMENTS,
        (duckdb.TransactionException,),
        re.compile("constraint violation"),
        IntegrityError,
        "{subject} violates a database constraint (a concurrent transaction committed the "
        "same key first; nothing of this transaction was written): {text}",
    ),
    DuckDBErrorRule(
        "aborted transaction",
        STATEMENTS,
        (duckdb.TransactionException,),
        re.compile("aborted"),
        DatabaseError,
        "the transaction was aborted by an earlier failed statement; roll it back before "
        "running more statements ({text})",
    ),
    DuckDBErrorRule(
        "constraint",
        STATEMENTS,
        (duckdb.ConstraintException,),
        None,
        IntegrityError,
        "{subject} violates a database constraint: {text}",
    ),
    DuckDBErrorRule(
        "rejected statement",
        STATEMENTS,
        (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException),
        None,
        InvalidQueryError,
        "DuckDB rejected the statement: {text}",
    ),
    DuckDBErrorRule(
        "read-only database",
        STATEMENTS,
        (duckdb.InvalidInputException,),
        re.compile("read-only mode"),
        DatabaseError,
        "the database is open read-only (read_only=True); open it without read_only to "
        "change it. DuckDB said: {text}",
    ),
    DuckDBErrorRule(
        "unusable value",
        STATEMENTS,
        (duckdb.InvalidInputException, duckdb.ConversionException),
        None,
        InvalidQueryError,
        "DuckDB could not use a value: {text}",
    ),
    DuckDBErrorRule(
        "other",
        STATEMENTS,
        (duckdb.Error,),
        None,
        DatabaseError,
        "DuckDB failed: {kind}: {text}",
    ),
)


def duckdb_error_rule(exc: duckdb.Error, during: Stage) -> DuckDBErrorRule:
    """The row of :data:`DUCKDB_ERRORS` that translates ``exc`` raised during ``during``."""
    for rule in DUCKDB_ERRORS:
        if rule.matches(exc, during):
            return rule
    raise AssertionError(f"no row of DUCKDB_ERRORS for {during}")  # pragma: no cover


def from_duckdb(
    exc: duckdb.Error,
    *,
    during: Stage,
    entity: str | None = None,
    entity_id: int | None = None,
    database: str = "",
    read_only: bool = False,
) -> ProjectArchitectDBError:
    """The library error that stands for ``exc``; raise it ``from exc``.

    ``entity``/``entity_id`` name the row a statement concerned; ``database`` and
    ``read_only`` say what was being opened.
    """
    failure = DuckDBFailure(exc, entity, entity_id, database, read_only)
    return duckdb_error_rule(exc, during).build(failure)


def is_write_conflict(exc: duckdb.Error) -> bool:
    """Whether ``exc`` is DuckDB's write-write conflict (a ``ConflictError``)."""
    return WRITE_CONFLICT.matches(exc, Stage.STATEMENT)
