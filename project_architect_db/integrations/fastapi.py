"""FastAPI and Starlette integration: one engine per app, opened and closed by
the app's lifespan, a session or a transaction per request as a dependency, and
the library's errors as HTTP responses.

    from fastapi import Depends, FastAPI
    from project_architect_db import ProjectCreate, ProjectRepository, Session
    from project_architect_db.integrations.fastapi import Database

    db = Database("duckdb:///app.duckdb", pool_size=8)
    app = FastAPI(lifespan=db.lifespan)
    db.install(app)

    @app.post("/projects", status_code=201)
    async def create(data: ProjectCreate, session: Session = Depends(db.transaction)):
        return await ProjectRepository(session).create(data)

Only Starlette is needed for the lifespan, the error handlers and
``db.session``; ``db.transaction`` is a FastAPI dependency and imports FastAPI
when first used (see :attr:`Database.transaction` for why). Install both with
``pip install "project_architect_db[fastapi]"``.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Unpack

from pydantic import ValidationError

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
except ImportError as exc:  # tests/test_fastapi_integration.py hides starlette to check this
    raise ImportError(
        "project_architect_db.integrations.fastapi needs Starlette (FastAPI brings it); "
        'install it with: pip install "project_architect_db[fastapi]"'
    ) from exc

from ..core.config import EngineOptions
from ..core.engine import DatabaseEngine
from ..core.session import Session
from ..errors import (
    ConflictError,
    DatabaseError,
    IntegrityError,
    InvalidQueryError,
    NotFoundError,
    PoolClosedError,
    PoolTimeoutError,
    ProjectArchitectDBError,
    StatementTimeoutError,
)

__all__ = ["Database"]

logger = logging.getLogger(__name__)

#: The ``detail`` of every 500: the real error names SQL, parameters or file
#: paths, which belong in the log, never in a response.
INTERNAL_ERROR: Final = "internal database error"

#: Seconds a client is asked to wait after a 503 for a busy pool.
RETRY_AFTER_SECONDS: Final = 1


@dataclass(frozen=True, slots=True)
class _Reply:
    """How one library error class becomes a response."""

    status: int
    #: The response's ``detail``; None: the error's own message (it names the
    #: entity and id, and says what to change).
    detail: str | None = None
    #: Log the error, with its traceback, at this level (None: a client error,
    #: not logged).
    log_level: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


#: Library error class -> response. An error takes the row of the first class of
#: its MRO found here (StatementTimeoutError before DatabaseError): each row is
#: its own handler, and Starlette picks handlers that way.
_REPLIES: Final[Mapping[type[Exception], _Reply]] = {
    NotFoundError: _Reply(404),
    ConflictError: _Reply(409),
    IntegrityError: _Reply(409),
    InvalidQueryError: _Reply(400),
    PoolTimeoutError: _Reply(
        503,
        "the database is busy; retry shortly",
        logging.WARNING,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    ),
    # A fixed detail: the library's message names the database file.
    PoolClosedError: _Reply(503, "the database is not available", logging.ERROR),
    StatementTimeoutError: _Reply(504, "the database took too long to answer", logging.WARNING),
    DatabaseError: _Reply(500, INTERNAL_ERROR, logging.ERROR),
    ProjectArchitectDBError: _Reply(500, INTERNAL_ERROR, logging.ERROR),
}


class Database:
    """One :class:`DatabaseEngine` for one web app, with the pieces the app needs.

    ``Database(database_url, **options)`` takes exactly ``DatabaseEngine``'s
    arguments; the engine is ``db.engine`` (for ``stats()``, ``snapshot()``,
    ``execute_raw()``). Nothing is opened until the app starts:

    * ``FastAPI(lifespan=db.lifespan)`` / ``Starlette(lifespan=db.lifespan)``
      opens the database (applying migrations) at start-up and closes it at
      shutdown.
    * ``db.install(app)`` maps the library's errors to HTTP responses.
    * ``Depends(db.session)``: an auto-commit session for the request;
      ``Depends(db.transaction)``: one transaction for the request, committed
      before the response is sent.
    """

    def __init__(
        self,
        database_url: str | Path = "duckdb:///:memory:",
        **options: Unpack[EngineOptions],
    ) -> None:
        self.engine = DatabaseEngine(database_url, **options)

    def __repr__(self) -> str:
        return f"<Database {self.engine!r}>"

    @asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """The app's lifespan: open the engine (migrations run) before the first
        request, close it at shutdown. To run your own start-up work too, enter
        it from your lifespan: ``async with db.lifespan(app): ...``."""
        async with self.engine:
            yield

    def install(self, app: Starlette) -> None:
        """Register the handlers that turn the library's errors into JSON
        responses ``{"detail": ..., "error": "<ErrorClassName>"}`` on ``app``
        (FastAPI or Starlette): NotFoundError 404, ConflictError and
        IntegrityError 409, InvalidQueryError 400, pydantic's ValidationError
        422, PoolTimeoutError 503 with Retry-After, PoolClosedError 503,
        StatementTimeoutError 504, any other library error 500 with a generic
        detail (the full error is logged)."""
        # Starlette picks the handler of the nearest class in the error's MRO.
        for error, reply in _REPLIES.items():
            app.add_exception_handler(error, _library_error(reply))
        app.add_exception_handler(ValidationError, _validation_error)

    async def session(self) -> AsyncIterator[Session]:
        """Dependency: an auto-commit session for the request (each statement
        commits on its own), given back to the pool when FastAPI ends the
        dependency (after the response by default, so a streaming response can
        still read; ``Depends(db.session, scope="function")`` gives the
        connection back before the response is sent)."""
        self._check_open()
        async with self.engine.session() as session:
            yield session

    @cached_property
    def transaction(self) -> Callable[..., Awaitable[Session]]:
        """Dependency: one transaction for the request, committed when the
        handler returns and before the response is sent, rolled back if the
        handler (or another dependency) raises. A failed commit is an error
        response, never a 2xx.

        Why it is built this way: since FastAPI 0.118 the code after ``yield``
        in a dependency runs after the response has been sent (FastAPI
        0.106-0.117 ran it before), so committing there would send 201 for a
        commit that then fails. FastAPI 0.121 added ``Depends(...,
        scope="function")``, which ends a dependency when the handler returns,
        before the response, with its errors going to the exception handlers.
        ``Depends(db.transaction)`` must be enough on its own, so this is a
        plain dependency whose one parameter opens the transaction in that
        scope; FastAPI is imported here because only its ``Depends`` can
        declare the scope.
        """
        try:
            from fastapi import Depends
        except ImportError as exc:
            raise ImportError(
                "db.transaction is a FastAPI dependency; install FastAPI with: "
                'pip install "project_architect_db[fastapi]"'
            ) from exc
        if "scope" not in inspect.signature(Depends).parameters:
            raise ImportError(
                "db.transaction needs FastAPI >= 0.121 (Depends(..., scope='function')) to "
                "commit before the response is sent; upgrade FastAPI"
            )

        opened = Depends(self._transaction, scope="function")

        async def transaction(session: Session = opened) -> Session:
            return session

        return transaction

    async def _transaction(self) -> AsyncIterator[Session]:
        self._check_open()
        async with self.engine.transaction() as session:
            yield session

    def _check_open(self) -> None:
        """Say how to open the database, rather than the engine's generic hint."""
        if not self.engine.is_open:
            raise PoolClosedError(
                f"the database {self.engine.config.database!r} is not open: create the app "
                "with lifespan=db.lifespan (FastAPI(lifespan=db.lifespan) or "
                "Starlette(lifespan=db.lifespan)), or enter 'async with db.lifespan(app):' "
                "yourself (httpx's ASGITransport does not run the lifespan); after "
                "shutdown it stays closed"
            )


# -- exception handlers ----------------------------------------------------------------------


def _library_error(reply: _Reply) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The handler that answers the errors of one row of ``_REPLIES``."""

    async def handle(request: Request, exc: Exception) -> Response:
        if reply.log_level is not None:
            logger.log(
                reply.log_level,
                "%s %s failed: %s: %s",
                request.scope.get("method", "WEBSOCKET"),
                request.url.path,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
        return JSONResponse(
            {
                "detail": str(exc) if reply.detail is None else reply.detail,
                "error": type(exc).__name__,
            },
            status_code=reply.status,
            headers=dict(reply.headers),
        )

    return handle


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    # Input values are left out: they may be large or secret, and the client has them.
    errors = exc.errors(include_input=False, include_url=False)
    return JSONResponse(
        {"detail": [_jsonable(dict(error)) for error in errors], "error": type(exc).__name__},
        status_code=422,
    )


def _jsonable(value: object) -> Any:
    """``value`` with everything JSON cannot hold as text: an error's ``ctx``
    can hold the exception a validator raised, a Decimal, a date, infinity."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)
