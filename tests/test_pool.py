"""The connection pool's contract: limits, overflow, timeouts, fairness,
cancellation, pre-ping, recycling, shutdown and statistics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from anyio.abc import TaskStatus
from helpers import LONG_QUERY, STOPPED_WITHIN, project_data

from project_architect_db import (
    DatabaseEngine,
    PoolClosedError,
    PoolTimeoutError,
    ProjectRepository,
    Session,
)

# Takes a few tenths of a second on DuckDB, a second or two on PostgreSQL.
MEDIUM_QUERY = (
    "SELECT count(*) AS n FROM generate_series(1, 10000) AS a(x), "
    "generate_series(1, 10000) AS b(y) WHERE a.x + b.y = -1"
)


async def _hold(
    engine: DatabaseEngine,
    release: anyio.Event,
    *,
    task_status: TaskStatus[Session] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Check out a session, report it, keep it until ``release`` is set."""
    async with engine.session() as session:
        task_status.started(session)
        await release.wait()


async def _project_names(engine: DatabaseEngine) -> list[str]:
    rows = await engine.execute_raw("SELECT name FROM projects ORDER BY id")
    return [row["name"] for row in rows]


# -- limits and overflow ----------------------------------------------------------


async def test_pool_hands_out_at_most_pool_size_plus_max_overflow_connections(
    engine: DatabaseEngine,
) -> None:
    release = anyio.Event()
    got_ninth = anyio.Event()
    ninth_queued = anyio.Event()

    async def ninth() -> None:
        ninth_queued.set()
        async with engine.session() as session:
            assert await session.execute("SELECT 9 AS n") == [{"n": 9}]
            got_ninth.set()

    async with anyio.create_task_group() as tg:
        sessions = [await tg.start(_hold, engine, release) for _ in range(8)]
        # Eight distinct connections, every one of them usable.
        assert len({id(session._pooled) for session in sessions}) == 8
        for i, session in enumerate(sessions):
            assert await session.execute("SELECT ? AS i", [i]) == [{"i": i}]

        tg.start_soon(ninth)
        await ninth_queued.wait()
        stats = engine.stats()
        assert stats.open_connections == 8
        assert stats.checked_out == 8
        assert stats.overflow_in_use == 4
        assert stats.idle == 0
        assert stats.waiters == 1
        assert not got_ninth.is_set()

        release.set()
        with anyio.fail_after(5):
            await got_ninth.wait()
    stats = engine.stats()
    assert stats.checked_out == 0
    assert stats.waiters == 0
    assert stats.open_connections <= 8


async def test_overflow_connections_are_closed_when_returned(engine: DatabaseEngine) -> None:
    release = anyio.Event()
    async with anyio.create_task_group() as tg:
        for _ in range(8):
            await tg.start(_hold, engine, release)
        stats = engine.stats()
        assert (stats.open_connections, stats.checked_out, stats.overflow_in_use) == (8, 8, 4)
        release.set()
    stats = engine.stats()
    assert stats.open_connections == 4
    assert stats.idle == 4
    assert stats.checked_out == 0
    assert stats.overflow_in_use == 0
    # The kept connections still work.
    assert await engine.execute_raw("SELECT 1 AS one") == [{"one": 1}]
    assert engine.stats().open_connections == 4


async def test_returned_overflow_connection_goes_to_a_waiter_instead_of_closing(
    db_path: Path,
) -> None:
    async with DatabaseEngine(db_path, pool_size=1, max_overflow=1, pool_timeout=10) as engine:
        release_first = anyio.Event()
        release_second = anyio.Event()
        waiter_queued = anyio.Event()
        waiter_got: list[int] = []
        waiter_served = anyio.Event()

        async def waiter() -> None:
            waiter_queued.set()
            async with engine.session():
                waiter_got.append(engine.stats().open_connections)
                waiter_served.set()

        async with anyio.create_task_group() as tg:
            await tg.start(_hold, engine, release_first)
            await tg.start(_hold, engine, release_second)  # the overflow connection
            tg.start_soon(waiter)
            await waiter_queued.wait()
            assert engine.stats().waiters == 1
            release_second.set()
            with anyio.fail_after(5):
                await waiter_served.wait()
            assert waiter_got == [2]
            release_first.set()
        stats = engine.stats()
        assert (stats.open_connections, stats.idle, stats.checked_out) == (1, 1, 0)


# -- timeouts ------------------------------------------------------------------------


async def test_pool_timeout_raises_while_holders_unaffected(db_path: Path) -> None:
    async with DatabaseEngine(db_path, pool_size=2, max_overflow=0, pool_timeout=0.2) as engine:
        release = anyio.Event()
        holder_results: list[list[dict[str, Any]]] = []
        elapsed: list[float] = []

        async def third_acquirer() -> None:
            started = time.monotonic()
            with pytest.raises(PoolTimeoutError, match=r"pool_timeout=0\.2"):
                async with engine.session():
                    pytest.fail("a third connection was handed out")
            elapsed.append(time.monotonic() - started)

        async def holder_works(session: Session, value: int) -> None:
            holder_results.append(await session.execute("SELECT $v AS v", {"v": value}))

        async with anyio.create_task_group() as tg:
            first = await tg.start(_hold, engine, release)
            second = await tg.start(_hold, engine, release)
            async with anyio.create_task_group() as inner:
                inner.start_soon(third_acquirer)
                inner.start_soon(holder_works, first, 1)
                inner.start_soon(holder_works, second, 2)
            assert len(elapsed) == 1
            assert 0.15 <= elapsed[0] < STOPPED_WITHIN
            # The holders kept working during and after the timeout.
            assert sorted(holder_results, key=lambda rows: rows[0]["v"]) == [
                [{"v": 1}],
                [{"v": 2}],
            ]
            assert await first.execute("SELECT 'still here' AS s") == [{"s": "still here"}]
            stats = engine.stats()
            assert stats.acquisition_timeouts == 1
            assert stats.waiters == 0
            assert stats.checked_out == 2
            assert stats.open_connections == 2
            release.set()
        # Once the holders are gone the pool serves again.
        assert await engine.execute_raw("SELECT 1 AS one") == [{"one": 1}]
        assert engine.stats().acquisition_timeouts == 1


# -- fairness ------------------------------------------------------------------------


async def test_waiters_are_served_first_come_first_served(db_path: Path) -> None:
    count = 5
    async with DatabaseEngine(db_path, pool_size=1, max_overflow=0, pool_timeout=10) as engine:
        releases = [anyio.Event() for _ in range(count)]
        send, receive = anyio.create_memory_object_stream[int](count)
        order: list[int] = []

        async def waiter(index: int, queued: anyio.Event) -> None:
            queued.set()  # the acquire below queues before this task next yields
            async with engine.session() as session:
                assert await session.execute("SELECT ? AS i", [index]) == [{"i": index}]
                await send.send(index)
                await releases[index].wait()

        with send, receive:
            async with anyio.create_task_group() as tg:
                holder_release = anyio.Event()
                await tg.start(_hold, engine, holder_release)
                for index in range(count):
                    queued = anyio.Event()
                    tg.start_soon(waiter, index, queued)
                    await queued.wait()
                    assert engine.stats().waiters == index + 1
                holder_release.set()
                for _ in range(count):
                    with anyio.fail_after(5):
                        served = await receive.receive()
                    order.append(served)
                    stats = engine.stats()
                    assert stats.checked_out == 1
                    assert stats.open_connections == 1
                    releases[served].set()
        assert order == list(range(count))
        stats = engine.stats()
        assert (stats.checked_out, stats.waiters, stats.total_acquisitions) == (0, 0, count + 1)


# -- cancellation --------------------------------------------------------------------


async def test_task_cancelled_while_waiting_for_a_connection_leaks_nothing(
    db_path: Path,
) -> None:
    async with DatabaseEngine(db_path, pool_size=2, max_overflow=1, pool_timeout=10) as engine:
        release = anyio.Event()
        scopes = [anyio.CancelScope() for _ in range(3)]
        finished: list[bool] = []

        async def waiter(scope: anyio.CancelScope, queued: anyio.Event) -> None:
            with scope:
                queued.set()
                async with engine.session():
                    pytest.fail("a cancelled waiter got a connection")
            finished.append(scope.cancelled_caught)

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                await tg.start(_hold, engine, release)
            with anyio.fail_after(5):
                async with anyio.create_task_group() as waiters:
                    for scope in scopes:
                        queued = anyio.Event()
                        waiters.start_soon(waiter, scope, queued)
                        await queued.wait()
                    assert engine.stats().waiters == 3
                    for scope in scopes:
                        scope.cancel()
            assert finished == [True, True, True]
            stats = engine.stats()
            assert stats.waiters == 0
            assert stats.checked_out == 3
            release.set()

        stats = engine.stats()
        assert stats.waiters == 0
        assert stats.checked_out == 0
        assert stats.acquisition_timeouts == 0
        # The pool still hands out pool_size + max_overflow connections at once.
        release_again = anyio.Event()
        async with anyio.create_task_group() as tg:
            with anyio.fail_after(5):
                for _ in range(3):
                    await tg.start(_hold, engine, release_again)
            stats = engine.stats()
            assert (stats.checked_out, stats.open_connections, stats.waiters) == (3, 3, 0)
            release_again.set()


@pytest.mark.parametrize("order", ["cancel-then-release", "release-then-cancel"])
async def test_waiter_cancelled_as_a_connection_is_handed_to_it_passes_it_on(
    db_path: Path, order: str
) -> None:
    async with DatabaseEngine(db_path, pool_size=1, max_overflow=0, pool_timeout=10) as engine:
        scope_a = anyio.CancelScope()
        holder_release = anyio.Event()
        b_served = anyio.Event()

        async def holder(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            # The release (leaving the session block) and the cancellation of
            # waiter A happen in one step: A cannot run in between.
            async with engine.session():
                task_status.started()
                await holder_release.wait()
                if order == "cancel-then-release":
                    scope_a.cancel()
            if order == "release-then-cancel":
                scope_a.cancel()

        async def waiter_a(queued: anyio.Event) -> None:
            with scope_a:
                queued.set()
                async with engine.session():
                    await anyio.sleep_forever()

        async def waiter_b(queued: anyio.Event) -> None:
            queued.set()
            async with engine.session() as session:
                assert await session.execute("SELECT 'b' AS who") == [{"who": "b"}]
                b_served.set()

        async with anyio.create_task_group() as tg:
            await tg.start(holder)
            for task in (waiter_a, waiter_b):
                queued = anyio.Event()
                tg.start_soon(task, queued)
                await queued.wait()
            assert engine.stats().waiters == 2
            holder_release.set()
            with anyio.fail_after(3):
                await b_served.wait()
        assert scope_a.cancelled_caught
        stats = engine.stats()
        assert (stats.checked_out, stats.waiters, stats.open_connections) == (0, 0, 1)
        assert await engine.execute_raw("SELECT 1 AS one") == [{"one": 1}]


async def test_task_cancelled_while_its_query_runs_interrupts_the_query(
    engine: DatabaseEngine,
) -> None:
    async with engine.session() as session:
        started = time.monotonic()
        with anyio.move_on_after(0.3) as scope:
            await session.execute(LONG_QUERY)
        elapsed = time.monotonic() - started
        assert scope.cancelled_caught
        assert elapsed < STOPPED_WITHIN
        assert engine.stats().checked_out == 1
        # The same (auto-commit) session goes on working and its write commits.
        await session.execute(
            "INSERT INTO projects (name, project_idea) VALUES ($name, 'idea')",
            {"name": "after-cancel"},
        )
    stats = engine.stats()
    assert stats.checked_out == 0
    assert stats.waiters == 0
    assert await _project_names(engine) == ["after-cancel"]
    async with engine.session() as fresh:
        assert await fresh.execute("SELECT 2 AS two") == [{"two": 2}]


# -- pre-ping and recycling ----------------------------------------------------------


@pytest.mark.parametrize("how", ["session", "transaction", "repository"])
async def test_pre_ping_replaces_connection_closed_behind_the_pools_back(
    engine: DatabaseEngine, how: str
) -> None:
    await engine.execute_raw("SELECT 1")
    pool = engine._pool
    assert pool is not None
    assert len(pool._idle) == 1
    pooled = pool._idle[0]
    dead = pooled.connection
    dead.close()
    with pytest.raises(engine.driver.error):  # duckdb.ConnectionException, psycopg's closed
        dead.execute("SELECT 1")

    if how == "repository":
        async with engine.session() as session:
            created = await ProjectRepository(session).create(project_data(name="pinged"))
            assert session._pooled is pooled
        assert created.name == "pinged"
        assert await _project_names(engine) == ["pinged"]
    else:
        opener = engine.session if how == "session" else engine.transaction
        async with opener() as session:
            assert await session.execute("SELECT 42 AS answer") == [{"answer": 42}]
            assert session._pooled is pooled
    assert pooled.connection is not dead
    assert pooled.connection.execute("SELECT 7").fetchall() == [(7,)]
    stats = engine.stats()
    assert (stats.open_connections, stats.idle, stats.checked_out) == (1, 1, 0)


async def test_pool_recycle_replaces_connection_older_than_the_limit(db_path: Path) -> None:
    async with DatabaseEngine(db_path, pool_size=1, max_overflow=0, pool_recycle=0.05) as engine:
        async with engine.session() as session:
            assert session._pooled is not None
            first = session._pooled.connection
            await session.execute("SELECT 1")
        await anyio.sleep(0.1)
        async with engine.session() as session:
            assert session._pooled is not None
            second = session._pooled.connection
            assert await session.execute("SELECT 2 AS two") == [{"two": 2}]
        # ``first`` is still referenced, so distinct ids mean distinct objects.
        assert id(second) != id(first)
        with pytest.raises(duckdb.ConnectionException):
            first.execute("SELECT 1")  # the old one was closed, not leaked
        assert engine.stats().open_connections == 1


async def test_connection_younger_than_pool_recycle_is_reused(db_path: Path) -> None:
    async with DatabaseEngine(db_path, pool_size=1, max_overflow=0, pool_recycle=60) as engine:
        async with engine.session() as session:
            assert session._pooled is not None
            first = session._pooled.connection
        await anyio.sleep(0.1)
        async with engine.session() as session:
            assert session._pooled is not None
            assert session._pooled.connection is first


# -- close(timeout) ------------------------------------------------------------------


async def test_close_lets_in_flight_work_finish_within_the_timeout(db_path: Path) -> None:
    engine = await DatabaseEngine(db_path).connect()
    started = anyio.Event()
    result: dict[str, Any] = {}

    async def in_flight() -> None:
        async with engine.transaction() as session:
            await session.execute(
                "INSERT INTO projects (name, project_idea) VALUES ('kept', 'idea')"
            )
            started.set()
            result["rows"] = await session.execute(MEDIUM_QUERY)

    async with anyio.create_task_group() as tg:
        tg.start_soon(in_flight)
        await started.wait()
        begun = time.monotonic()
        await engine.close(timeout=20)
        elapsed = time.monotonic() - begun
        # close returned only after the query finished and the transaction committed.
        assert result == {"rows": [{"n": 0}]}
    assert elapsed < 15
    assert not engine.is_open
    async with DatabaseEngine(db_path) as reopened:
        assert await _project_names(reopened) == ["kept"]


async def test_close_interrupts_query_still_running_after_the_timeout(db_path: Path) -> None:
    engine = await DatabaseEngine(db_path).connect()
    started = anyio.Event()
    outcome: list[BaseException] = []

    async def long_running() -> None:
        try:
            async with engine.transaction() as session:
                await session.execute(
                    "INSERT INTO projects (name, project_idea) VALUES ('lost', 'idea')"
                )
                started.set()
                await session.execute(LONG_QUERY)
        except Exception as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(long_running)
        await started.wait()
        begun = time.monotonic()
        await engine.close(timeout=0.3)
        elapsed = time.monotonic() - begun
    assert 0.25 <= elapsed < STOPPED_WITHIN  # the query alone runs for about a minute
    assert len(outcome) == 1
    assert isinstance(outcome[0], PoolClosedError)
    assert isinstance(outcome[0].__cause__, duckdb.Error)
    async with DatabaseEngine(db_path) as reopened:
        assert await _project_names(reopened) == []


async def test_use_after_close_raises_pool_closed_error(db_path: Path) -> None:
    engine = await DatabaseEngine(db_path).connect()
    await engine.execute_raw("SELECT 1")
    await engine.close(timeout=1)
    assert not engine.is_open
    with pytest.raises(PoolClosedError):
        engine.stats()
    with pytest.raises(PoolClosedError):
        async with engine.session():
            pytest.fail("a session opened on a closed engine")
    with pytest.raises(PoolClosedError):
        async with engine.transaction():
            pytest.fail("a transaction opened on a closed engine")
    with pytest.raises(PoolClosedError):
        await engine.execute_raw("SELECT 1")
    await engine.close()  # closing again is harmless


async def test_close_fails_waiters_and_new_acquires_with_pool_closed_error(
    db_path: Path,
) -> None:
    engine = await DatabaseEngine(db_path, pool_size=1, max_overflow=0, pool_timeout=10).connect()
    release = anyio.Event()
    waiter_outcome: list[BaseException] = []
    waiter_failed = anyio.Event()
    close_done = anyio.Event()

    async def waiter(queued: anyio.Event) -> None:
        queued.set()
        try:
            async with engine.session():
                pytest.fail("a waiter got a connection from a closing pool")
        except PoolClosedError as exc:
            waiter_outcome.append(exc)
            waiter_failed.set()

    async def closer() -> None:
        await engine.close(timeout=10)
        close_done.set()

    async with anyio.create_task_group() as tg:
        holder = await tg.start(_hold, engine, release)
        queued = anyio.Event()
        tg.start_soon(waiter, queued)
        await queued.wait()
        tg.start_soon(closer)
        with anyio.fail_after(5):
            await waiter_failed.wait()
        assert isinstance(waiter_outcome[0], PoolClosedError)
        # While close waits for the holder, nobody new gets in...
        with pytest.raises(PoolClosedError):
            async with engine.session():
                pytest.fail("a session opened on a closing engine")
        # ...but the holder's in-flight work still runs.
        assert await holder.execute("SELECT 'done' AS s") == [{"s": "done"}]
        assert not close_done.is_set()
        release.set()
        with anyio.fail_after(5):
            await close_done.wait()
    with pytest.raises(PoolClosedError):
        engine.stats()


async def test_session_held_idle_past_close_timeout_gets_pool_closed_error(
    db_path: Path,
) -> None:
    engine = await DatabaseEngine(db_path).connect()
    async with engine.session() as session:
        await session.execute("SELECT 1")
        begun = time.monotonic()
        await engine.close(timeout=0.2)
        assert time.monotonic() - begun < STOPPED_WITHIN
        with pytest.raises(PoolClosedError) as info:
            await session.execute("SELECT 1")
        assert isinstance(info.value.__cause__, duckdb.Error)


# -- stats ---------------------------------------------------------------------------


async def test_stats_count_acquisitions_and_named_query_calls(engine: DatabaseEngine) -> None:
    before = engine.stats()
    assert before.total_acquisitions == 0
    assert "get_project" not in before.queries

    async with engine.session() as session:
        projects = ProjectRepository(session)
        created = await projects.create(project_data())
        assert await projects.get_by_id(created.id) == created
        assert await projects.get_by_id(created.id + 1000) is None
    await engine.execute_raw("SELECT 1")
    async with engine.transaction() as session:
        await session.execute("SELECT 2")

    stats = engine.stats()
    assert stats.total_acquisitions == 3
    get_project = stats.queries["get_project"]
    assert get_project.calls == 2
    assert get_project.total_seconds > 0
    assert 0 < get_project.max_seconds <= get_project.total_seconds
    assert stats.queries["create_project"].calls == 1
    assert stats.queries["execute_raw"].calls == 2
    assert stats.checked_out == 0
    assert stats.open_connections == stats.idle == 1
