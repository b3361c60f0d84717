"""A small FastAPI app on project_architect_db: projects, conversations with
their messages, documents, search, analytics and two admin endpoints.

It shows the three pieces of ``project_architect_db.integrations.fastapi``:
``db.lifespan`` opens the database when the app starts, ``db.install(app)``
turns the library's errors into HTTP responses (404, 409, 400, 422, 503, 504,
500), and two dependencies hand each request a session: ``db.transaction``
(one transaction, committed before the response is sent) for writes that must
be atomic, ``db.session`` (each statement commits on its own) for reads and
single-call writes.

Run it (one process per database file, see README.md)::

    APP_DATABASE_URL=duckdb:///app.duckdb uvicorn fastapi_app.app:create_app --factory --workers 1

or, on PostgreSQL, with as many processes as you like::

    APP_DATABASE_URL=postgresql://app@db:5432/app uvicorn fastapi_app.app:create_app --factory --workers 4
"""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Unpack

import anyio
from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel

from project_architect_db import (
    AnalyticsRepository,
    Conversation,
    ConversationCreate,
    ConversationFlowMetrics,
    ConversationRepository,
    Document,
    DocumentCreate,
    DocumentRepository,
    DocumentType,
    EngineOptions,
    EngineStats,
    Message,
    MessageCreate,
    NotFoundError,
    Project,
    ProjectCreate,
    ProjectDetail,
    ProjectRepository,
    ProjectStatus,
    SearchHit,
    Session,
    SnapshotInfo,
    TimeSeriesData,
)
from project_architect_db.integrations.fastapi import Database

DEFAULT_DATABASE_URL = "duckdb:///app.duckdb"


class ProjectList(BaseModel):
    items: list[Project]
    total: int


class Kickoff(BaseModel):
    title: str
    message: str


class SearchResults(BaseModel):
    projects: list[Project]
    documents: list[SearchHit[Document]]


def create_app(database_url: str | None = None, **options: Unpack[EngineOptions]) -> FastAPI:
    """The app on ``database_url`` (default: the ``APP_DATABASE_URL`` environment
    variable, else ``duckdb:///app.duckdb``); ``options`` go to the engine.

    Snapshots go to ``APP_SNAPSHOT_DIR``, else a ``snapshots`` directory beside
    the database file (in the working directory for PostgreSQL).
    """
    url = database_url or os.environ.get("APP_DATABASE_URL", DEFAULT_DATABASE_URL)
    # Every request's database work is bounded: a runaway query becomes a 504
    # instead of holding a connection for minutes.
    options.setdefault("statement_timeout", 10.0)
    db = Database(url, **options)
    app = FastAPI(title="Projects", lifespan=db.lifespan)
    db.install(app)
    app.state.db = db
    snapshots = _snapshot_directory(db)

    # One transaction per request: committed before the response is sent, rolled
    # back if the handler raises.
    Transaction = Annotated[Session, Depends(db.transaction)]
    # Auto-commit: each repository call commits (or reads) on its own.
    AutoCommit = Annotated[Session, Depends(db.session)]

    # -- projects ----------------------------------------------------------------------

    @app.post("/projects", status_code=201)
    async def create_project(data: ProjectCreate, session: Transaction) -> Project:
        return await ProjectRepository(session).create(data)

    @app.get("/projects")
    async def list_projects(
        session: AutoCommit,
        status: ProjectStatus | None = None,
        name: Annotated[str | None, Query(description="part of the name, any case")] = None,
        order_by: Annotated[str, Query(description="a field, '-field' descending")] = "id",
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> ProjectList:
        filters: dict[str, Any] = {}
        if status is not None:
            filters["status"] = status
        if name:
            filters["name__contains"] = name
        # An unknown order_by field is the library's InvalidQueryError: a 400.
        items, total = await ProjectRepository(session).list_and_count(
            limit, offset, order_by=order_by, **filters
        )
        return ProjectList(items=items, total=total)

    @app.get("/projects/{project_id}")
    async def get_project(project_id: int, session: AutoCommit) -> ProjectDetail:
        project = await ProjectRepository(session).get_with_conversations(project_id)
        if project is None:
            raise NotFoundError("project", project_id)
        return project

    @app.patch("/projects/{project_id}")
    async def update_project(
        project_id: int,
        changes: dict[str, Any],
        session: Transaction,
        expected_version: int | None = None,
    ) -> Project:
        # The body goes to the library as sent: ProjectRepository.update validates
        # it (ProjectUpdate), and a ValidationError becomes a 422. A stale
        # expected_version is a ConflictError: a 409.
        return await ProjectRepository(session).update(
            project_id, changes, expected_version=expected_version
        )

    @app.delete("/projects/{project_id}", status_code=204)
    async def delete_project(project_id: int, session: Transaction) -> None:
        if not await ProjectRepository(session).delete(project_id):
            raise NotFoundError("project", project_id)

    @app.post("/projects/{project_id}/kickoff", status_code=201)
    async def kick_off(
        project_id: int, kickoff: Kickoff, expected_version: int, session: Transaction
    ) -> Conversation:
        """Start a project: its kickoff conversation and the status 'active',
        both or neither (a stale expected_version rolls the conversation back)."""
        conversation = await ConversationRepository(session).create(
            {
                "project_id": project_id,
                "title": kickoff.title,
                "messages": [{"role": "user", "content": kickoff.message}],
            }
        )
        await ProjectRepository(session).update(
            project_id, {"status": "active"}, expected_version=expected_version
        )
        return conversation

    # -- conversations -----------------------------------------------------------------

    @app.post("/conversations", status_code=201)
    async def create_conversation(data: ConversationCreate, session: Transaction) -> Conversation:
        return await ConversationRepository(session).create(data)

    @app.post("/conversations/{conversation_id}/messages", status_code=201)
    async def append_message(
        conversation_id: int, message: MessageCreate, session: AutoCommit
    ) -> Message:
        # One call, atomic on its own: in an auto-commit session concurrent
        # appends can share one commit (group commit).
        return await ConversationRepository(session).append_message(conversation_id, message)

    @app.get("/conversations/{conversation_id}")
    async def get_conversation(conversation_id: int, session: AutoCommit) -> Conversation:
        conversation = await ConversationRepository(session).get_by_id(conversation_id)
        if conversation is None:
            raise NotFoundError("conversation", conversation_id)
        return conversation

    # -- documents ---------------------------------------------------------------------

    @app.post("/documents", status_code=201)
    async def create_document(data: DocumentCreate, session: Transaction) -> Document:
        return await DocumentRepository(session).create(data)

    @app.get("/documents/{document_id}")
    async def read_document(document_id: int, session: AutoCommit) -> Document:
        # Reading a document counts the read (document usage analytics).
        return await DocumentRepository(session).record_access(document_id)

    # -- search and analytics ----------------------------------------------------------

    @app.get("/search")
    async def search(
        q: str,
        session: AutoCommit,
        doc_type: DocumentType | None = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> SearchResults:
        projects = await ProjectRepository(session).search_by_name(q, limit=limit)
        documents = await DocumentRepository(session).search(q, doc_type=doc_type, limit=limit)
        return SearchResults(projects=projects, documents=documents)

    @app.get("/analytics/conversations")
    async def conversation_flow(session: AutoCommit) -> ConversationFlowMetrics:
        return await AnalyticsRepository(session).conversation_flow_analysis()

    @app.get("/analytics/time-series")
    async def time_series(
        metric: str, session: AutoCommit, granularity: str = "day"
    ) -> TimeSeriesData:
        # An unknown metric or granularity is the library's InvalidQueryError: a 400.
        return await AnalyticsRepository(session).time_series_analysis(metric, granularity)

    # -- admin (protect these like any admin endpoint) -------------------------------------

    @app.get("/admin/stats")
    async def stats() -> EngineStats:
        return db.engine.stats()

    @app.post("/admin/snapshot", status_code=201)
    async def take_snapshot() -> SnapshotInfo:
        """A consistent copy of the database for analysts, written while the app
        keeps serving (no other process can open the file the app holds)."""
        await anyio.Path(snapshots).mkdir(parents=True, exist_ok=True)
        return await db.engine.snapshot(
            snapshots / f"app-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.duckdb"
        )

    return app


def _snapshot_directory(db: Database) -> Path:
    configured = os.environ.get("APP_SNAPSHOT_DIR")
    if configured:
        return Path(configured)
    config = db.engine.config
    if config.is_memory or config.backend == "postgresql":
        return Path.cwd() / "snapshots"
    return Path(config.database).parent / "snapshots"
