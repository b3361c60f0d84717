"""Every row of ``postgres.errors.POSTGRES_ERRORS``, fed its real PostgreSQL
error through the library (a real server, no mocks): the caller gets the
library's class and message, psycopg's exception as ``__cause__``, and the row
that translated it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import psycopg
import pytest

from project_architect_db import (
    ConflictError,
    DatabaseEngine,
    DatabaseError,
    IntegrityError,
    InvalidQueryError,
    ProjectArchitectDBError,
    ProjectCreate,
    ProjectRepository,
    Session,
)
from project_architect_db.errors import Stage
from project_architect_db.postgres.errors import POSTGRES_ERRORS, postgres_error_rule


def _rule_of(error: BaseException) -> str:
    cause = error.__cause__
    assert isinstance(cause, psycopg.Error), repr(cause)
    return postgres_error_rule(cause, Stage.STATEMENT).name


async def _backend_pid(session: Session) -> int:
    [row] = await session.execute("SELECT pg_backend_pid() AS pid")
    return int(row["pid"])


def _admin(url: str, sql: str, *params: Any) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql, params)


async def duplicate_key(engine: DatabaseEngine, url: str) -> None:
    await engine.execute_raw("INSERT INTO analytics_summaries (name, payload) VALUES ('a', '{}')")
    await engine.execute_raw("INSERT INTO analytics_summaries (name, payload) VALUES ('a', '{}')")


async def syntax_error(engine: DatabaseEngine, url: str) -> None:
    await engine.execute_raw("SELEC 1")


async def bad_value(engine: DatabaseEngine, url: str) -> None:
    await engine.execute_raw("SELECT CAST($text AS integer) AS n", {"text": "seven"})


async def unadaptable(engine: DatabaseEngine, url: str) -> None:
    await engine.execute_raw("SELECT $thing AS thing", {"thing": object()})


async def raised_by_the_server(engine: DatabaseEngine, url: str) -> None:
    await engine.execute_raw("DO $body$ BEGIN RAISE EXCEPTION 'boom'; END $body$")


async def cancelled_by_someone_else(engine: DatabaseEngine, url: str) -> None:
    async with engine.session() as session:
        pid = await _backend_pid(session)
        # Another client cancels it half a second in (pg_cancel_backend).
        canceller = threading.Timer(0.5, _admin, (url, "SELECT pg_cancel_backend(%s)", pid))
        canceller.start()
        try:
            await session.execute("SELECT pg_sleep(20)")
        finally:
            canceller.join()


async def lost_connection(engine: DatabaseEngine, url: str) -> None:
    async with engine.session() as session:
        pid = await _backend_pid(session)
        await anyio.to_thread.run_sync(_admin, url, "SELECT pg_terminate_backend(%s)", pid)
        await anyio.sleep(0.2)
        await session.execute("SELECT 1 AS one")


async def aborted_transaction(engine: DatabaseEngine, url: str) -> None:
    async with engine.transaction() as session:

        def work(runner: Any) -> None:
            # Swallowed inside the trip: the transaction is aborted all the same.
            with contextlib.suppress(psycopg.Error):
                runner.raw("SELEC 1", None)
            runner.raw("SELECT 1", None)

        await session.run_in_worker(work)


async def write_conflict(engine: DatabaseEngine, url: str) -> None:
    async with engine.session() as session:
        project = await ProjectRepository(session).create(
            ProjectCreate(name="contested", project_idea="two transactions change it")
        )
    async with engine.transaction() as first, engine.transaction() as second:
        await first.execute("SELECT version FROM projects WHERE id = $id", {"id": project.id})
        await second.execute("SELECT version FROM projects WHERE id = $id", {"id": project.id})
        await first.execute("UPDATE projects SET name = 'first' WHERE id = $id", {"id": project.id})
        await first.commit()
        await second.execute(
            "UPDATE projects SET name = 'second' WHERE id = $id", {"id": project.id}
        )


CASES: list[tuple[str, Callable[[DatabaseEngine, str], Awaitable[None]], type[Exception], str]] = [
    ("constraint", duplicate_key, IntegrityError, "violates a database constraint"),
    ("rejected statement", syntax_error, InvalidQueryError, "PostgreSQL rejected the statement"),
    ("unusable value", bad_value, InvalidQueryError, "could not use a value (22P02)"),
    ("unadaptable value", unadaptable, InvalidQueryError, "cannot be sent to PostgreSQL"),
    ("other", raised_by_the_server, DatabaseError, "PostgreSQL failed (P0001): boom"),
    ("interrupted", cancelled_by_someone_else, DatabaseError, "the statement was interrupted"),
    ("connection lost", lost_connection, DatabaseError, "lost the connection to PostgreSQL"),
    ("aborted transaction", aborted_transaction, DatabaseError, "roll it back"),
    ("write conflict", write_conflict, ConflictError, "a concurrent transaction changed it"),
]


@pytest.mark.parametrize(
    ("rule", "provoke", "error", "message"), CASES, ids=[case[0] for case in CASES]
)
async def test_each_row_translates_its_real_error(
    pg_url: str,
    rule: str,
    provoke: Callable[[DatabaseEngine, str], Awaitable[None]],
    error: type[Exception],
    message: str,
) -> None:
    async with DatabaseEngine(pg_url, pool_size=2) as engine:
        with pytest.raises(ProjectArchitectDBError) as caught:
            await provoke(engine, pg_url)
        assert type(caught.value) is error
        assert message in str(caught.value)
        assert _rule_of(caught.value) == rule
        # The pool is whole and serves the next call.
        assert await engine.execute_raw("SELECT 1 AS one") == [{"one": 1}]
        assert engine.stats().checked_out == 0


async def test_a_failing_migration_is_named(pg_url: str) -> None:
    _admin(pg_url, "CREATE TABLE projects (id text)")  # in the way of 0001
    with pytest.raises(DatabaseError, match=r"applying migrations to PostgreSQL at .* failed"):
        await DatabaseEngine(pg_url).connect()


def test_every_row_has_a_test() -> None:
    tested = {case[0] for case in CASES} | {
        "open",  # test_connect.py: a server that is down, a missing database, a user
        "migrate",  # test_a_failing_migration_is_named
        "engine closed",  # test_cancel.py: closing the engine interrupts what still runs
        "read-only transaction",  # test_connect.py: a read-only engine refuses writes
    }
    assert tested == {rule.name for rule in POSTGRES_ERRORS}
