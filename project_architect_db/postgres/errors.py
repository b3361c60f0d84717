"""PostgreSQL's errors, translated into the library's (as ``errors.DUCKDB_ERRORS``
does for DuckDB's).

psycopg raises one class per SQLSTATE; the table below matches on the state
(or its two-character class) and the stage, first row wins, and each stage
ends with a row for any ``psycopg.Error``. Messages name the server by its URL
without the password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from ..errors import (
    ConflictError,
    DatabaseError,
    IntegrityError,
    InvalidQueryError,
    PoolClosedError,
    ProjectArchitectDBError,
    Stage,
)

__all__ = [
    "POSTGRES_ERRORS",
    "PostgresErrorRule",
    "from_postgres",
    "is_connection_lost",
    "is_serialization_failure",
]

_STATEMENTS = (Stage.STATEMENT, Stage.CLOSED_ENGINE)


@dataclass(frozen=True, slots=True)
class PostgresFailure:
    exc: psycopg.Error
    entity: str | None = None
    entity_id: int | None = None
    database: str = ""

    @property
    def subject(self) -> str:
        return self.entity or "row"

    @property
    def text(self) -> str:
        said = str(self.exc).strip()
        return said.splitlines()[0] if said else type(self.exc).__name__


@dataclass(frozen=True, slots=True)
class PostgresErrorRule:
    """A psycopg error raised during one of ``during`` whose SQLSTATE starts
    with one of ``states`` (any state when empty) and that ``applies`` (when
    given) becomes ``error`` with ``message`` (a template over ``{text}``,
    ``{subject}``, ``{database}``, ``{state}``, or a function of the failure)."""

    name: str
    during: tuple[Stage, ...]
    states: tuple[str, ...]
    error: type[ProjectArchitectDBError]
    message: str | Callable[[PostgresFailure], str]
    applies: Callable[[psycopg.Error], bool] | None = None

    def matches(self, exc: psycopg.Error, during: Stage) -> bool:
        if during not in self.during:
            return False
        if self.states and not (exc.sqlstate or "").startswith(self.states):
            return False
        return self.applies is None or self.applies(exc)

    def build(self, failure: PostgresFailure) -> ProjectArchitectDBError:
        if callable(self.message):
            message = self.message(failure)
        else:
            message = self.message.format(
                text=failure.text,
                subject=failure.subject,
                database=failure.database,
                state=failure.exc.sqlstate or "none",
            )
        if self.error is ConflictError:
            return ConflictError(failure.subject, failure.entity_id, message)
        return self.error(message)


#: Connection-level states: the server closed the connection, or is shutting down.
_LOST_STATES = ("08", "57P01", "57P02", "57P03")
#: A write that lost to a concurrent transaction: serialization failure, deadlock.
_CONFLICT_STATES = ("40001", "40P01")


def is_connection_lost(exc: BaseException) -> bool:
    """The connection can run nothing more: closed, broken, or the server left."""
    if not isinstance(exc, psycopg.Error):
        return False
    if isinstance(exc, psycopg.InterfaceError):
        return True  # "the connection is closed"
    state = exc.sqlstate
    if state is None:
        # A lost server surfaces as an OperationalError without a state.
        return isinstance(exc, psycopg.OperationalError) and not isinstance(
            exc, psycopg.errors.QueryCanceled
        )
    return state.startswith(_LOST_STATES)


def is_serialization_failure(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and exc.sqlstate in _CONFLICT_STATES


def _lost(failure: PostgresFailure) -> str:
    return (
        f"lost the connection to PostgreSQL at {failure.database} ({failure.text}); the server "
        "stopped, restarted or dropped the connection. Check that it is up; the call did not "
        "complete, so run it again (a transaction that was committing may or may not have "
        "committed: re-read before retrying a write)"
    )


def _open_failure(failure: PostgresFailure) -> str:
    return open_failure_message(failure.database, failure.exc)


#: Every translation of a psycopg exception into the library's.
POSTGRES_ERRORS: tuple[PostgresErrorRule, ...] = (
    # Connecting: what went wrong and what to do (open_failure_message).
    PostgresErrorRule("open", (Stage.OPEN,), (), DatabaseError, _open_failure),
    PostgresErrorRule(
        "migrate",
        (Stage.MIGRATE,),
        (),
        DatabaseError,
        "applying migrations to PostgreSQL at {database} failed ({state}): {text}",
    ),
    PostgresErrorRule(
        "engine closed",
        (Stage.CLOSED_ENGINE,),
        (),
        PoolClosedError,
        "the engine was closed while this operation ran",
        lambda exc: is_connection_lost(exc) or isinstance(exc, psycopg.errors.QueryCanceled),
    ),
    PostgresErrorRule("connection lost", _STATEMENTS, (), DatabaseError, _lost, is_connection_lost),
    PostgresErrorRule(
        "interrupted", _STATEMENTS, ("57014",), DatabaseError, "the statement was interrupted"
    ),
    PostgresErrorRule(
        "write conflict",
        _STATEMENTS,
        _CONFLICT_STATES,
        ConflictError,
        "a concurrent transaction changed it first",
    ),
    PostgresErrorRule(
        "aborted transaction",
        _STATEMENTS,
        ("25P02",),
        DatabaseError,
        "the transaction was aborted by an earlier failed statement; roll it back before "
        "running more statements ({text})",
    ),
    PostgresErrorRule(
        "read-only transaction",
        _STATEMENTS,
        ("25006",),
        DatabaseError,
        "the engine is read-only (read_only=True); open it without read_only to change the "
        "database. PostgreSQL said: {text}",
    ),
    PostgresErrorRule(
        "constraint",
        _STATEMENTS,
        ("23",),
        IntegrityError,
        "{subject} violates a database constraint: {text}",
    ),
    PostgresErrorRule(
        "rejected statement",
        _STATEMENTS,
        ("42", "0A"),
        InvalidQueryError,
        "PostgreSQL rejected the statement ({state}): {text}",
    ),
    PostgresErrorRule(
        "unusable value",
        _STATEMENTS,
        ("22",),
        InvalidQueryError,
        "PostgreSQL could not use a value ({state}): {text}",
    ),
    PostgresErrorRule(
        "unadaptable value",
        _STATEMENTS,
        (),
        InvalidQueryError,
        "a value cannot be sent to PostgreSQL: {text}",
        # Refused by psycopg before anything reached the server: a type it cannot
        # adapt, text with a NUL (PostgreSQL text cannot hold one).
        lambda exc: (
            isinstance(exc, psycopg.ProgrammingError | psycopg.DataError) and exc.sqlstate is None
        ),
    ),
    PostgresErrorRule(
        "other", _STATEMENTS, (), DatabaseError, "PostgreSQL failed ({state}): {text}"
    ),
)


def postgres_error_rule(exc: psycopg.Error, during: Stage) -> PostgresErrorRule:
    for rule in POSTGRES_ERRORS:
        if rule.matches(exc, during):
            return rule
    raise AssertionError(f"no row of POSTGRES_ERRORS for {during}")  # pragma: no cover


def from_postgres(
    exc: Exception,
    *,
    during: Stage,
    entity: str | None = None,
    entity_id: int | None = None,
    database: str = "",
) -> ProjectArchitectDBError:
    """The library error that stands for ``exc``; raise it ``from exc``."""
    assert isinstance(exc, psycopg.Error)
    return postgres_error_rule(exc, during).build(PostgresFailure(exc, entity, entity_id, database))


def open_failure_message(database: str, exc: psycopg.Error) -> str:
    """What to do when connecting to ``database`` (a URL without its password) failed."""
    text = str(exc).strip()
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        fix = "the server refused the user or password; fix them in the URL (or in ~/.pgpass)"
    elif "does not exist" in lowered and "database" in lowered:
        fix = "the database does not exist; create it (createdb NAME) or fix its name in the URL"
    elif "role" in lowered and "does not exist" in lowered:
        fix = "the user does not exist on that server; fix the user in the URL"
    elif "connection refused" in lowered or "could not connect" in lowered or "timeout" in lowered:
        fix = (
            "no server answered there; start PostgreSQL (pg_ctlcluster VERSION NAME start) or "
            "fix the host and port in the URL"
        )
    elif "could not translate host name" in lowered or "name or service not known" in lowered:
        fix = "the host name is unknown; fix the host in the URL"
    else:
        fix = "check the URL and that the server accepts connections from this machine"
    first = text.splitlines()[-1] if text else type(exc).__name__
    return f"cannot connect to PostgreSQL at {database}: {fix} (psycopg said: {first})"
