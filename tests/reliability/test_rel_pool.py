"""The pool under pressure and at shutdown (issue 6).

- Exhaustion: with every connection held, another acquirer gets
  ``PoolTimeoutError`` after ``pool_timeout`` while the holders keep working and
  commit; the stats count the timeout.
- Fairness: waiters are served first come, first served, one returned connection
  at a time; a waiter cancelled in the queue drops out without disturbing the
  order, and a task that gives its connection back and asks again at once goes
  to the back of the queue.
- Graceful shutdown: ``close(timeout)`` lets in-flight work finish and commit,
  refuses new sessions with ``PoolClosedError`` while closing and after,
  interrupts what is still running after the timeout (its caller gets a library
  error, its transaction is rolled back) and returns soon after; everything
  committed is in the file when it is opened again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from anyio.abc import TaskStatus
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
    PoolClosedError,
    PoolTimeoutError,
    Project,
    ProjectRepository,
)

# -- exhaustion ------------------------------------------------------------------------


async def test_exhausted_pool_times_out_a_third_acquirer_while_holders_work_and_commit(
    db_path: Path,
) -> None:
    async with DatabaseEngine(db_path, pool_size=2, max_overflow=0, pool_timeout=0.2) as engine:
        timed_out = anyio.Event()
        written: list[Project] = []

        async def holder(name: str, *, task_status: TaskStatus[None]) -> None:
            async with engine.transaction() as session:
                projects = ProjectRepository(session)
                written.append(await projects.create(project_data(name=f"{name} before")))
                task_status.started()
                await timed_out.wait()
                # The holder's session and transaction are untouched by the timeout.
                written.append(await projects.create(project_data(name=f"{name} after")))
                updated = await projects.update(
                    written[-1].id, {"status": "active"}, expected_version=1
                )
                assert updated.version == 2

        async with anyio.create_task_group() as tg:
            await tg.start(holder, "first")
            await tg.start(holder, "second")
            stats = engine.stats()
            assert (stats.checked_out, stats.idle, stats.open_connections) == (2, 0, 2)

            for opener in (engine.session, engine.transaction):
                started = time.monotonic()
                with pytest.raises(PoolTimeoutError, match=r"pool_timeout=0\.2s") as info:
                    async with opener():
                        pytest.fail("a third connection was handed out")
                elapsed = time.monotonic() - started
                assert 0.15 <= elapsed < STOPPED_WITHIN
                assert "2 checked out of pool_size=2" in str(info.value)
            stats = engine.stats()
            assert stats.acquisition_timeouts == 2
            assert (stats.checked_out, stats.waiters, stats.open_connections) == (2, 0, 2)
            timed_out.set()

        rows = await engine.execute_raw("SELECT name, version, status FROM projects ORDER BY name")
        assert rows == [
            {"name": "first after", "version": 2, "status": "active"},
            {"name": "first before", "version": 1, "status": "draft"},
            {"name": "second after", "version": 2, "status": "active"},
            {"name": "second before", "version": 1, "status": "draft"},
        ]
        audit = await engine.execute_raw(
            "SELECT action, count(*) AS n FROM audit_log GROUP BY action ORDER BY action"
        )
        assert audit == [{"action": "create", "n": 4}, {"action": "update", "n": 2}]
        stats = engine.stats()
        assert stats.acquisition_timeouts == 2
        await assert_pool_whole(engine)


# -- fairness --------------------------------------------------------------------------


async def test_waiters_are_served_in_arrival_order_one_returned_connection_at_a_time(
    db_path: Path,
) -> None:
    waiters = 6
    again = 10  # the number waiter 0 reports when it asks a second time
    async with DatabaseEngine(db_path, pool_size=2, max_overflow=0, pool_timeout=10) as engine:
        releases = {index: anyio.Event() for index in [*range(waiters), again, -1, -2]}
        scopes = {index: anyio.CancelScope() for index in range(waiters)}
        gave_up = anyio.Event()
        send, receive = anyio.create_memory_object_stream[int](waiters + 1)
        order: list[int] = []

        async def use(index: int, queued: anyio.Event | None = None) -> None:
            # Even waiters use a transaction, odd ones an auto-commit session.
            opener = engine.transaction if index % 2 == 0 else engine.session
            if queued is not None:
                queued.set()  # the acquire below queues before this task yields
            async with opener() as session:
                await send.send(index)
                assert await session.execute("SELECT ? AS i", [index]) == [{"i": index}]
                await releases[index].wait()

        async def waiter(index: int, queued: anyio.Event) -> None:
            with scopes[index]:
                await use(index, queued)
            if scopes[index].cancelled_caught:
                gave_up.set()
            if index == 0:
                # Gives its connection back and asks again in the same step: it
                # must queue behind everyone already waiting.
                await use(again)

        async def holder(index: int, *, task_status: TaskStatus[None]) -> None:
            async with engine.session():
                task_status.started()
                await releases[index].wait()

        async def next_served() -> int:
            with anyio.fail_after(5):
                served = await receive.receive()
            order.append(served)
            stats = engine.stats()
            assert (stats.checked_out, stats.open_connections) == (2, 2), stats
            return served

        with send, receive:
            async with anyio.create_task_group() as tg:
                await tg.start(holder, -1)
                await tg.start(holder, -2)
                for index in range(waiters):
                    queued = anyio.Event()
                    tg.start_soon(waiter, index, queued)
                    await queued.wait()
                    assert engine.stats().waiters == index + 1
                # Waiter 2 gives up while queued.
                scopes[2].cancel()
                with anyio.fail_after(5):
                    await gave_up.wait()
                assert engine.stats().waiters == waiters - 1

                releases[-1].set()
                assert await next_served() == 0
                releases[-2].set()
                assert await next_served() == 1
                releases[0].set()
                assert await next_served() == 3
                assert engine.stats().waiters == 3  # 4, 5 and waiter 0 again
                for finished, expected in ((1, 4), (3, 5), (4, again)):
                    releases[finished].set()
                    assert await next_served() == expected
                releases[5].set()
                releases[again].set()

        assert order == [0, 1, 3, 4, 5, again]
        assert scopes[2].cancelled_caught
        stats = engine.stats()
        assert (stats.checked_out, stats.waiters, stats.acquisition_timeouts) == (0, 0, 0)
        assert stats.total_acquisitions == 2 + len(order)
        await assert_pool_whole(engine)


# -- graceful shutdown -------------------------------------------------------------------


async def test_close_finishes_in_flight_work_refuses_new_sessions_and_interrupts_the_rest(
    db_path: Path,
) -> None:
    close_timeout = 1.0
    engine = await DatabaseEngine(db_path, pool_size=3, max_overflow=0, pool_timeout=10).connect()
    async with engine.session() as session:
        projects = ProjectRepository(session)
        committed = await projects.bulk_create(
            [project_data(name=f"committed {i}") for i in range(20)]
        )
        await projects.update(committed[1].id, {"status": "active"}, expected_version=1)
        talk = await ConversationRepository(session).create(conversation_data(committed[0].id))
        await ConversationRepository(session).add_message(
            talk.id, {"role": "user", "content": "before close"}
        )

    outcomes: dict[str, Any] = {}
    finish = anyio.Event()
    waiter_failed = anyio.Event()
    closing = anyio.Event()

    async def in_flight(*, task_status: TaskStatus[None]) -> None:
        """A transaction half done when close begins, finished during the timeout."""
        async with engine.transaction() as session:
            projects = ProjectRepository(session)
            conversations = ConversationRepository(session)
            project = await projects.create(project_data(name="in flight"))
            task_status.started()
            await finish.wait()
            talk = await conversations.create(conversation_data(project.id, title="in flight"))
            await conversations.add_message(talk.id, {"role": "user", "content": "during close"})
            await projects.update(project.id, {"status": "active"}, expected_version=1)
        outcomes["in flight"] = "committed"

    async def long_query(*, task_status: TaskStatus[None]) -> None:
        try:
            async with engine.session() as session:
                task_status.started()
                await session.execute(LONG_QUERY)
        except Exception as exc:
            outcomes["long query"] = exc

    async def long_transaction(*, task_status: TaskStatus[None]) -> None:
        try:
            async with engine.transaction() as session:
                await ProjectRepository(session).create(project_data(name="vanished zebra"))
                task_status.started()
                await session.execute(LONG_QUERY)
        except Exception as exc:
            outcomes["long transaction"] = exc

    async def waiter(*, task_status: TaskStatus[None]) -> None:
        task_status.started()  # the acquire below queues before this task yields
        try:
            async with engine.session():
                pytest.fail("a waiter got a connection from a closing engine")
        except Exception as exc:
            outcomes["waiter"] = exc
        waiter_failed.set()

    async def closer() -> None:
        started = time.monotonic()
        closing.set()  # close() refuses new sessions before it first yields
        await engine.close(timeout=close_timeout)
        outcomes["close took"] = time.monotonic() - started

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            await tg.start(in_flight)
            await tg.start(long_query)
            await tg.start(long_transaction)
            await tg.start(waiter)
            assert engine.stats().waiters == 1
            await anyio.sleep(0.1)  # the long queries are running
            tg.start_soon(closer)
            await closing.wait()
            assert not engine.is_open

            # Closing: the queued waiter and every newcomer are refused...
            await waiter_failed.wait()
            assert isinstance(outcomes["waiter"], PoolClosedError)
            for opener in (engine.session, engine.transaction):
                with pytest.raises(PoolClosedError):
                    async with opener():
                        pytest.fail("a session opened on a closing engine")
            with pytest.raises(PoolClosedError):
                await engine.execute_raw("SELECT 1")
            # ...while work already under way goes on and commits.
            finish.set()

    assert outcomes["in flight"] == "committed"
    # The rest was interrupted once the timeout had passed, and close returned soon after.
    assert close_timeout * 0.9 <= outcomes["close took"] < close_timeout + STOPPED_WITHIN
    for name in ("long query", "long transaction"):
        error = outcomes[name]
        assert isinstance(error, PoolClosedError | DatabaseError), (name, error)
        assert not isinstance(error, duckdb.Error), (name, error)
    assert not engine.is_open
    with pytest.raises(PoolClosedError):
        async with engine.session():
            pytest.fail("a session opened on a closed engine")
    with pytest.raises(PoolClosedError):
        engine.stats()

    # Everything committed is in the file, and nothing else.
    async with DatabaseEngine(db_path) as reopened, reopened.session() as session:
        projects = ProjectRepository(session)
        rows = await session.execute("SELECT name, version, status FROM projects ORDER BY id")
        expected = [{"name": f"committed {i}", "version": 1, "status": "draft"} for i in range(20)]
        expected[1] = {"name": "committed 1", "version": 2, "status": "active"}
        expected.append({"name": "in flight", "version": 2, "status": "active"})
        assert rows == expected
        for index, project in enumerate(committed):
            if index != 1:  # untouched since it was committed
                assert await projects.get_by_id(project.id) == project
        talks = await session.execute(
            "SELECT c.title, p.name, (SELECT list(m.content ORDER BY m.position) FROM messages AS m "
            "WHERE m.conversation_id = c.id) AS messages "
            "FROM conversations c JOIN projects p ON p.id = c.project_id ORDER BY c.id"
        )
        assert talks == [
            {"title": "Kickoff", "name": "committed 0", "messages": ["before close"]},
            {"title": "in flight", "name": "in flight", "messages": ["during close"]},
        ]
        audit = await session.execute(
            "SELECT entity, action, count(*) AS n FROM audit_log "
            "GROUP BY entity, action ORDER BY entity, action"
        )
        assert audit == [
            {"entity": "conversation", "action": "create", "n": 2},
            {"entity": "conversation", "action": "update", "n": 2},
            {"entity": "project", "action": "create", "n": 21},
            {"entity": "project", "action": "update", "n": 2},
        ]
        assert await projects.search_by_name("zebra") == []
        assert [p.name for p in await projects.search_by_name("flight")] == ["in flight"]
