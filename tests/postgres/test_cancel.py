"""On PostgreSQL, a timeout or a cancellation stops the query on the server,
not just the wait for it, and leaves the pooled connection usable."""

from __future__ import annotations

import time

import anyio
import psycopg
import pytest
from helpers import STOPPED_WITHIN

from project_architect_db import DatabaseEngine, PoolClosedError, StatementTimeoutError

SLOW = "SELECT pg_sleep(30) AS slept, 'pad-cancel-probe' AS marker"


def _running(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE query LIKE '%pad-cancel-probe%' AND state = 'active' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_statement_timeout_cancels_the_query_on_the_server(pg_url: str) -> None:
    async with DatabaseEngine(pg_url, pool_size=1, max_overflow=0) as engine:
        started = time.monotonic()
        async with engine.session(statement_timeout=0.5) as session:
            with pytest.raises(StatementTimeoutError, match=r"statement_timeout=0\.5s"):
                await session.execute(SLOW)
        assert time.monotonic() - started < STOPPED_WITHIN
        assert _running(pg_url) == 0
        # The one connection is clean and serves the next call at once.
        assert await engine.execute_raw("SELECT 1 AS one") == [{"one": 1}]
        stats = engine.stats()
        assert stats.checked_out == 0
        assert stats.queries["execute_raw"].timeouts == 1


async def test_a_cancelled_call_stops_its_query_on_the_server(pg_url: str) -> None:
    async with DatabaseEngine(pg_url, pool_size=1, max_overflow=0) as engine:
        with anyio.move_on_after(0.5) as scope:
            await engine.execute_raw(SLOW)
        assert scope.cancelled_caught
        assert _running(pg_url) == 0
        assert await engine.execute_raw("SELECT 2 AS two") == [{"two": 2}]


async def test_closing_the_engine_interrupts_what_still_runs(pg_url: str) -> None:
    engine = await DatabaseEngine(pg_url, pool_size=2).connect()
    outcome: list[BaseException] = []

    async def slow() -> None:
        try:
            await engine.execute_raw(SLOW)
        except Exception as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(slow)
        await anyio.sleep(0.5)
        await engine.close(timeout=0.5)
    [error] = outcome
    assert isinstance(error, PoolClosedError), repr(error)
    assert _running(pg_url) == 0
