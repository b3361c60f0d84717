"""The example app (examples/fastapi_app) through httpx's ASGI transport, on
asyncio and trio, each test on its own DuckDB file: every endpoint, and every
status the integration maps, each caused by a real database failure (no mocks).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from helpers import project_data

from project_architect_db import (
    ConversationRepository,
    DatabaseEngine,
    DatabaseError,
    ProjectRepository,
)
from project_architect_db.integrations.fastapi import Database

# examples/ is not an installed package: load the app from the checkout the tests run in.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))
create_app: Callable[..., FastAPI] = importlib.import_module("fastapi_app.app").create_app

LOGGER = "project_architect_db.integrations.fastapi"


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (ASGITransport does not run the lifespan, so it is
    entered here) and a client on it."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def db_of(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
def app(pad_database_url: str | Path) -> FastAPI:
    # The suite's database: a DuckDB file, or PostgreSQL with --pad-database-url.
    return create_app(str(pad_database_url))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as client:
        yield client


async def new_project(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/projects", json=project_data(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def rows(app: FastAPI, sql: str) -> list[dict[str, Any]]:
    """What the database holds, read on a connection of its own."""
    return await db_of(app).engine.execute_raw(sql)


def assert_error(response: httpx.Response, status: int, error: str) -> Any:
    """The integration's error shape; the detail."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "error"}
    assert body["error"] == error
    return body["detail"]


# -- the endpoints ----------------------------------------------------------------------------


async def test_a_project_is_created_read_updated_listed_and_deleted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    project = await new_project(client, name="Atlas")
    assert (project["name"], project["status"], project["version"]) == ("Atlas", "draft", 1)

    read = await client.get(f"/projects/{project['id']}")
    assert read.status_code == 200
    assert read.json()["name"] == "Atlas"
    assert read.json()["conversations"] == []

    updated = await client.patch(
        f"/projects/{project['id']}",
        params={"expected_version": 1},
        json={"status": "active", "description": "All services, one map"},
    )
    assert updated.status_code == 200
    assert (updated.json()["status"], updated.json()["version"]) == ("active", 2)

    listed = await client.get("/projects", params={"status": "active"})
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    assert [item["id"] for item in listed.json()["items"]] == [project["id"]]

    deleted = await client.delete(f"/projects/{project['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(f"/projects/{project['id']}")).status_code == 404

    async with db_of(app).engine.session() as session:
        history = await ProjectRepository(session).history(project["id"])
    assert [entry.action for entry in history] == ["create", "update", "delete"]


async def test_projects_are_listed_with_filters_order_and_pages(client: httpx.AsyncClient) -> None:
    for name in ["Atlas API", "Beacon", "Comet API", "Dune API", "Echo"]:
        await new_project(client, name=name)

    page = await client.get(
        "/projects", params={"name": "api", "order_by": "-id", "limit": 2, "offset": 1}
    )
    assert page.status_code == 200
    assert page.json()["total"] == 3
    assert [item["name"] for item in page.json()["items"]] == ["Comet API", "Atlas API"]


async def test_a_kickoff_writes_both_or_neither(app: FastAPI, client: httpx.AsyncClient) -> None:
    project = await new_project(client)
    kickoff = {"title": "Kickoff", "message": "Where do we start?"}

    started = await client.post(
        f"/projects/{project['id']}/kickoff", params={"expected_version": 1}, json=kickoff
    )
    assert started.status_code == 201, started.text
    assert [m["content"] for m in started.json()["messages"]] == ["Where do we start?"]

    # The conversation is created first, then the version check fails: the
    # handler raised, so the transaction rolled the conversation back.
    again = await client.post(
        f"/projects/{project['id']}/kickoff", params={"expected_version": 1}, json=kickoff
    )
    assert_error(again, 409, "ConflictError")
    assert await rows(app, "SELECT count(*) AS n FROM conversations") == [{"n": 1}]
    assert await rows(app, "SELECT status, version FROM projects") == [
        {"status": "active", "version": 2}
    ]


async def test_a_conversation_keeps_its_messages_in_order(client: httpx.AsyncClient) -> None:
    project = await new_project(client)
    created = await client.post(
        "/conversations",
        json={
            "project_id": project["id"],
            "title": "Design review",
            "messages": [{"role": "user", "content": "Is the event bus needed?"}],
        },
    )
    assert created.status_code == 201, created.text
    conversation_id = created.json()["id"]

    for role, content in [("assistant", "For the audit trail, yes."), ("user", "Then keep it.")]:
        appended = await client.post(
            f"/conversations/{conversation_id}/messages", json={"role": role, "content": content}
        )
        assert appended.status_code == 201, appended.text
        assert appended.json()["content"] == content

    read = await client.get(f"/conversations/{conversation_id}")
    assert read.status_code == 200
    messages = read.json()["messages"]
    assert [m["content"] for m in messages] == [
        "Is the event bus needed?",
        "For the audit trail, yes.",
        "Then keep it.",
    ]
    positions = [m["position"] for m in messages]
    assert positions == sorted(positions)

    missing = await client.post(
        "/conversations/999/messages", json={"role": "user", "content": "?"}
    )
    assert assert_error(missing, 404, "NotFoundError") == (
        "conversation 999 not found: it does not exist or is deleted"
    )
    assert (await client.get("/conversations/999")).status_code == 404


async def test_reading_a_document_counts_the_read(client: httpx.AsyncClient) -> None:
    project = await new_project(client)
    created = await client.post(
        "/documents",
        json={
            "project_id": project["id"],
            "title": "ADR 1",
            "doc_type": "adr",
            "content": "Use DuckDB.",
        },
    )
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]

    counts = [(await client.get(f"/documents/{document_id}")).json()["access_count"] for _ in "ab"]
    assert counts == [1, 2]
    assert_error(await client.get("/documents/999"), 404, "NotFoundError")


async def test_search_finds_projects_and_documents_by_stemmed_words(
    client: httpx.AsyncClient,
) -> None:
    project = await new_project(client, name="Event driven architecture")
    await new_project(client, name="Billing")
    await client.post(
        "/documents",
        json={
            "project_id": project["id"],
            "title": "Deployment pipeline",
            "doc_type": "adr",
            "content": "Deployments run from the main branch.",
        },
    )

    found = (await client.get("/search", params={"q": "architectures"})).json()
    assert [p["name"] for p in found["projects"]] == ["Event driven architecture"]
    assert found["documents"] == []

    hits = (await client.get("/search", params={"q": "deploying", "doc_type": "adr"})).json()
    assert [hit["item"]["title"] for hit in hits["documents"]] == ["Deployment pipeline"]
    assert hits["documents"][0]["score"] > 0
    assert "Deploy" in hits["documents"][0]["snippet"]

    assert (await client.get("/search", params={"q": "  "})).json() == {
        "projects": [],
        "documents": [],
    }


async def test_analytics_count_what_was_written(client: httpx.AsyncClient) -> None:
    project = await new_project(client)
    await new_project(client, name="Second")
    await client.post(
        "/conversations",
        json={
            "project_id": project["id"],
            "title": "Kickoff",
            "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi"},
            ],
        },
    )

    flow = await client.get("/analytics/conversations")
    assert flow.status_code == 200
    assert flow.json()["total_conversations"] == 1
    assert flow.json()["messages_by_role"] == {"user": 1, "assistant": 1}

    series = await client.get("/analytics/time-series", params={"metric": "projects_created"})
    assert series.status_code == 200
    assert sum(point["value"] for point in series.json()["points"]) == 2


async def test_admin_stats_are_the_engines(pad_database_url: str | Path) -> None:
    app = create_app(str(pad_database_url), pool_size=3, max_overflow=1)
    async with serving(app) as client:
        await new_project(client)
        stats = await client.get("/admin/stats")
    assert stats.status_code == 200
    body = stats.json()
    assert (body["pool_size"], body["max_overflow"], body["checked_out"]) == (3, 1, 0)
    assert body["total_acquisitions"] >= 1
    assert body["queries"]


async def test_admin_snapshot_writes_a_copy_analysts_can_open(
    client: httpx.AsyncClient, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APP_SNAPSHOT_DIR", raising=False)
    await new_project(client, name="Copied")

    taken = await client.post("/admin/snapshot")
    assert taken.status_code == 201, taken.text
    path = Path(taken.json()["path"])
    assert path.parent == db_path.parent / "snapshots"
    assert taken.json()["tables"]["projects"] == 1
    async with DatabaseEngine(path, read_only=True) as copy:
        assert await copy.execute_raw("SELECT name FROM projects") == [{"name": "Copied"}]


# -- every error status, from a real failure --------------------------------------------------


async def test_a_missing_row_is_404(client: httpx.AsyncClient) -> None:
    assert assert_error(await client.get("/projects/404"), 404, "NotFoundError") == (
        "project 404 not found"
    )
    patched = await client.patch("/projects/404", json={"name": "X"})
    assert assert_error(patched, 404, "NotFoundError") == (
        "project 404 not found: it does not exist or is deleted"
    )
    assert_error(await client.delete("/projects/404"), 404, "NotFoundError")


async def test_a_stale_expected_version_is_409_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    project = await new_project(client, name="First")
    url = f"/projects/{project['id']}"
    assert (
        await client.patch(url, params={"expected_version": 1}, json={"name": "Second"})
    ).is_success

    stale = await client.patch(url, params={"expected_version": 1}, json={"name": "Third"})
    assert assert_error(stale, 409, "ConflictError") == (
        f"project {project['id']}: expected version 1 but it is at version 2; "
        "re-read it and retry the change"
    )
    assert await rows(app, "SELECT name, version FROM projects") == [
        {"name": "Second", "version": 2}
    ]


async def test_a_duplicate_key_is_409_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await new_project(client, name="One")
    # Rows imported with their own ids, without moving the sequence on: the next
    # id the sequence hands out is taken.
    await db_of(app).engine.execute_raw(
        "INSERT INTO projects (id, name, project_idea) VALUES (2, 'Imported', 'Kept its old id')"
    )

    refused = await client.post("/projects", json=project_data(name="Two"))
    detail = assert_error(refused, 409, "IntegrityError")
    # The database's own words: DuckDB's, or PostgreSQL's.
    assert 'Duplicate key "id: 2"' in detail or 'unique constraint "projects_pkey"' in detail
    assert await rows(app, "SELECT id, name FROM projects ORDER BY id") == [
        {"id": 1, "name": "One"},
        {"id": 2, "name": "Imported"},
    ]
    assert await rows(app, "SELECT entity_id FROM audit_log ORDER BY id") == [{"entity_id": 1}]

    # The sequence has moved past the taken id: the same request now succeeds.
    assert (await new_project(client, name="Two"))["id"] == 3


async def test_a_bad_query_parameter_is_400(client: httpx.AsyncClient) -> None:
    ordered = await client.get("/projects", params={"order_by": "-bogus"})
    assert "bogus" in assert_error(ordered, 400, "InvalidQueryError")

    series = await client.get("/analytics/time-series", params={"metric": "nope"})
    assert assert_error(series, 400, "InvalidQueryError").startswith(
        "metric 'nope' is not one of: projects_created"
    )


async def test_input_the_library_refuses_is_422_without_the_input(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    project = await new_project(client, name="Unchanged")
    url = f"/projects/{project['id']}"

    nulled = await client.patch(url, json={"name": None, "description": "a \x00 in it"})
    errors = assert_error(nulled, 422, "ValidationError")
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("null_not_allowed", ["name"]),
        ("value_error", ["description"]),
    ]
    # The text validator's ValueError sits in ctx: it comes back as its message.
    assert errors[1]["ctx"] == {"error": "text must not contain NUL (\\x00) characters"}

    wrong = await client.patch(url, json={"status": "secret-status", "owner": "secret-owner"})
    errors = assert_error(wrong, 422, "ValidationError")
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("enum", ["status"]),
        ("extra_forbidden", ["owner"]),
    ]
    assert all("input" not in e and "url" not in e for e in errors)
    assert "secret" not in wrong.text

    blank = await client.post(
        url + "/kickoff", params={"expected_version": 1}, json={"title": "", "message": "Hi"}
    )
    assert [e["loc"] for e in assert_error(blank, 422, "ValidationError")] == [["title"]]

    assert await rows(app, "SELECT name, version FROM projects") == [
        {"name": "Unchanged", "version": 1}
    ]
    assert await rows(app, "SELECT count(*) AS n FROM conversations") == [{"n": 0}]

    # FastAPI's own request validation keeps its own 422 (no "error" key).
    own = await client.post("/projects", json={"name": "No idea"})
    assert own.status_code == 422
    assert set(own.json()) == {"detail"}


async def test_a_busy_pool_is_503_with_retry_after(
    pad_database_url: str | Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(str(pad_database_url), pool_size=1, max_overflow=0, pool_timeout=0.05)
    async with serving(app) as client:
        async with db_of(app).engine.session():  # the only connection
            busy = await client.get("/projects/1")
        assert assert_error(busy, 503, "PoolTimeoutError") == "the database is busy; retry shortly"
        assert busy.headers["Retry-After"] == "1"
        assert db_of(app).engine.stats().acquisition_timeouts == 1
        # Once the connection is back, the same request is served.
        assert_error(await client.get("/projects/1"), 404, "NotFoundError")
    assert any(
        r.name == LOGGER and r.levelno == logging.WARNING and "pool_timeout" in r.getMessage()
        for r in caplog.records
    )


async def test_a_database_that_is_not_open_is_503(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        before = await client.get("/projects/1")  # the lifespan never ran
        async with app.router.lifespan_context(app):
            assert (await client.post("/projects", json=project_data())).status_code == 201
        after = await client.get("/projects/1")  # shut down
    for response in (before, after):
        assert assert_error(response, 503, "PoolClosedError") == "the database is not available"
    logged = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert len(logged) == 2
    assert all("lifespan=db.lifespan" in r.getMessage() for r in logged)


async def test_a_query_past_statement_timeout_is_504(db_path: Path) -> None:
    app = create_app(str(db_path), statement_timeout=0.25)
    async with serving(app) as client:
        # Half a million messages in one conversation: the flow analysis then
        # runs for tens of seconds.
        async with db_of(app).engine.session(statement_timeout=None) as session:
            project = await ProjectRepository(session).create(project_data())
            talk = await ConversationRepository(session).create(
                {"project_id": project.id, "title": "Long"}
            )
            await session.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at) "
                "SELECT $id, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END, 'm', "
                "now() - INTERVAL (i) SECOND FROM range(500000) AS t(i)",
                {"id": talk.id},
            )
        started = anyio.current_time()
        with anyio.fail_after(30):
            slow = await client.get("/analytics/conversations")
        assert anyio.current_time() - started < 10
        assert assert_error(slow, 504, "StatementTimeoutError") == (
            "the database took too long to answer"
        )
        # The interrupted query gave its connection back clean.
        assert db_of(app).engine.stats().checked_out == 0
        assert (await client.get("/projects")).json()["total"] == 1


async def test_a_database_failure_is_a_generic_500_and_logged_in_full(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with DatabaseEngine(db_path) as engine, engine.session() as session:
        await ProjectRepository(session).create(project_data(name="Existing"))
    # Opened read-only, DuckDB refuses every write: a DatabaseError.
    app = create_app(str(db_path), read_only=True)
    async with serving(app) as client:
        refused = await client.post("/projects", json=project_data(name="New"))
        assert (await client.get("/projects/1")).json()["name"] == "Existing"

    assert refused.status_code == 500
    assert refused.json() == {"detail": "internal database error", "error": "DatabaseError"}
    for secret in (str(db_path), "read-only", "INSERT", "New"):
        assert secret not in refused.text
    logged = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert len(logged) == 1
    assert "POST /projects" in logged[0].getMessage()
    assert "read-only" in logged[0].getMessage()
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], DatabaseError)
    async with DatabaseEngine(db_path, read_only=True) as engine:
        assert await engine.execute_raw("SELECT name FROM projects") == [{"name": "Existing"}]
