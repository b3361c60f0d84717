"""The library's exception hierarchy.

Every error raised by the public API derives from :class:`ProjectArchitectDBError`;
DuckDB's own exceptions never escape (they are chained as ``__cause__``).
Pydantic's ``ValidationError`` is the one exception from another library that
callers see: it is raised, unchanged, when input data fails validation.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "DatabaseError",
    "IntegrityError",
    "InvalidQueryError",
    "NotFoundError",
    "PoolClosedError",
    "PoolTimeoutError",
    "ProjectArchitectDBError",
    "StatementTimeoutError",
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
