"""Timeouts (issue 6): ``anyio.fail_after`` around library calls behaves like
cancellation, and ``statement_timeout`` (engine-wide or per session) interrupts
a slow call, rolls back its changes (inside a transaction: the whole
transaction) and raises ``StatementTimeoutError``, leaving the pool whole."""

from __future__ import annotations

import random
import time
from pathlib import Path

import anyio
import pydantic
import pytest
from helpers import (
    LONG_QUERY,
    STOPPED_WITHIN,
    assert_pool_whole,
    conversation_data,
    project_data,
)

from project_architect_db import (
    ConversationRepository,
    DatabaseEngine,
    DatabaseError,
    ProjectRepository,
    Session,
    StatementTimeoutError,
)

# A tenth of a second or more on DuckDB (several tenths on a busy machine), about
# a second on PostgreSQL; the same text runs on both.
SLOW_QUERY = (
    "SELECT count(*) AS n FROM generate_series(1, 7000) AS a(x), "
    "generate_series(1, 7000) AS b(y) WHERE a.x + b.y = -1"
)
TABLES = ("projects", "conversations", "audit_log", "search_terms")


async def _row_counts(engine: DatabaseEngine) -> dict[str, int]:
    async with engine.session() as session:
        return {
            table: (await session.execute(f"SELECT count(*) AS n FROM {table}"))[0]["n"]
            for table in TABLES
        }


async def _assert_engine_usable(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        projects = ProjectRepository(session)
        created = await projects.create(project_data(name="afterwards"))
        assert await projects.get_by_id(created.id) == created
    await assert_pool_whole(engine)


async def _write_a_little_of_everything(session: Session, tag: str) -> None:
    projects = ProjectRepository(session)
    conversations = ConversationRepository(session)
    for index in range(3):
        project = await projects.create(project_data(name=f"{tag} {index}"))
    await projects.update(project.id, {"description": "changed"}, expected_version=1)
    talk = await conversations.create(conversation_data(project.id))
    await conversations.add_message(talk.id, {"role": "user", "content": tag})


# -- anyio.fail_after ---------------------------------------------------------------------


async def test_fail_after_around_a_long_call_raises_timeout_error_and_frees_the_connection(
    engine: DatabaseEngine,
) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.3):
            async with engine.session() as session:
                await session.execute(LONG_QUERY)
    # The query alone would run for tens of seconds: it was interrupted.
    # The session waits for its worker thread before it gives the connection
    # back, so this also says that DuckDB stopped the query.
    assert time.monotonic() - started < STOPPED_WITHIN
    await _assert_engine_usable(engine)


async def test_fail_after_around_a_transaction_leaves_no_partial_writes(
    engine: DatabaseEngine,
) -> None:
    with pytest.raises(TimeoutError):
        with anyio.fail_after(60) as scope:
            async with engine.transaction() as session:
                await _write_a_little_of_everything(session, "lost")
                # The deadline falls 0.2 s into the long query.
                scope.deadline = anyio.current_time() + 0.2
                started = time.monotonic()
                await session.execute(LONG_QUERY)
    assert time.monotonic() - started < STOPPED_WITHIN
    assert await _row_counts(engine) == dict.fromkeys(TABLES, 0)
    await _assert_engine_usable(engine)


async def test_fail_after_at_random_moments_of_a_transaction_is_all_or_nothing(
    engine: DatabaseEngine, anyio_backend: str
) -> None:
    items = 4

    async def transaction(round_number: int) -> None:
        async with engine.transaction() as session:
            projects = ProjectRepository(session)
            for _ in range(items):
                project = await projects.create(project_data(name=f"round {round_number}"))
            await projects.update(project.id, {"description": "last"}, expected_version=1)

    # How long one such transaction takes here, uncancelled.
    started = time.monotonic()
    await transaction(0)
    took = time.monotonic() - started

    rng = random.Random(6 + (anyio_backend == "trio"))
    timed_out = 0
    for round_number in range(1, 21):
        try:
            with anyio.fail_after(rng.uniform(0, 1.5 * took)):
                await transaction(round_number)
        except TimeoutError:
            timed_out += 1
            kept = {0, items}  # a timeout during the commit may still see it commit
        else:
            kept = {items}
        rows = await engine.execute_raw(
            "SELECT count(*) AS n, count(*) FILTER (WHERE version = 2) AS updated "
            "FROM projects WHERE name = ?",
            [f"round {round_number}"],
        )
        assert rows[0]["n"] in kept, (round_number, rows)
        assert rows[0]["updated"] == (1 if rows[0]["n"] else 0)
        assert engine.stats().checked_out == 0
    assert timed_out > 0
    # Every project that exists was audited with it, and nothing else was.
    audit = await engine.execute_raw(
        "SELECT (SELECT count(*) FROM projects) AS projects, "
        "count(*) FILTER (WHERE action = 'create') AS creates, "
        "count(*) FILTER (WHERE action = 'update') AS updates, "
        "(SELECT count(*) FROM projects WHERE version = 2) AS updated "
        "FROM audit_log"
    )
    assert audit[0]["creates"] == audit[0]["projects"]
    assert audit[0]["updates"] == audit[0]["updated"]
    await _assert_engine_usable(engine)


# -- statement_timeout --------------------------------------------------------------------


async def test_engine_statement_timeout_interrupts_a_slow_call_quickly(db_path: Path) -> None:
    async with DatabaseEngine(db_path, statement_timeout=0.2) as engine:
        async with engine.session() as session:
            started = time.monotonic()
            with pytest.raises(StatementTimeoutError) as info:
                await session.execute(LONG_QUERY)
            elapsed = time.monotonic() - started
            assert 0.15 <= elapsed < STOPPED_WITHIN
            assert isinstance(info.value, DatabaseError)
            message = str(info.value)
            assert "statement_timeout=0.2s" in message
            assert "rolled back" in message
            assert "larger statement_timeout" in message
            assert "engine.session()/engine.transaction()" in message
            # The auto-commit session goes on working.
            assert await session.execute("SELECT 1 AS one") == [{"one": 1}]
        await _assert_engine_usable(engine)


async def test_fast_calls_under_the_statement_timeout_are_unaffected(db_path: Path) -> None:
    async with DatabaseEngine(db_path, statement_timeout=0.3) as engine:
        # The limit is per call: sessions and transactions that last much
        # longer than it, one quick call after another, are fine.
        async with engine.session() as session:
            projects = ProjectRepository(session)
            created = [await projects.create(project_data(name=f"quick {i}")) for i in range(5)]
            await anyio.sleep(0.4)
            for project in created:
                assert await projects.get_by_id(project.id) == project
        async with engine.transaction() as session:
            await _write_a_little_of_everything(session, "kept")
            await anyio.sleep(0.4)
            assert await ProjectRepository(session).count(name__startswith="kept") == 3
        counts = await _row_counts(engine)
        assert (counts["projects"], counts["conversations"]) == (8, 1)
        assert counts["audit_log"] == 8 + 1 + 1 + 1  # creates, the update, the message
        await assert_pool_whole(engine)


async def test_a_timed_out_repository_write_is_rolled_back(db_path: Path) -> None:
    async with DatabaseEngine(db_path) as engine:
        # The deadline must pass while rows are still going in: a deadline that
        # passes during COMMIT lets the finished load stand (as it should), so the
        # load is many times longer than the limit, even on a fast disk.
        items = [project_data(name=f"bulk {i}", description="x " * 20) for i in range(10_000)]
        async with engine.session(statement_timeout=0.01) as session:
            with pytest.raises(StatementTimeoutError, match="project operation"):
                await ProjectRepository(session).bulk_create(items, returning=False)
        assert await _row_counts(engine) == dict.fromkeys(TABLES, 0)
        # Without the limit the same load goes through.
        async with engine.session() as session:
            assert await ProjectRepository(session).bulk_create(items, returning=False) == 10_000
        await _assert_engine_usable(engine)


@pytest.mark.parametrize("kind", ["session", "transaction"])
async def test_per_session_statement_timeout_applies_without_an_engine_one(
    engine: DatabaseEngine, kind: str
) -> None:
    assert engine.config.statement_timeout is None
    opener = engine.session if kind == "session" else engine.transaction
    started = time.monotonic()
    with pytest.raises(StatementTimeoutError, match=r"statement_timeout=0\.2s"):
        async with opener(statement_timeout=0.2) as session:
            await session.execute(LONG_QUERY)
    assert time.monotonic() - started < STOPPED_WITHIN
    # Other sessions of the same engine have no limit.
    async with engine.session() as session:
        assert await session.execute(SLOW_QUERY) == [{"n": 0}]
    await assert_pool_whole(engine)


@pytest.mark.parametrize("override", [None, 30.0])
async def test_per_session_statement_timeout_overrides_the_engine_one(
    db_path: Path, override: float | None
) -> None:
    async with DatabaseEngine(db_path, statement_timeout=0.02) as engine:
        # The engine's limit applies by default: the query takes longer.
        with pytest.raises(StatementTimeoutError, match=r"statement_timeout=0\.02s"):
            async with engine.session() as session:
                await session.execute(SLOW_QUERY)
        # A session or transaction with a larger limit, or none, runs it.
        async with engine.session(statement_timeout=override) as session:
            assert await session.execute(SLOW_QUERY) == [{"n": 0}]
        async with engine.transaction(statement_timeout=override) as session:
            await ProjectRepository(session).create(project_data(name="slow but allowed"))
            assert await session.execute(SLOW_QUERY) == [{"n": 0}]
        async with engine.session(statement_timeout=None) as session:
            rows = await session.execute("SELECT name FROM projects")
        assert rows == [{"name": "slow but allowed"}]
        stats = engine.stats()
        assert (stats.checked_out, stats.waiters) == (0, 0)


async def test_statement_timeout_in_a_transaction_rolls_back_the_whole_transaction(
    db_path: Path,
) -> None:
    async with DatabaseEngine(db_path, statement_timeout=0.3) as engine:
        with pytest.raises(StatementTimeoutError):
            async with engine.transaction() as session:
                await _write_a_little_of_everything(session, "lost")
                await session.execute(LONG_QUERY)
        assert await _row_counts(engine) == dict.fromkeys(TABLES, 0)
        await _assert_engine_usable(engine)


async def test_after_a_statement_timeout_the_transaction_refuses_statements_until_left(
    engine: DatabaseEngine,
) -> None:
    with pytest.raises(DatabaseError, match="statement_timeout") as on_exit:
        async with engine.transaction(statement_timeout=0.3) as session:
            await _write_a_little_of_everything(session, "lost")
            with pytest.raises(StatementTimeoutError):
                await session.execute(LONG_QUERY)
            # The transaction is gone: nothing may run as if it were still open.
            with pytest.raises(DatabaseError, match="statement_timeout"):
                await session.execute("SELECT 1")
            with pytest.raises(DatabaseError, match="statement_timeout"):
                await ProjectRepository(session).create(project_data(name="also lost"))
            with pytest.raises(DatabaseError, match="statement_timeout"):
                await session.commit()
        # Leaving the block cannot commit the rolled-back work, and says so.
    assert not isinstance(on_exit.value, StatementTimeoutError)
    assert await _row_counts(engine) == dict.fromkeys(TABLES, 0)

    # After an explicit rollback the same transaction block can go on.
    async with engine.transaction(statement_timeout=0.3) as session:
        await ProjectRepository(session).create(project_data(name="lost"))
        with pytest.raises(StatementTimeoutError):
            await session.execute(LONG_QUERY)
        await session.rollback()
        await ProjectRepository(session).create(project_data(name="kept"))
    names = await engine.execute_raw("SELECT name FROM projects")
    assert names == [{"name": "kept"}]
    await assert_pool_whole(engine)


INVALID_TIMEOUTS = [0, 0.0, -1, -0.5, float("nan")]


def test_invalid_engine_statement_timeout_is_refused() -> None:
    for value in INVALID_TIMEOUTS:
        with pytest.raises(pydantic.ValidationError, match="statement_timeout"):
            DatabaseEngine("duckdb:///:memory:", statement_timeout=value)


async def test_invalid_per_session_statement_timeout_is_refused(engine: DatabaseEngine) -> None:
    before = engine.stats().total_acquisitions
    for value in INVALID_TIMEOUTS:
        with pytest.raises(ValueError, match="statement_timeout must be positive") as info:
            engine.session(statement_timeout=value)
        assert not isinstance(info.value, pydantic.ValidationError)
        with pytest.raises(ValueError, match="statement_timeout must be positive"):
            engine.transaction(statement_timeout=value)
    stats = engine.stats()
    assert (stats.total_acquisitions, stats.checked_out) == (before, 0)
