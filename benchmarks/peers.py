"""What users would pick instead, measured in the same run: SQLAlchemy's ORM bulk
insert on DuckDB (the bulk_create baseline) and, for ``--peers``, SQLite-based
layers doing the library's everyday calls on the same data.

Needs the ``bench`` extra (``pip install '.[bench]'``: SQLAlchemy 2, duckdb_engine,
aiosqlite); ``run.py`` imports this module only when a benchmark needs it.

Fairness rules kept here:
- Same rows: the SQLite files are filled with a copy of the library's projects
  table (ids, text, timestamps), so filters and ordering see the same data.
- Same schema: the SQLite tables have the library's columns, CHECKs and indexes
  (no index on status or created_at, none on messages), nothing more.
- Same durability: SQLite in WAL mode with ``synchronous=FULL``, since DuckDB
  fdatasyncs every commit.
- Same habits: every implementation opens a session (or uses its one
  connection) per operation, as a request handler would, so the ORM's identity
  map cannot answer a repeated get without asking the database.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
from harness import PeerResult, compare_many
from sqlalchemy import BigInteger, DateTime, FetchedValue, create_engine, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import JSON

from project_architect_db import ConversationRepository, DatabaseEngine, ProjectRepository

LIBRARY = "this library"
ORM_AIOSQLITE = "SQLAlchemy ORM + aiosqlite"
RAW_AIOSQLITE = "raw aiosqlite"

#: The ORM's bulk path used for the bulk_create baseline: SQLAlchemy 2's
#: documented "ORM Bulk INSERT", a list of dicts passed to an insert of the
#: mapped class, with ``render_nulls=True``, the documented option for dicts
#: whose None values come and go. Without it the ORM leaves None columns out
#: and starts a new batch whenever the set of non-None keys changes: on these
#: rows (4 in 10 have no description) that made it 1,800 rows/s instead of
#: about 13,000, a straw man rather than a peer.
ORM_BULK_PATH = "session.execute(insert(Project).execution_options(render_nulls=True), dicts)"


class Base(DeclarativeBase):
    pass


class Project(Base):
    """The library's projects table as SQLAlchemy maps it (DuckDB and SQLite)."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str]
    description: Mapped[str | None]
    project_idea: Mapped[str]
    architecture: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str]
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(server_default=FetchedValue())  # DEFAULT 1
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Message(Base):
    __tablename__ = "messages"
    position: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int]
    role: Mapped[str]
    content: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)


# -- the bulk_create baseline ------------------------------------------------------


def sqlalchemy_bulk_insert(path: Path, rows: Sequence[Mapping[str, object]]) -> float:
    """Rows per second of SQLAlchemy 2's ORM bulk INSERT of ``rows`` into the
    projects table of the DuckDB file ``path`` (already migrated by the
    library, so the table, its defaults and indexes are the library's), via
    duckdb_engine, in one transaction. Opening the engine is not timed."""
    engine = create_engine(f"duckdb:///{path}")
    try:
        with Session(engine) as session:
            session.connection()  # connect before the clock starts
            started = time.perf_counter()
            session.execute(insert(Project).execution_options(render_nulls=True), list(rows))
            session.commit()
            return len(rows) / (time.perf_counter() - started)
    finally:
        engine.dispose()


# -- SQLite peers ------------------------------------------------------------------

SQLITE_SCHEMA = """
CREATE TABLE projects (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT,
    project_idea TEXT NOT NULL,
    architecture TEXT,
    status       TEXT NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'active', 'completed', 'archived')),
    completed_at TEXT,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT,
    deleted_at   TEXT
);
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    title      TEXT NOT NULL,
    phase      TEXT NOT NULL DEFAULT 'discovery',
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    deleted_at TEXT
);
CREATE INDEX conversations_project_id_idx ON conversations (project_id);
CREATE TABLE messages (
    position        INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    metadata        TEXT
);
"""

PROJECT_COLUMNS = (
    "id, name, description, project_idea, architecture, status, completed_at, version, "
    "created_at, updated_at, deleted_at"
)
GET_PROJECT = f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ? AND deleted_at IS NULL"
INSERT_PROJECT = (
    "INSERT INTO projects (name, description, project_idea, architecture, status, created_at) "
    f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {PROJECT_COLUMNS}"
)
# The library's order for list(status=..., order_by="-created_at"), as one statement.
LIST_ACTIVE = (
    f"SELECT {PROJECT_COLUMNS} FROM projects WHERE deleted_at IS NULL AND status = ? "
    "ORDER BY created_at DESC, id LIMIT 100"
)
INSERT_CONVERSATION = (
    "INSERT INTO conversations (project_id, title, created_at) VALUES (?, ?, ?) RETURNING id"
)
INSERT_MESSAGE = (
    "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)"
)
# As the library's append: one INSERT, written only while the conversation is live.
APPEND_MESSAGE = (
    "INSERT INTO messages (conversation_id, role, content, created_at, metadata) "
    "SELECT ?, ?, ?, ?, NULL WHERE EXISTS "
    "(SELECT 1 FROM conversations WHERE id = ? AND deleted_at IS NULL) "
    "RETURNING position, role, content, created_at, metadata"
)


def _stamp(value: object) -> object:
    """A timestamp as SQLAlchemy's SQLite dialect stores it (UTC, text that sorts)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def library_projects(engine: DatabaseEngine) -> list[tuple[object, ...]]:
    """Every row of the library's projects table, in the SQLite column order."""
    connection = engine._root.cursor()  # type: ignore[union-attr]
    try:
        rows = connection.execute(f"SELECT {PROJECT_COLUMNS} FROM projects ORDER BY id").fetchall()
    finally:
        connection.close()
    return [
        tuple(
            json.dumps(v) if k == 4 and not isinstance(v, str | None) else _stamp(v)
            for k, v in enumerate(row)
        )
        for row in rows
    ]


def make_sqlite(path: Path, projects: Sequence[tuple[object, ...]]) -> None:
    """A SQLite file in WAL mode with the peers' schema and ``projects``."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SQLITE_SCHEMA)
        marks = ", ".join("?" for _ in PROJECT_COLUMNS.split(","))
        connection.executemany(f"INSERT INTO projects VALUES ({marks})", projects)
        connection.commit()
    finally:
        connection.close()


def fill_conversation(path: Path, messages: int) -> int:
    """A new conversation of project 1 holding ``messages`` messages, written
    with the standard sqlite3 module (filling is not what is timed); its id."""
    connection = sqlite3.connect(path)
    try:
        [(conversation_id,)] = connection.execute(
            INSERT_CONVERSATION, (1, "peers", _now())
        ).fetchall()
        connection.executemany(
            INSERT_MESSAGE,
            [(conversation_id, m["role"], m["content"], _now()) for m in _filler(messages)],
        )
        connection.commit()
        return int(conversation_id)
    finally:
        connection.close()


#: One no-argument operation per implementation, by name.
Operations = dict[str, Callable[[], Awaitable[object]]]


class Side(Protocol):
    """The operations compared, as each implementation does them."""

    name: str

    async def get_by_id(self, id: int) -> object: ...
    async def create(self, row: Mapping[str, Any]) -> object: ...
    async def list_active(self) -> object: ...
    async def new_conversation(self, messages: int) -> int: ...
    async def append(self, conversation_id: int, message: Mapping[str, str]) -> object: ...
    async def close(self) -> None: ...


def _filler(count: int) -> list[dict[str, str]]:
    return [
        {"role": "assistant" if k % 2 else "user", "content": f"message {k} about the design"}
        for k in range(count)
    ]


class Library:
    name = LIBRARY

    def __init__(self, engine: DatabaseEngine) -> None:
        self.engine = engine

    async def get_by_id(self, id: int) -> object:
        async with self.engine.session() as session:
            return await ProjectRepository(session).get_by_id(id)

    async def create(self, row: Mapping[str, Any]) -> object:
        async with self.engine.session() as session:
            return await ProjectRepository(session).create(row)

    async def list_active(self) -> object:
        async with self.engine.session() as session:
            return await ProjectRepository(session).list(
                limit=100, status="active", order_by="-created_at"
            )

    async def new_conversation(self, messages: int) -> int:
        async with self.engine.session() as session:
            [talk] = await ConversationRepository(session).bulk_create(
                [{"project_id": 1, "title": "peers", "messages": _filler(messages)}]
            )
            return talk.id

    async def append(self, conversation_id: int, message: Mapping[str, str]) -> object:
        async with self.engine.session() as session:
            talks = ConversationRepository(session)
            return await talks.append_message(conversation_id, message)

    async def close(self) -> None:
        pass


class RawAiosqlite:
    """aiosqlite with hand-written SQL: one connection, a transaction per write."""

    name = RAW_AIOSQLITE

    def __init__(self, path: Path, db: aiosqlite.Connection) -> None:
        self.path, self.db = path, db

    @classmethod
    async def open(cls, path: Path) -> RawAiosqlite:
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA synchronous=FULL")
        return cls(path, db)

    async def _one(self, sql: str, params: Sequence[object]) -> object:
        async with self.db.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def get_by_id(self, id: int) -> object:
        return await self._one(GET_PROJECT, (id,))

    async def create(self, row: Mapping[str, Any]) -> object:
        params = (
            row["name"],
            row["description"],
            row["project_idea"],
            json.dumps(row["architecture"]),
            row["status"],
            _now(),
        )
        created = await self._one(INSERT_PROJECT, params)
        await self.db.commit()
        return created

    async def list_active(self) -> object:
        async with self.db.execute(LIST_ACTIVE, ("active",)) as cursor:
            return await cursor.fetchall()

    async def new_conversation(self, messages: int) -> int:
        return fill_conversation(self.path, messages)

    async def append(self, conversation_id: int, message: Mapping[str, str]) -> object:
        params = (conversation_id, message["role"], message["content"], _now(), conversation_id)
        appended = await self._one(APPEND_MESSAGE, params)
        await self.db.commit()
        return appended

    async def close(self) -> None:
        await self.db.close()


class OrmAiosqlite:
    """SQLAlchemy 2 ORM on aiosqlite: a session per operation, as documented for
    asyncio (``expire_on_commit=False``, so a committed object stays readable)."""

    name = ORM_AIOSQLITE

    def __init__(self, path: Path, engine: AsyncEngine) -> None:
        self.path, self.engine = path, engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, path: Path) -> OrmAiosqlite:
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")

        @event.listens_for(engine.sync_engine, "connect")
        def durable(connection: Any, _record: object) -> None:
            connection.execute("PRAGMA synchronous=FULL")

        return cls(path, engine)

    async def get_by_id(self, id: int) -> object:
        async with self.sessions() as session:
            return await session.get(Project, id)

    async def create(self, row: Mapping[str, Any]) -> object:
        async with self.sessions() as session:
            project = Project(**row, created_at=datetime.now(UTC))
            session.add(project)
            await session.commit()
            return project

    async def list_active(self) -> object:
        query = (
            select(Project)
            .where(Project.deleted_at.is_(None), Project.status == "active")
            .order_by(Project.created_at.desc(), Project.id)
            .limit(100)
        )
        async with self.sessions() as session:
            return (await session.scalars(query)).all()

    async def new_conversation(self, messages: int) -> int:
        return fill_conversation(self.path, messages)

    async def append(self, conversation_id: int, message: Mapping[str, str]) -> object:
        async with self.sessions() as session:
            appended = Message(
                conversation_id=conversation_id,
                role=message["role"],
                content=message["content"],
                created_at=datetime.now(UTC),
            )
            session.add(appended)
            await session.commit()
            return appended

    async def close(self) -> None:
        await self.engine.dispose()


async def compare_with_peers(
    engine: DatabaseEngine,
    directory: Path,
    new_projects: Sequence[Mapping[str, Any]],
    longest: int,
    quick: bool,
) -> list[PeerResult]:
    """The library (on ``engine``) beside the SQLite peers: get_by_id, create,
    list and append (on an empty conversation and on one of ``longest``
    messages), each in alternating rounds. ``new_projects`` are the rows
    creates cycle through."""
    projects = library_projects(engine)
    sides: list[Side] = [Library(engine)]
    for opener, file in ((OrmAiosqlite.open, "orm.sqlite"), (RawAiosqlite.open, "raw.sqlite")):
        make_sqlite(directory / file, projects)
        sides.append(await opener(directory / file))
    try:
        return await _measure(sides, len(projects), new_projects, longest, quick)
    finally:
        for side in sides:
            await side.close()


def _each(sides: Sequence[Side], call: Callable[[Side, int], Awaitable[object]]) -> Operations:
    """``call`` as one no-argument operation per side; a side's k-th call gets k."""

    def bound(side: Side) -> Callable[[], Awaitable[object]]:
        counter = iter(range(10**9))
        return lambda: call(side, next(counter))

    return {side.name: bound(side) for side in sides}


async def _measure(
    sides: Sequence[Side],
    count: int,
    new_projects: Sequence[Mapping[str, Any]],
    longest: int,
    quick: bool,
) -> list[PeerResult]:
    rng = random.Random(1)
    ids = [rng.randint(1, count) for _ in range(500)]
    repeat = {"get": 300, "create": 100, "list": 50, "append": 50}
    if not quick:
        repeat = {name: n * 4 for name, n in repeat.items()}
    sized = f"{count:,} projects"
    results = [
        PeerResult(
            "get_by_id",
            "ops/s",
            await compare_many(
                _each(sides, lambda s, k: s.get_by_id(ids[k % len(ids)])), repeat["get"]
            ),
            sized,
        ),
        PeerResult(
            "create",
            "ops/s",
            await compare_many(
                _each(sides, lambda s, k: s.create(new_projects[k % len(new_projects)])),
                repeat["create"],
            ),
            "the library also writes an audit entry and search terms",
        ),
        PeerResult(
            "list 100, filtered, newest first",
            "ops/s",
            await compare_many(_each(sides, lambda s, k: s.list_active()), repeat["list"]),
            f"{sized}; no index on status or created_at (the library's schema)",
        ),
    ]
    for length in (0, longest):
        results.append(await _append(sides, length, repeat["append"]))
    return results


async def _append(sides: Sequence[Side], length: int, repeat: int) -> PeerResult:
    """Appends to a conversation that held ``length`` messages when timing began."""
    talks = {side.name: await side.new_conversation(length) for side in sides}
    message = {"role": "user", "content": "What should we build next?"}
    rates = await compare_many(_each(sides, lambda s, k: s.append(talks[s.name], message)), repeat)
    notes = "library: INSERT + audit entry, one transaction; peers: one INSERT"
    return PeerResult(f"append at {length:,} messages", "ops/s", rates, notes)
