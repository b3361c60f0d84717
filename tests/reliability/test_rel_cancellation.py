"""Cancellation at random points under concurrent load (issue 6).

``test_a_storm_of_randomly_cancelled_operations_leaves_everything_consistent``
runs ``ATTEMPTS_PER_BACKEND`` operations (so 1,000 per test run over asyncio and
trio) from ``WORKERS`` tasks on one engine whose pool is smaller than the number
of tasks, each operation inside a cancel scope that fires after a random delay
(from a seeded ``random.Random``): 0 one time in twenty, else uniform between 0
and twice the median time an operation takes under the same load, measured by a
short uncancelled calibration run first (fixed delays of a few milliseconds
would cancel every call while it still waits for a connection on a busy 2-core
machine, and finish none). Cancellations land while a task waits for a
connection, while a query runs, between the statements of a transaction and
during its commit. Afterwards the pool is whole, every row
agrees with its audit trail (and the trail with the row), no transaction is half
applied, the full-text index holds exactly the live projects, and new work
succeeds.

``test_cancelling_a_long_analytics_call_stops_its_query`` cancels
``AnalyticsRepository.conversation_flow_analysis`` over 6 million messages (0.5 s
or more uncancelled on the 2-core test machine) after 0.1 s and checks that the
statement raised its interruption rather than running to its end, and the
session and pool work afterwards.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from helpers import (
    LONG_QUERY,
    STOPPED_WITHIN,
    assert_pool_whole,
    conversation_data,
    project_data,
)

from project_architect_db import (
    AnalyticsRepository,
    ConflictError,
    ConversationRepository,
    DatabaseEngine,
    DatabaseError,
    NotFoundError,
    PoolClosedError,
    ProjectArchitectDBError,
    ProjectRepository,
    StatementTimeoutError,
)
from project_architect_db.core.runner import StatementRunner

ATTEMPTS_PER_BACKEND = 500
WORKERS = 8
POOL_SIZE = 3
MAX_OVERFLOW = 1
SEED_PROJECTS = 12
BULK_ITEMS = 3
CALIBRATION_ATTEMPTS = 2 * WORKERS
SEED = 20240606
#: How many messages each conversation holds, in SQL (messages are rows of their own).
MESSAGE_COUNT = "(SELECT count(*) FROM messages AS m WHERE m.conversation_id = conversations.id)"


# -- the storm ---------------------------------------------------------------------------


@dataclass
class _Stage:
    """Where an operation is, so a cancellation can be attributed."""

    where: str = "start"


@dataclass
class _Storm:
    engine: DatabaseEngine
    project_ids: list[int]
    conversation_ids: list[int]
    #: Attempts still to claim in the current phase.
    remaining: int = 0
    #: Numbers every attempt (names of created rows carry it, so they are unique).
    numbered: int = 0
    #: Upper bound of the random cancellation delays, set by the calibration.
    max_delay: float = 0.0
    durations: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    cancelled_at: Counter[str] = field(default_factory=Counter)

    def claim(self) -> int | None:
        """The number of the next attempt, or None once the phase is done."""
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        self.numbered += 1
        return self.numbered


Operation = Callable[[_Storm, int, random.Random, _Stage], Awaitable[None]]


async def _create(storm: _Storm, n: int, rng: random.Random, stage: _Stage) -> None:
    stage.where = "waiting"
    async with storm.engine.session() as session:
        stage.where = "query"
        project = await ProjectRepository(session).create(
            project_data(name=f"storm {n}", description="v1")
        )
    storm.project_ids.append(project.id)


async def _update(storm: _Storm, n: int, rng: random.Random, stage: _Stage) -> None:
    target = rng.choice(storm.project_ids)
    stage.where = "waiting"
    async with storm.engine.session() as session:
        stage.where = "query"
        projects = ProjectRepository(session)
        current = await projects.get_by_id(target)
        if current is None:
            raise NotFoundError("project", target)
        # The description names the version, so the audit trail must be a chain.
        await projects.update(
            target, {"description": f"v{current.version + 1}"}, expected_version=current.version
        )


async def _delete_or_restore(storm: _Storm, n: int, rng: random.Random, stage: _Stage) -> None:
    target = rng.choice(storm.project_ids)
    restore = rng.random() < 0.5
    stage.where = "waiting"
    async with storm.engine.session() as session:
        stage.where = "query"
        projects = ProjectRepository(session)
        if restore:
            await projects.restore(target)
        else:
            await projects.delete(target)


async def _add_message(storm: _Storm, n: int, rng: random.Random, stage: _Stage) -> None:
    target = rng.choice(storm.conversation_ids)
    role = rng.choice(["user", "assistant"])
    stage.where = "waiting"
    async with storm.engine.session() as session:
        stage.where = "query"
        await ConversationRepository(session).add_message(
            target, {"role": role, "content": f"message {n}"}
        )


async def _bulk_create(storm: _Storm, n: int, rng: random.Random, stage: _Stage) -> None:
    items = [project_data(name=f"bulk {n} item {k}", description="v1") for k in range(BULK_ITEMS)]
    stage.where = "waiting"
    async with storm.engine.session() as session:
        stage.where = "query"
        created = await ProjectRepository(session).bulk_create(items)
    storm.project_ids.extend(project.id for project in created)


async def _transaction(storm: _Storm, n: int, rng: random.Random, stage: _Stage) -> None:
    """A project, its conversation with one message, and an update of the
    project, all in one transaction: afterwards all of it exists or none."""
    stage.where = "waiting"
    async with storm.engine.transaction() as session:
        stage.where = "transaction"
        projects = ProjectRepository(session)
        conversations = ConversationRepository(session)
        project = await projects.create(project_data(name=f"tx {n}", description="v1"))
        talk = await conversations.create(conversation_data(project.id, title=f"tx {n}"))
        await conversations.add_message(talk.id, {"role": "user", "content": f"tx {n}"})
        await projects.update(project.id, {"description": "v2"}, expected_version=1)
        stage.where = "commit"


OPERATIONS: list[tuple[str, Operation]] = [
    ("create", _create),
    ("create", _create),
    ("update", _update),
    ("update", _update),
    ("update", _update),
    ("delete/restore", _delete_or_restore),
    ("delete/restore", _delete_or_restore),
    ("add_message", _add_message),
    ("add_message", _add_message),
    ("add_message", _add_message),
    ("bulk_create", _bulk_create),
    ("transaction", _transaction),
    ("transaction", _transaction),
]


def _delay(rng: random.Random, max_delay: float) -> float:
    """0 (cancelled at the first checkpoint) one time in twenty, else uniform in
    [0, max_delay]."""
    if rng.random() < 0.05:
        return 0.0
    return rng.uniform(0, max_delay)


async def _outcome(storm: _Storm, operation: Operation, n: int, rng: random.Random) -> str:
    """Run one operation uncancelled; how it ended, and how long it took."""
    started = time.monotonic()
    try:
        await operation(storm, n, rng, _Stage())
    except ConflictError:
        return "conflict"
    except NotFoundError:
        return "not found"
    finally:
        storm.durations.append(time.monotonic() - started)
    return "completed"


async def _calibrating_worker(storm: _Storm, rng: random.Random) -> None:
    while (n := storm.claim()) is not None:
        await _outcome(storm, rng.choice(OPERATIONS)[1], n, rng)


async def _worker(storm: _Storm, rng: random.Random) -> None:
    while (n := storm.claim()) is not None:
        name, operation = rng.choice(OPERATIONS)
        stage = _Stage()
        outcome = "cancelled"
        with anyio.move_on_after(_delay(rng, storm.max_delay)) as scope:
            try:
                await operation(storm, n, rng, stage)
            except ConflictError:
                outcome = "conflict"
            except NotFoundError:
                outcome = "not found"
            except DatabaseError as error:
                raise AssertionError(f"attempt {n} ({name}) failed: {error}") from error
            else:
                outcome = "completed"
        if scope.cancelled_caught:
            outcome = "cancelled"
            storm.cancelled_at[stage.where] += 1
        storm.outcomes[outcome] += 1


async def _run_phase(
    storm: _Storm, worker: Callable[[_Storm, random.Random], Coroutine[Any, Any, None]], seed: int
) -> None:
    async with anyio.create_task_group() as tg:
        for index in range(WORKERS):
            tg.start_soon(worker, storm, random.Random(seed * 100 + index))


# -- the checks ------------------------------------------------------------------------------


Trail = list[tuple[str, dict[str, Any]]]


def _assert_deletions_match(trail: Trail, deleted_at: datetime | None, what: str) -> None:
    """Deletes and restores alternate (each is audited only when it changed the
    row), and the last one says whether the row is deleted now, and since when."""
    toggles = [(action, changes) for action, changes in trail if action in ("delete", "restore")]
    expected = ["delete" if index % 2 == 0 else "restore" for index in range(len(toggles))]
    assert [action for action, _ in toggles] == expected, what
    if deleted_at is None:
        assert len(toggles) % 2 == 0, what
    else:
        assert toggles, what
        assert datetime.fromisoformat(toggles[-1][1]["deleted_at"]) == deleted_at, what


async def _assert_audit_matches_state(engine: DatabaseEngine) -> dict[str, int]:
    """Every row agrees with its audit trail and the trail with the rows; the
    numbers of committed transactions and bulk loads."""
    async with engine.session() as session:
        projects = {
            row["id"]: row
            for row in await session.execute(
                "SELECT id, name, description, version, deleted_at FROM projects"
            )
        }
        talks = {
            row["id"]: row
            for row in await session.execute(
                "SELECT id, project_id, title, version, deleted_at, "
                f"{MESSAGE_COUNT} AS messages FROM conversations"
            )
        }
        audit = await session.execute(
            "SELECT entity, entity_id, action, changes FROM audit_log ORDER BY id"
        )
        indexed = await session.execute(
            "SELECT DISTINCT entity_id FROM search_terms WHERE entity = 'project'"
        )
        # The library's own reading of the trail agrees with the table.
        some_project = min(projects)
        history = await ProjectRepository(session).history(some_project)
    trails: defaultdict[tuple[str, int], Trail] = defaultdict(list)
    for entry in audit:
        trails[(entry["entity"], entry["entity_id"])].append(
            (entry["action"], json.loads(entry["changes"]))
        )
    assert [(entry.action.value, entry.changes) for entry in history] == trails[
        ("project", some_project)
    ]
    assert {entity for entity, _ in trails} == {"project", "conversation"}

    # Projects: one create each, a contiguous chain of versioned updates, and
    # deletes/restores that match deleted_at. No audit entry without its row.
    assert {id for entity, id in trails if entity == "project"} == set(projects)
    for id, project in projects.items():
        trail = trails[("project", id)]
        what = f"project {id}: {trail}"
        assert [action for action, _ in trail].count("create") == 1, what
        assert trail[0][0] == "create", what
        assert trail[0][1]["description"] == "v1", what
        updates = [changes for action, changes in trail if action == "update"]
        assert project["version"] == 1 + len(updates), what
        assert updates == [
            {"description": {"old": f"v{k}", "new": f"v{k + 1}"}}
            for k in range(1, project["version"])
        ], what
        assert project["description"] == f"v{project['version']}", what
        _assert_deletions_match(trail, project["deleted_at"], what)

    # Conversations: one create each, one audited append per message (counts
    # contiguous), version = 1 + appends, and deleted exactly with their project
    # (the storm deletes conversations only through the project cascade).
    assert {id for entity, id in trails if entity == "conversation"} == set(talks)
    for id, talk in talks.items():
        trail = trails[("conversation", id)]
        what = f"conversation {id}: {trail}"
        assert [action for action, _ in trail].count("create") == 1, what
        assert trail[0][0] == "create", what
        first = trail[0][1]["messages"]
        appends = [changes for action, changes in trail if action == "update"]
        assert appends == [
            {"messages": {"old": k, "new": k + 1}} for k in range(first, first + len(appends))
        ], what
        assert talk["messages"] == first + len(appends), what
        assert talk["version"] == 1 + len(appends), what
        assert talk["project_id"] in projects, what
        assert talk["deleted_at"] == projects[talk["project_id"]]["deleted_at"], what
        _assert_deletions_match(trail, talk["deleted_at"], what)

    # Transactions: the project, its conversation, the message and the update
    # are all there, or none of them.
    tx_projects = Counter(p["name"] for p in projects.values() if p["name"].startswith("tx "))
    tx_talks = Counter(t["title"] for t in talks.values() if t["title"].startswith("tx "))
    assert tx_projects == tx_talks
    assert set(tx_projects.values()) <= {1}
    by_name = {p["name"]: p for p in projects.values()}
    for talk in talks.values():
        if talk["title"].startswith("tx "):
            project = by_name[talk["title"]]
            assert talk["project_id"] == project["id"]
            assert (project["version"], talk["messages"], talk["version"]) == (2, 1, 2)

    # Bulk loads: all items or none.
    bulks = Counter(
        p["name"].split(" item ")[0] for p in projects.values() if p["name"].startswith("bulk ")
    )
    assert set(bulks.values()) <= {BULK_ITEMS}, bulks

    # The full-text index follows every committed change and nothing else.
    live = {id for id, project in projects.items() if project["deleted_at"] is None}
    assert {row["entity_id"] for row in indexed} == live
    return {"transactions": len(tx_projects), "bulk loads": len(bulks)}


async def test_a_storm_of_randomly_cancelled_operations_leaves_everything_consistent(
    db_path: Path, anyio_backend: str
) -> None:
    async with DatabaseEngine(
        db_path, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_timeout=10
    ) as engine:
        async with engine.session() as session:
            projects = await ProjectRepository(session).bulk_create(
                [project_data(name=f"seed {i}", description="v1") for i in range(SEED_PROJECTS)]
            )
            conversations = ConversationRepository(session)
            talks = [
                await conversations.create(conversation_data(p.id, title=f"seed {p.id}"))
                for p in projects
            ]
        storm = _Storm(engine, [p.id for p in projects], [t.id for t in talks])
        seed = SEED + (anyio_backend == "trio")
        with anyio.fail_after(180):
            # Calibration: how long operations take under this load on this
            # machine (a few ms alone, 10-100 times more with 8 tasks queueing
            # for 4 connections on a busy 2-core machine). Cancellation delays
            # then spread over the whole life of an operation.
            storm.remaining = CALIBRATION_ATTEMPTS
            await _run_phase(storm, _calibrating_worker, seed)
            storm.max_delay = 2 * statistics.median(storm.durations)
            storm.remaining = ATTEMPTS_PER_BACKEND
            await _run_phase(storm, _worker, seed + 1)

        assert sum(storm.outcomes.values()) == ATTEMPTS_PER_BACKEND
        # The storm did both: many calls cancelled, many completed, and the
        # cancellations hit callers waiting for a connection, running a query
        # and inside a transaction.
        assert storm.outcomes["cancelled"] >= ATTEMPTS_PER_BACKEND // 10, storm.outcomes
        assert storm.outcomes["completed"] >= ATTEMPTS_PER_BACKEND // 10, storm.outcomes
        for stage in ("waiting", "query", "transaction"):
            assert storm.cancelled_at[stage] > 0, storm.cancelled_at

        await assert_pool_whole(engine)
        committed = await _assert_audit_matches_state(engine)
        assert committed["transactions"] > 0
        assert committed["bulk loads"] > 0

        # The next operations succeed.
        async with engine.session() as session:
            repo = ProjectRepository(session)
            created = await repo.create(project_data(name="after the storm", description="v1"))
            assert await repo.get_by_id(created.id) == created
            updated = await repo.update(created.id, {"description": "v2"}, expected_version=1)
            assert updated.version == 2
        async with engine.transaction() as session:
            talk = await ConversationRepository(session).create(conversation_data(created.id))
            talk = await ConversationRepository(session).add_message(
                talk.id, {"role": "user", "content": "still works"}
            )
        assert [m.content for m in talk.messages] == ["still works"]
        await assert_pool_whole(engine)


#: Cancellations each run must land (a call cancelled before it answered)...
LANDING_CANCELLATIONS = 60
#: ...within this many attempts: how many attempts that takes depends on the
#: machine's speed at the moment, not on the library.
LANDING_ATTEMPTS = 2000


async def test_a_cancelled_call_never_leaves_its_connection_inside_a_transaction(
    db_path: Path, anyio_backend: str
) -> None:
    """Each attempt cancels, at a random moment, a call that sends BEGIN, an
    INSERT that finds no live project and ROLLBACK (creating a conversation of a
    missing project), so some cancellations land on the BEGIN or the ROLLBACK.
    With pool_size=1 every call uses the same connection, so a connection left
    inside a transaction shows at the very next call."""
    async with DatabaseEngine(db_path, pool_size=1, max_overflow=0, pool_timeout=10) as engine:

        async def refused_create() -> None:
            async with engine.session() as session:
                with contextlib.suppress(NotFoundError):
                    await ConversationRepository(session).create(conversation_data(10**9))

        started = time.monotonic()
        for _ in range(10):
            await refused_create()
        took = (time.monotonic() - started) / 10

        rng = random.Random(SEED + (anyio_backend == "trio"))
        cancelled = attempt = 0
        while cancelled < LANDING_CANCELLATIONS:
            assert attempt < LANDING_ATTEMPTS, f"only {cancelled} of {attempt} calls were cancelled"
            attempt += 1
            with anyio.move_on_after(rng.uniform(0, took)) as scope:
                await refused_create()
            cancelled += scope.cancelled_caught
            try:
                async with engine.session() as session:
                    await ProjectRepository(session).create(project_data(name=f"check {attempt}"))
            except DatabaseError as error:
                pytest.fail(
                    f"attempt {attempt}: the cancelled call left its connection inside an "
                    f"aborted transaction, and the next call on it failed: {error}"
                )
        await assert_pool_whole(engine)
    async with DatabaseEngine(db_path) as reopened:
        rows = await reopened.execute_raw("SELECT count(*) AS n FROM projects")
        assert rows == [{"n": attempt}]  # every check's create, each committed


# -- a long analytics call -------------------------------------------------------------------

CONVERSATIONS = 600
MESSAGES_EACH = 10_000

# Every message is a user's, none answered yet (the case that used to make
# conversation_flow quadratic); over 6 million messages the call takes 0.5-1.1 s
# on this 2-core machine, well over the 0.1 s the test lets it run. Building the file takes a few seconds, once
# per test process.
GENERATE_CONVERSATIONS = """
INSERT INTO conversations (project_id, title)
SELECT $project_id, 'conversation ' || i
FROM range($conversations) AS t (i)
"""
GENERATE_MESSAGES = """
INSERT INTO messages (conversation_id, role, content, created_at)
SELECT c.id, 'user', 'hello', TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds(x)
FROM conversations AS c, range($messages) AS t (x)
ORDER BY c.id, x
"""


@pytest.fixture(scope="module")
def analytics_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with 600 conversations of 10,000 messages each, built once per
    test process (about 2-3 s); each test works on its own copy."""
    path = tmp_path_factory.mktemp("analytics") / "analytics.duckdb"

    async def build() -> None:
        async with DatabaseEngine(path) as engine, engine.transaction() as session:
            project = await ProjectRepository(session).create(project_data())
            await session.execute(
                GENERATE_CONVERSATIONS,
                {"project_id": project.id, "conversations": CONVERSATIONS},
            )
            await session.execute(GENERATE_MESSAGES, {"messages": MESSAGES_EACH})

    with start_blocking_portal() as portal:
        portal.call(build)
    return path


async def test_cancelling_a_long_analytics_call_stops_its_query(
    analytics_file: Path, db_path: Path
) -> None:
    for suffix in ("", ".wal"):
        source = analytics_file.with_name(analytics_file.name + suffix)
        if source.exists():
            shutil.copyfile(source, db_path.with_name(db_path.name + suffix))
    async with DatabaseEngine(db_path, pool_size=2, max_overflow=0, pool_timeout=10) as engine:
        async with engine.session() as session:
            analytics = AnalyticsRepository(session)
            started = time.monotonic()
            with anyio.move_on_after(0.1) as scope:
                await analytics.conversation_flow_analysis()
            assert scope.cancelled_caught
            assert time.monotonic() - started < STOPPED_WITHIN
            # DuckDB itself stopped: the statement raised (its interruption) rather
            # than running to its end (0.5 s or more, see GENERATE_MESSAGES).
            flow = engine.stats().queries["conversation_flow"]
            assert flow.calls == 1
            assert flow.errors == 1
            assert engine.stats().checked_out == 1

            # The same session goes on working.
            conversations = ConversationRepository(session)
            assert await conversations.count() == CONVERSATIONS
            rows = await session.execute(
                "SELECT count(*) AS n FROM messages WHERE conversation_id <= 10"
            )
            assert rows == [{"n": 10 * MESSAGES_EACH}]
            usage = await analytics.document_usage_stats()
            assert usage.total_documents == 0
        await assert_pool_whole(engine)
        # And a new session can run analytics again.
        async with engine.session() as session:
            health = await AnalyticsRepository(session).repository_health_metrics()
            assert health.total_repositories == 0


# -- an interrupt that finds nothing to stop ---------------------------------------------


def _stall_after_the_check(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Hold the worker thread for half a second between the runner's first check
    for a stop and its statement reaching the database, as a busy machine may
    hold it; the event is set when the thread is in that gap. An interrupt sent
    then finds nothing running, and DuckDB and PostgreSQL both drop it."""
    past_the_check = threading.Event()
    check = StatementRunner._check_cancelled

    def check_then_stall(runner: StatementRunner) -> None:
        check(runner)
        if not past_the_check.is_set():
            past_the_check.set()
            time.sleep(0.5)

    monkeypatch.setattr(StatementRunner, "_check_cancelled", check_then_stall)
    return past_the_check


@pytest.mark.parametrize("stopped_by", ["cancellation", "statement_timeout"])
async def test_a_stop_that_lands_just_before_the_statement_starts_still_stops_it(
    engine: DatabaseEngine, monkeypatch: pytest.MonkeyPatch, stopped_by: str
) -> None:
    """The stop comes while the worker thread stalls just before its statement:
    the first interrupt is lost, and the session sends it again until the
    thread is done, so LONG_QUERY (a minute on DuckDB, hours on PostgreSQL)
    still stops at once."""
    past_the_check = _stall_after_the_check(monkeypatch)
    timeout = 0.05 if stopped_by == "statement_timeout" else None
    async with engine.session(statement_timeout=timeout) as session:
        began = time.monotonic()
        if timeout is None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(session.execute, LONG_QUERY)
                await anyio.to_thread.run_sync(past_the_check.wait)
                tg.cancel_scope.cancel()
        else:
            with pytest.raises(StatementTimeoutError):
                await session.execute(LONG_QUERY)
        assert time.monotonic() - began < STOPPED_WITHIN
        assert past_the_check.is_set()
        # The session goes on working, and the pool is whole.
        assert await session.execute("SELECT 1 AS one") == [{"one": 1}]
    await assert_pool_whole(engine)


async def test_closing_the_engine_stops_a_statement_its_first_interrupt_missed(
    engine: DatabaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``close()`` interrupts the statements still running when its timeout
    passes; while they run, it interrupts them again, so one that started just
    after the first interrupt stops too."""
    past_the_check = _stall_after_the_check(monkeypatch)
    outcome: list[Exception] = []

    async def long_running() -> None:
        try:
            async with engine.session() as session:
                await session.execute(LONG_QUERY)
        except ProjectArchitectDBError as exc:
            outcome.append(exc)

    began = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(long_running)
        await anyio.to_thread.run_sync(past_the_check.wait)
        await engine.close(timeout=0)
    assert time.monotonic() - began < STOPPED_WITHIN
    assert len(outcome) == 1
    assert isinstance(outcome[0], PoolClosedError), outcome
