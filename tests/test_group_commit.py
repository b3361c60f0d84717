"""Group commit (core/group_commit.py): concurrent auto-commit writes committed
together, each caller keeping its own result and error, the database equal to
the same calls made one by one in commit order."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from helpers import (
    assert_pool_whole,
    conversation_data,
    document_data,
    gather_calls,
    project_data,
    repository_data,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from project_architect_db import (
    ConflictError,
    ConversationRepository,
    DatabaseEngine,
    DocumentRepository,
    NotFoundError,
    ProjectRepository,
    RepositoryRepository,
)
from project_architect_db.errors import ProjectArchitectDBError

MISSING = 10**6
#: Seeded: projects 1-3 live, 4 deleted; conversation 1 live (project 1), 2 deleted.
LIVE_PROJECTS = (1, 2, 3)
DELETED_PROJECT = 4
LIVE_CONVERSATION, DELETED_CONVERSATION = 1, 2
#: Columns that hold the time a write ran: they differ between two runs.
CLOCK = {"created_at", "updated_at", "completed_at", "deleted_at", "at", "last_accessed_at"}
TABLES = {
    "projects": "id",
    "documents": "id",
    "conversations": "id",
    "messages": "position",
    "audit_log": "id",
    "search_terms": "entity, entity_id, field, term",
}


async def _seed(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        projects = ProjectRepository(session)
        for n in range(1, 5):
            await projects.create(project_data(name=f"seed {n}"))
        talks = ConversationRepository(session)
        await talks.create(conversation_data(1, title="live"))
        await talks.create(conversation_data(2, title="deleted"))
        await talks.delete(DELETED_CONVERSATION)
        await projects.delete(DELETED_PROJECT)


async def _dump(engine: DatabaseEngine) -> dict[str, list[dict[str, Any]]]:
    dump = {}
    for table, order in TABLES.items():
        rows = await engine.execute_raw(f"SELECT * FROM {table} ORDER BY {order}")
        for row in rows:
            if row.get("action") == "delete":
                row.pop("changes")  # it names the time of the delete
        dump[table] = [{k: v for k, v in row.items() if k not in CLOCK} for row in rows]
    return dump


def _comparable(outcome: Any) -> Any:
    if isinstance(outcome, BaseModel):
        return outcome.model_dump(exclude=CLOCK)
    if isinstance(outcome, ProjectArchitectDBError):
        return f"{type(outcome).__name__}: {outcome}"
    return outcome


# -- the calls ---------------------------------------------------------------------------

Call = tuple[str, int]  # what, and a number whose meaning depends on it

CALLS = st.one_of(
    st.tuples(st.just("create_project"), st.integers(0, 3)),  # status choice
    st.tuples(
        st.just("create_document"),
        st.sampled_from([*LIVE_PROJECTS, DELETED_PROJECT, MISSING]),
    ),
    st.tuples(st.just("update_project"), st.sampled_from([*LIVE_PROJECTS, DELETED_PROJECT])),
    st.tuples(st.just("stale_update"), st.sampled_from(LIVE_PROJECTS)),
    st.tuples(
        st.just("append_message"),
        st.sampled_from([LIVE_CONVERSATION, DELETED_CONVERSATION, MISSING]),
    ),
)


def _wave(calls: list[Call]) -> list[Call]:
    """At most one versioned update of a project per wave: then the outcome of
    every call in a wave does not depend on the order the wave ran in (only
    ids and positions do, and commit order says which)."""
    seen: set[int] = set()
    kept = []
    for what, n in calls:
        if what in ("update_project", "stale_update"):
            if n in seen:
                continue
            seen.add(n)
        kept.append((what, n))
    return kept


STATUSES = ["draft", "active", "completed", "archived"]


async def _call(engine: DatabaseEngine, number: int, call: Call) -> Any:
    what, n = call
    try:
        async with engine.session() as session:
            if what == "create_project":
                return await ProjectRepository(session).create(
                    project_data(name=f"call {number}", status=STATUSES[n])
                )
            if what == "create_document":
                return await DocumentRepository(session).create(
                    document_data(n, title=f"call {number}", content=f"words of call {number}")
                )
            if what == "update_project":
                return await ProjectRepository(session).update(
                    n, {"description": f"set by call {number}"}
                )
            if what == "stale_update":
                return await ProjectRepository(session).update(
                    n, {"name": f"never {number}"}, expected_version=999
                )
            return await ConversationRepository(session).append_message(
                n,
                {
                    "role": "user",
                    "content": f"call {number}",
                    "created_at": datetime(2026, 1, 1, tzinfo=UTC),
                },
            )
    except (NotFoundError, ConflictError) as refusal:
        return refusal


async def _audit_id(engine: DatabaseEngine, call: Call, outcome: Any) -> int | None:
    """The audit entry a successful call wrote: its place in commit order."""
    if isinstance(outcome, ProjectArchitectDBError):
        return None
    what, n = call
    if what.startswith("create"):
        entity = what.removeprefix("create_")
        rows = await engine.execute_raw(
            "SELECT id FROM audit_log WHERE entity = ? AND entity_id = ? AND action = 'create'",
            [entity, outcome.id],
        )
    elif what == "update_project":
        rows = await engine.execute_raw(
            "SELECT id FROM audit_log WHERE entity = 'project' AND entity_id = ? "
            "AND action = 'update' ORDER BY id OFFSET ? LIMIT 1",
            [n, outcome.version - 2],
        )
    else:
        rows = await engine.execute_raw(
            "SELECT id FROM audit_log WHERE entity = 'conversation' AND entity_id = ? "
            "AND json_extract(changes, '$.message.position') = ?",
            [n, outcome.position],
        )
    assert len(rows) == 1, (call, outcome, rows)
    return int(rows[0]["id"])


@dataclass
class _Run:
    outcomes: dict[int, Any]
    order: list[int]  # call numbers in commit order, refusals after each wave's writes


async def _concurrently(engine: DatabaseEngine, waves: list[list[Call]], pauses: list[int]) -> _Run:
    numbers = itertools.count()
    outcomes: dict[int, Any] = {}
    order: list[int] = []
    for wave in waves:
        numbered = [(next(numbers), call) for call in wave]

        def start(index: int, number: int, call: Call) -> Callable[[], Awaitable[Any]]:
            pause = pauses[index % len(pauses)] if pauses else 0

            async def run() -> Any:
                for _ in range(pause):
                    await anyio.lowlevel.checkpoint()  # vary the arrival order
                return await _call(engine, number, call)

            return run

        results = await gather_calls([start(i, n, c) for i, (n, c) in enumerate(numbered)])
        placed = []
        for (number, call), outcome in zip(numbered, results, strict=True):
            outcomes[number] = outcome
            placed.append((await _audit_id(engine, call, outcome), number))
        # Writes in the order they committed, then the refusals (which wrote nothing).
        placed.sort(key=lambda p: (p[0] is None, p[0] or 0, p[1]))
        order.extend(number for _, number in placed)
    return _Run(outcomes, order)


@pytest.fixture
def files(tmp_path: Path) -> Callable[[], Path]:
    counter = itertools.count()
    return lambda: tmp_path / f"db{next(counter)}.duckdb"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    waves=st.lists(st.lists(CALLS, min_size=1, max_size=14).map(_wave), min_size=1, max_size=3),
    pauses=st.lists(st.integers(0, 3), max_size=14),
)
def test_concurrent_writes_equal_the_same_writes_one_by_one_in_commit_order(
    portal: Any, files: Callable[[], Path], waves: list[list[Call]], pauses: list[int]
) -> None:
    calls = dict(enumerate(itertools.chain(*waves)))

    async def both() -> None:
        async with DatabaseEngine(files(), pool_size=4) as grouped:
            await _seed(grouped)
            seeding = grouped.stats().group_commits.calls
            run = await _concurrently(grouped, waves, pauses)
            together = await _dump(grouped)
            stats = grouped.stats().group_commits
            await assert_pool_whole(grouped)
        async with DatabaseEngine(files(), group_commit=False, coalesce_reads=False) as plain:
            await _seed(plain)
            alone = {number: await _call(plain, number, calls[number]) for number in run.order}
            assert await _dump(plain) == together
        assert {n: _comparable(o) for n, o in run.outcomes.items()} == {
            n: _comparable(o) for n, o in alone.items()
        }
        assert stats.calls - seeding == len(calls)

    portal.call(both)


# -- targeted cases ---------------------------------------------------------------------------


async def test_concurrent_creates_share_one_statement_and_one_commit(
    db_path: Path,
) -> None:
    async with DatabaseEngine(db_path, pool_size=4) as engine:
        created = await gather_calls(
            [lambda n=n: _call(engine, n, ("create_project", n % 4)) for n in range(12)]
        )
        stats = engine.stats()
        assert stats.group_commits.calls == 12
        assert stats.group_commits.max_size > 1
        assert stats.group_commits.batches < 12
        assert "create_projects" in stats.queries  # creates merged into one statement
        ids = sorted(p.id for p in created)
        assert ids == list(range(1, 13))
        for project in created:
            async with engine.session() as session:
                assert await ProjectRepository(session).get_by_id(project.id) == project
        audit = await engine.execute_raw(
            "SELECT entity_id, changes FROM audit_log WHERE action = 'create' ORDER BY id"
        )
        assert [row["entity_id"] for row in audit] == ids  # numbered in commit order
        names = {p.id: p.name for p in created}
        assert all(json.loads(row["changes"])["name"] == names[row["entity_id"]] for row in audit)
        indexed = await engine.execute_raw(
            "SELECT count(DISTINCT entity_id) AS n FROM search_terms WHERE entity = 'project'"
        )
        assert indexed == [{"n": 12}]
        await assert_pool_whole(engine)


async def test_a_write_that_aborts_the_group_is_retried_alone_and_the_others_commit(
    db_path: Path,
) -> None:
    """A write-write conflict with an open transaction aborts DuckDB's group
    transaction: the group runs again without that write, which then runs alone
    and gets the error it would have got alone; the others all commit."""
    async with DatabaseEngine(db_path, pool_size=4) as engine:
        await _seed(engine)
        # Which call runs first (alone) is up to the scheduler (trio shuffles
        # it): try until the conflicting update was inside a group.
        for attempt in range(20):
            before = engine.stats().group_commits
            async with engine.transaction() as blocking:
                # Holds an uncommitted change of project 2 while the group runs.
                await ProjectRepository(blocking).update(2, {"name": f"held {attempt}"})
                outcomes = await gather_calls(
                    [
                        lambda: _call(engine, 100, ("update_project", 1)),
                        lambda: _call(engine, 101, ("update_project", 2)),
                        lambda: _call(engine, 102, ("create_project", 0)),
                        lambda: _call(engine, 103, ("update_project", 3)),
                        lambda: _call(engine, 104, ("append_message", LIVE_CONVERSATION)),
                    ]
                )
            conflict = outcomes[1]
            assert isinstance(conflict, ConflictError)
            assert "project 2" in str(conflict)
            assert [type(o).__name__ for o in outcomes[:1] + outcomes[2:]] == [
                "Project",
                "Project",
                "Project",
                "Message",
            ]
            stats = engine.stats().group_commits
            assert stats.calls - before.calls == 5
            projects = {
                row["id"]: row
                for row in await engine.execute_raw(
                    "SELECT id, name, description, version FROM projects"
                )
            }
            assert projects[2]["name"] == f"held {attempt}"  # the blocking transaction's
            assert projects[1]["description"] == "set by call 100"
            assert projects[3]["description"] == "set by call 103"
            if stats.retried > before.retried:
                # The conflicting update was taken out of its group and run alone.
                assert stats.retried - before.retried == 1
                break
        else:
            pytest.fail("the conflicting update never ran inside a group in 20 attempts")
        await assert_pool_whole(engine)


async def test_a_writer_cancelled_while_queued_leaves_the_others_intact(db_path: Path) -> None:
    async with DatabaseEngine(db_path, pool_size=4) as engine:
        scopes = {n: anyio.CancelScope() for n in range(8)}
        results: dict[int, Any] = {}

        async def write(n: int) -> None:
            with scopes[n]:
                results[n] = await _call(engine, n, ("create_project", 0))

        async with anyio.create_task_group() as group:
            for n in range(8):
                group.start_soon(write, n)
            await anyio.wait_all_tasks_blocked()
            scopes[3].cancel()
            scopes[6].cancel()
        assert {0, 1, 2, 4, 5, 7} <= results.keys()
        rows = await engine.execute_raw("SELECT name FROM projects")
        written = {row["name"] for row in rows}
        # Every answered call is in the database, and nothing unanswered but a
        # cancelled call that its group was already committing.
        assert {f"call {n}" for n in results} <= written
        assert written <= {f"call {n}" for n in range(8)}
        audit = await engine.execute_raw("SELECT count(*) AS n FROM audit_log")
        assert audit == [{"n": len(written)}]
        await assert_pool_whole(engine)


async def test_writes_inside_a_transaction_are_never_grouped(db_path: Path) -> None:
    async with DatabaseEngine(db_path) as engine:
        async with engine.transaction() as session:
            await ProjectRepository(session).create(project_data())
        assert engine.stats().group_commits.calls == 0


async def test_switched_off_every_write_commits_alone(db_path: Path) -> None:
    async with DatabaseEngine(db_path, group_commit=False) as engine:
        created = await gather_calls(
            [lambda n=n: _call(engine, n, ("create_project", 0)) for n in range(6)]
        )
        assert sorted(p.id for p in created) == list(range(1, 7))
        stats = engine.stats()
        assert stats.group_commits.calls == 0
        assert "create_projects" not in stats.queries


# -- merged creates ------------------------------------------------------------------------


def _child_create(kind: str, number: int, parent: int) -> Callable[[Any], Awaitable[Any]]:
    """A create of a document or code repository, rich in what a merged
    statement must carry exactly: JSON, timestamps, NULLs, odd text."""

    async def create(session: Any) -> Any:
        if kind == "document":
            return await DocumentRepository(session).create(
                document_data(
                    parent,
                    title=f"doc {number} — «ünïcode» 'quotes' \"double\" \\ back",
                    content="" if number % 3 == 0 else f"body {number}\nline two\ttab",
                    metadata=None if number % 2 else {"n": number, "nested": {"x": [1.5, None]}},
                )
            )
        return await RepositoryRepository(session).create(
            repository_data(
                parent,
                name=f"repo-{number}",
                stars=number * 1000,
                last_commit_at=None
                if number % 2
                else datetime(2025, 3, 4, 5, 6, 7, 123456 + number, tzinfo=UTC),
                primary_language=None if number % 3 else "Python",
                metadata={"topics": ["a", "b"], "n": number},
            )
        )

    return create


@pytest.mark.parametrize("kind", ["project", "document", "repository"])
async def test_merged_creates_write_what_one_by_one_creates_write(
    files: Callable[[], Path], kind: str
) -> None:
    """Creates made at once (children of live, deleted and missing projects)
    and merged into one statement write and answer exactly what one create per
    call does, in commit order, refusing the children without a live project."""
    parents = [1, 2, DELETED_PROJECT, 3, MISSING, 1, 1, 2, DELETED_PROJECT, 3, 1, 2]
    merged = {"project": "create_projects", "document": "create_documents"}.get(
        kind, "create_repositories"
    )

    async def attempt(engine: DatabaseEngine, number: int) -> Any:
        try:
            async with engine.session() as session:
                if kind == "project":
                    return await ProjectRepository(session).create(
                        project_data(name=f"p{number}", status=STATUSES[number % 4])
                    )
                return await _child_create(kind, number, parents[number])(session)
        except NotFoundError as refusal:
            return refusal

    # Which calls share a group is up to the scheduler: try until some merged.
    for _ in range(10):
        async with DatabaseEngine(files(), pool_size=4) as grouped:
            await _seed(grouped)
            together = await gather_calls(
                [lambda n=n: attempt(grouped, n) for n in range(len(parents))]
            )
            if merged not in grouped.stats().queries:
                continue
            dump = await _dump(grouped)
            audit = await grouped.execute_raw(
                "SELECT entity_id FROM audit_log WHERE entity = ? AND action = 'create' "
                "AND id > 6 ORDER BY id",
                [kind],
            )
        break
    else:
        pytest.fail(f"no creates were merged into {merged} in 10 rounds")

    by_id = {o.id: n for n, o in enumerate(together) if not isinstance(o, Exception)}
    order = [by_id[row["entity_id"]] for row in audit]
    refused = [n for n, o in enumerate(together) if isinstance(o, Exception)]
    if kind != "project":
        assert sorted(refused) == [n for n, p in enumerate(parents) if p not in LIVE_PROJECTS]
    async with DatabaseEngine(files(), group_commit=False, coalesce_reads=False) as alone:
        await _seed(alone)
        one_by_one = {n: await attempt(alone, n) for n in [*order, *refused]}
        assert await _dump(alone) == dump
    assert [_comparable(o) for o in together] == [
        _comparable(one_by_one[n]) for n in range(len(parents))
    ]
