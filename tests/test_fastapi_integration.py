"""project_architect_db.integrations.fastapi itself, on asyncio and trio, with
real DuckDB files: the transaction dependency commits before the response is
sent (a failed commit is an error response, never a 2xx) and rolls back when
the handler raises; the lifespan; the handlers on a plain Starlette app; and
the edge cases of ``Database``. The example app's tests are in
test_fastapi_app.py.

No ``from __future__ import annotations`` here: FastAPI reads the annotations of
the handlers defined inside the tests, and a string annotation naming a local
(``Depends(db.transaction)``) cannot be resolved from the module's globals.
"""

import importlib
import inspect
import json
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal
from fastapi import Depends, FastAPI, HTTPException
from helpers import LONG_QUERY, held, project_data
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from project_architect_db import (
    DatabaseEngine,
    DatabaseError,
    IntegrityError,
    NotFoundError,
    PoolClosedError,
    ProjectRepository,
    ProjectUpdate,
    Session,
)
from project_architect_db.integrations.fastapi import Database

LOGGER = "project_architect_db.integrations.fastapi"
MODULE = "project_architect_db.integrations.fastapi"


@asynccontextmanager
async def serving(
    app: Starlette, *, asgi: ASGIApp | None = None, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (ASGITransport does not run the lifespan) and a client on
    it, or on ``asgi`` wrapping it."""
    transport = httpx.ASGITransport(app=asgi or app, raise_app_exceptions=raise_app_exceptions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def fastapi_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    db.install(app)
    return app


async def names(db: Database) -> list[str]:
    """The projects' names, read on a connection of its own (committed rows only)."""
    rows = await db.engine.execute_raw("SELECT name FROM projects ORDER BY id")
    return [row["name"] for row in rows]


async def audit_count(db: Database) -> int:
    rows = await db.engine.execute_raw("SELECT count(*) AS n FROM audit_log")
    return int(rows[0]["n"])


class ResponseStartProbe:
    """ASGI wrapper that runs ``probe`` when the response starts, before its
    first byte reaches the client."""

    def __init__(self, app: ASGIApp, probe: Callable[[], Awaitable[None]]) -> None:
        self.app = app
        self.probe = probe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def probing(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self.probe()
            await send(message)

        await self.app(scope, receive, probing)


# -- db.transaction: commit before the response, roll back on errors ------------------------


async def test_the_transaction_commits_before_the_response_starts(
    pad_database_url: str | Path,
) -> None:
    """What a client can see when the response starts: the row written by
    ``db.transaction`` is committed; with a plain ``yield`` dependency (FastAPI
    >= 0.118 ends it after the response is sent) it is not yet, which is why
    ``db.transaction`` is built the way it is."""
    db = Database(pad_database_url)
    app = fastapi_app(db)

    async def plain_transaction() -> AsyncIterator[Session]:
        async with db.engine.transaction() as session:
            yield session

    @app.post("/ours", status_code=201)
    async def ours(session: Annotated[Session, Depends(db.transaction)]) -> dict[str, int]:
        return {"id": (await ProjectRepository(session).create(project_data(name="ours"))).id}

    @app.post("/plain", status_code=201)
    async def plain(session: Annotated[Session, Depends(plain_transaction)]) -> dict[str, int]:
        return {"id": (await ProjectRepository(session).create(project_data(name="plain"))).id}

    seen: list[list[str]] = []

    async def probe() -> None:
        seen.append(await names(db))

    async with serving(app, asgi=ResponseStartProbe(app, probe)) as client:
        assert (await client.post("/ours")).status_code == 201
        assert (await client.post("/plain")).status_code == 201
        assert seen[0] == ["ours"]
        # The control: if this fails, FastAPI ends yield dependencies before the
        # response again, and db.transaction could be a plain one.
        assert seen[1] == ["ours"], "the plain dependency committed before the response"
        assert await names(db) == ["ours", "plain"]


async def test_a_failed_commit_is_an_error_response_and_writes_nothing(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # DuckDB only (db_path): on PostgreSQL the second insert waits for the first
    # transaction's row lock, and the request waits for the second insert.
    db = Database(db_path)
    app = fastapi_app(db)
    insert = "INSERT INTO projects (id, name, project_idea) VALUES (100, $name, 'Same id twice')"

    @app.post("/projects", status_code=201)
    async def create(session: Annotated[Session, Depends(db.transaction)]) -> dict[str, bool]:
        await session.execute(insert, {"name": "mine"})
        # Another connection commits the same key first: DuckDB refuses ours at COMMIT.
        await db.engine.execute_raw(insert, {"name": "theirs"})
        return {"created": True}

    async with serving(app) as client:
        response = await client.post("/projects")
        # The duplicate key found at COMMIT is the client's conflict, not a 2xx and not a 500.
        assert response.status_code == 409
        body = response.json()
        assert body["error"] == "IntegrityError"
        assert "committed the same key first" in body["detail"]
        assert await names(db) == ["theirs"]
        assert db.engine.stats().checked_out == 0
    # A client error: nothing logged by the handlers.
    assert [r for r in caplog.records if r.name == LOGGER] == []


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (NotFoundError("conversation", 7), 404),
        (HTTPException(status_code=418, detail="no"), 418),
        (RuntimeError("a bug in the handler"), 500),
    ],
    ids=["library error", "HTTPException", "any exception"],
)
async def test_a_handler_that_raises_rolls_the_transaction_back(
    pad_database_url: str | Path, raised: Exception, status: int
) -> None:
    db = Database(pad_database_url)
    app = fastapi_app(db)

    @app.post("/projects")
    async def create(session: Annotated[Session, Depends(db.transaction)]) -> None:
        await ProjectRepository(session).create(project_data())
        raise raised

    async with serving(app, raise_app_exceptions=False) as client:
        assert (await client.post("/projects")).status_code == status
        assert await names(db) == []
        assert await audit_count(db) == 0
        assert db.engine.stats().checked_out == 0


async def test_a_request_has_one_transaction_and_sessions_commit_each_call(
    pad_database_url: str | Path,
) -> None:
    db = Database(pad_database_url)
    app = fastapi_app(db)

    async def repository(
        session: Annotated[Session, Depends(db.transaction)],
    ) -> ProjectRepository:
        return ProjectRepository(session)

    @app.post("/both")
    async def both(
        session: Annotated[Session, Depends(db.transaction)],
        projects: Annotated[ProjectRepository, Depends(repository)],
        other: Annotated[Session, Depends(db.session)],
    ) -> dict[str, bool]:
        return {"shared": projects.session is session, "separate": other is not session}

    @app.post("/auto")
    async def auto(session: Annotated[Session, Depends(db.session)]) -> None:
        await ProjectRepository(session).create(project_data(name="kept"))
        raise NotFoundError("project", 1)  # an auto-commit write is already committed

    async with serving(app) as client:
        assert (await client.post("/both")).json() == {"shared": True, "separate": True}
        assert (await client.post("/auto")).status_code == 404
        assert await names(db) == ["kept"]


# -- the lifespan ------------------------------------------------------------------------------


async def test_the_lifespan_opens_migrates_and_closes(pad_database_url: str | Path) -> None:
    db = Database(pad_database_url, pool_size=2)
    app = Starlette(lifespan=db.lifespan)
    assert not db.engine.is_open
    async with app.router.lifespan_context(app):
        assert db.engine.is_open
        applied = await db.engine.execute_raw("SELECT count(*) AS n FROM schema_migrations")
        assert applied[0]["n"] >= 1
        assert await names(db) == []
    assert not db.engine.is_open
    with pytest.raises(PoolClosedError):
        db.engine.stats()


async def test_using_a_session_outside_the_lifespan_says_how_to_open(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(db_path)
    with pytest.raises(PoolClosedError, match=r"lifespan=db\.lifespan") as refused:
        await db.session().__anext__()
    assert "ASGITransport does not run the lifespan" in str(refused.value)

    app = fastapi_app(db)

    @app.post("/projects")
    async def create(session: Annotated[Session, Depends(db.transaction)]) -> None:
        raise AssertionError("never reached")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/projects")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the database is not available",
        "error": "PoolClosedError",
    }
    assert any("lifespan=db.lifespan" in r.getMessage() for r in caplog.records)
    assert not await anyio.Path(db_path).exists()  # nothing was opened


async def test_a_second_process_on_the_file_fails_at_start_up(db_path: Path) -> None:
    """One app process per database file: DuckDB lets one process write it."""
    db = Database(db_path)
    app = fastapi_app(db)
    with held(db_path, "writer") as pid, pytest.raises(DatabaseError) as refused:
        async with app.router.lifespan_context(app):
            raise AssertionError("started beside another writer")
    assert "is locked by another process" in str(refused.value)
    assert f"process {pid} " in str(refused.value)
    assert not db.engine.is_open


# -- Database's own edge cases ------------------------------------------------------------------


def test_database_takes_exactly_the_engines_arguments(db_path: Path) -> None:
    ours = inspect.signature(Database.__init__).parameters
    engines = inspect.signature(DatabaseEngine.__init__).parameters
    assert [(p.name, p.kind, p.default, p.annotation) for p in ours.values()] == [
        (p.name, p.kind, p.default, p.annotation) for p in engines.values()
    ]
    db = Database(f"duckdb:///{db_path}", pool_size=3, statement_timeout=2.5)
    assert (db.engine.config.database, db.engine.config.pool_size) == (str(db_path), 3)
    assert db.engine.config.statement_timeout == 2.5
    with pytest.raises(ValidationError, match="pool_sise"):
        Database(db_path, pool_sise=3)  # type: ignore[call-arg]


def reimporting(monkeypatch: pytest.MonkeyPatch, hidden: str) -> None:
    """Make the next import of the module a fresh one with package ``hidden``
    missing; the test's end puts everything back."""
    for name in [m for m in sys.modules if m == hidden or m.startswith(f"{hidden}.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, MODULE)
    package = sys.modules["project_architect_db.integrations"]
    monkeypatch.setattr(package, "fastapi", package.fastapi)


def test_the_module_without_starlette_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    reimporting(monkeypatch, "starlette")
    with pytest.raises(ImportError, match=r'pip install "project_architect_db\[fastapi\]"'):
        importlib.import_module(MODULE)


async def test_without_fastapi_only_the_transaction_dependency_is_missing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reimporting(monkeypatch, "fastapi")
    fresh = importlib.import_module(MODULE)  # imports Starlette only
    db = fresh.Database(db_path)
    with pytest.raises(ImportError, match=r'pip install "project_architect_db\[fastapi\]"'):
        _ = db.transaction

    async def missing(request: Request) -> Response:
        async with db.engine.session() as session:
            assert await ProjectRepository(session).get_by_id(1) is None
        raise NotFoundError("project", 1)

    app = Starlette(routes=[Route("/", missing)], lifespan=db.lifespan)
    db.install(app)
    async with serving(app) as client:
        response = await client.get("/")
    assert response.status_code == 404
    assert response.json() == {"detail": "project 1 not found", "error": "NotFoundError"}


# -- the handlers on a plain Starlette app ----------------------------------------------------


def starlette_app(db: Database) -> Starlette:
    """Endpoints that each meet one real failure of the library; no FastAPI."""
    engine = db.engine

    async def created(request: Request) -> Response:
        async with engine.transaction() as session:
            project = await ProjectRepository(session).create(project_data())
        return JSONResponse({"id": project.id}, status_code=201)

    async def missing(request: Request) -> Response:
        async with engine.transaction() as session:
            await ProjectRepository(session).update(404, {"name": "X"})
        raise AssertionError("unreachable")

    async def stale(request: Request) -> Response:
        async with engine.transaction() as session:
            projects = ProjectRepository(session)
            project = await projects.create(project_data(name="stale"))
            await projects.update(project.id, {"name": "Y"}, expected_version=9)
        raise AssertionError("unreachable")

    async def duplicate(request: Request) -> Response:
        insert = "INSERT INTO projects (id, name, project_idea) VALUES (50, 'dup', 'Same id')"
        async with engine.transaction() as session:
            await session.execute(insert)
            await session.execute(insert)
        raise AssertionError("unreachable")

    async def bad_sql(request: Request) -> Response:
        await engine.execute_raw("SELEC name FROM projects")
        raise AssertionError("unreachable")

    async def invalid(request: Request) -> Response:
        async with engine.transaction() as session:
            await ProjectRepository(session).create({"name": "", "project_idea": "short"})
        raise AssertionError("unreachable")

    async def busy(request: Request) -> Response:
        async with engine.session(), engine.session():  # the pool holds one
            raise AssertionError("unreachable")

    async def slow(request: Request) -> Response:
        async with engine.session(statement_timeout=0.2) as session:
            await session.execute(LONG_QUERY)
        raise AssertionError("unreachable")

    async def aborted(request: Request) -> Response:
        insert = "INSERT INTO projects (id, name, project_idea) VALUES (60, 'gone', 'Same id')"
        async with engine.transaction() as session:
            await session.execute(insert)
            with suppress(IntegrityError):
                await session.execute(insert)
            # DuckDB aborted the transaction at the failed statement.
            await session.execute("SELECT 1")
        raise AssertionError("unreachable")

    routes = [
        Route(f"/{endpoint.__name__.replace('_', '-')}", endpoint, methods=["POST"])
        for endpoint in [created, missing, stale, duplicate, bad_sql, invalid, busy, slow, aborted]
    ]
    app = Starlette(routes=routes, lifespan=db.lifespan)
    db.install(app)
    return app


@pytest.mark.parametrize(
    ("path", "status", "error", "detail"),
    [
        ("/created", 201, None, None),
        (
            "/missing",
            404,
            "NotFoundError",
            "project 404 not found: it does not exist or is deleted",
        ),
        ("/stale", 409, "ConflictError", "expected version 9 but it is at version 1"),
        ("/duplicate", 409, "IntegrityError", "row violates a database constraint"),
        ("/bad-sql", 400, "InvalidQueryError", "DuckDB rejected the statement"),
        ("/invalid", 422, "ValidationError", [["name"], ["project_idea"]]),
        ("/busy", 503, "PoolTimeoutError", "the database is busy; retry shortly"),
        ("/slow", 504, "StatementTimeoutError", "the database took too long to answer"),
        ("/aborted", 500, "DatabaseError", "internal database error"),
    ],
)
async def test_a_plain_starlette_app_gets_the_same_responses(
    db_path: Path, path: str, status: int, error: str | None, detail: str | list[Any] | None
) -> None:
    db = Database(db_path, pool_size=1, max_overflow=0, pool_timeout=0.05)
    async with serving(starlette_app(db)) as client:
        response = await client.post(path)
        assert response.status_code == status, response.text
        body = response.json()
        if error is None:
            assert await names(db) == ["Atlas"]
            return
        assert body["error"] == error
        if isinstance(detail, list):  # pydantic's errors: where each one is
            assert [e["loc"] for e in body["detail"]] == detail
        else:
            assert detail in body["detail"]
        assert ("Retry-After" in response.headers) is (status == 503)
        # Every failure wrote nothing and gave its connection back.
        assert await names(db) == []
        assert db.engine.stats().checked_out == 0


async def test_validation_details_are_json_whatever_the_context_holds(
    pad_database_url: str | Path,
) -> None:
    """An error's ctx can hold an exception, a Decimal, a date or infinity;
    each comes back as text, and no input value comes back."""
    checks: dict[str, tuple[Any, Any]] = {
        "exception": (TypeAdapter(ProjectUpdate), {"name": "secret\x00value"}),
        "decimal": (TypeAdapter(Annotated[Decimal, Field(gt=Decimal("0.5"))]), "0.25"),
        "date": (TypeAdapter(Annotated[date, Field(gt=date(2030, 1, 1))]), "2020-02-02"),
        "infinity": (TypeAdapter(Annotated[float, Field(ge=-math.inf, lt=math.inf)]), math.inf),
    }

    async def check(request: Request) -> Response:
        validator, value = checks[request.path_params["kind"]]
        validator.validate_python(value)
        raise AssertionError("unreachable")

    db = Database(pad_database_url)
    app = Starlette(routes=[Route("/{kind}", check)], lifespan=db.lifespan)
    db.install(app)
    async with serving(app) as client:
        bodies = {kind: (await client.get(f"/{kind}")) for kind in checks}
    for response in bodies.values():
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"
        assert all("input" not in e and "url" not in e for e in response.json()["detail"])
    ctx = {kind: response.json()["detail"][0]["ctx"] for kind, response in bodies.items()}
    assert ctx == {
        "exception": {"error": "text must not contain NUL (\\x00) characters"},
        "decimal": {"gt": "0.5"},
        "date": {"gt": "2030-01-01"},
        "infinity": {"lt": "inf"},
    }
    assert "secret" not in bodies["exception"].text


def updating_app(db: Database) -> Starlette:
    """PATCH /{id}: the request's JSON body, as sent, to ProjectRepository.update."""

    async def update(request: Request) -> Response:
        async with db.engine.transaction() as session:
            project = await ProjectRepository(session).update(
                request.path_params["id"], await request.json()
            )
        return JSONResponse({"version": project.version})

    app = Starlette(routes=[Route("/{id:int}", update, methods=["PATCH"])], lifespan=db.lifespan)
    db.install(app)
    return app


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.fixed_dictionaries(
        {},
        # Each field: a value that may be valid, or any JSON at all.
        optional={
            "name": st.text(min_size=1, max_size=30) | JSON_VALUES,
            "description": st.none() | st.text(max_size=30) | JSON_VALUES,
            "project_idea": st.text(min_size=10, max_size=40) | JSON_VALUES,
            "status": st.sampled_from(["draft", "active", "completed", "archived"]) | JSON_VALUES,
            "architecture": st.dictionaries(st.text(max_size=5), JSON_VALUES) | JSON_VALUES,
            "unknown": JSON_VALUES,
        },
    )
)
def test_any_update_body_gets_the_update_or_a_422_naming_its_fields(
    portal: BlockingPortal, tmp_path: Path, body: dict[str, Any]
) -> None:
    """Whatever JSON a client sends to a handler that hands it to the library
    (NaN, NUL characters, nested junk), the answer is the update or a 422 that
    is JSON and names only fields the client sent; never a 500."""

    async def patch() -> httpx.Response:
        db = Database(tmp_path / "property.duckdb")
        async with serving(updating_app(db)) as client:
            async with db.engine.transaction() as session:
                project = await ProjectRepository(session).create(project_data())
            # json.dumps writes NaN and Infinity, as some clients do.
            return await client.patch(f"/{project.id}", content=json.dumps(body).encode())

    response = portal.call(patch)
    event(f"status {response.status_code}")
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["version"] == (2 if body else 1)
    else:
        assert response.json()["error"] == "ValidationError"
        fields = {tuple(error["loc"])[:1] for error in response.json()["detail"]}
        assert fields <= {(key,) for key in body}
