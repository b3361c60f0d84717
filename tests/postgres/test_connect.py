"""Opening a PostgreSQL engine: what works, and every way it fails at connect
with an error naming the URL (never its password) and the fix, writing nothing."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

import psycopg
import pytest
from pgservers import database_url, free_port

from project_architect_db import DatabaseEngine, DatabaseError, ProjectCreate, ProjectRepository
from project_architect_db.core.config import EngineConfig
from project_architect_db.postgres.database import _check_server


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


async def test_an_engine_migrates_a_new_database_and_serves_calls(pg_url: str) -> None:
    async with DatabaseEngine(pg_url) as engine:
        assert engine.driver.name == "postgresql"
        async with engine.session() as session:
            created = await ProjectRepository(session).create(
                ProjectCreate(name="On the server", project_idea="a project kept in PostgreSQL")
            )
            assert await ProjectRepository(session).get_by_id(created.id) == created
    assert "schema_migrations" in _tables(pg_url)
    # Opening again applies nothing and finds the row.
    async with DatabaseEngine(pg_url) as engine, engine.session() as session:
        assert (await ProjectRepository(session).get_by_id(created.id)).name == "On the server"


async def test_a_server_that_is_down_is_named_with_the_fix() -> None:
    url = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/app"
    engine = DatabaseEngine(url, pool_size=1)
    with pytest.raises(DatabaseError) as caught:
        await engine.connect()
    message = str(caught.value)
    assert "postgresql://app:***@127.0.0.1:" in message
    assert "start PostgreSQL" in message
    assert "hunter2" not in message
    assert not engine.is_open


async def test_a_missing_database_says_to_create_it(postgres_server: str) -> None:
    url = database_url(postgres_server, "pad_no_such_database")
    with pytest.raises(DatabaseError, match=r"does not exist; create it \(createdb NAME\)"):
        await DatabaseEngine(url).connect()


async def test_an_unknown_user_is_named(postgres_server: str) -> None:
    parts = urlsplit(postgres_server)
    url = f"postgresql://pad_no_such_user@{parts.hostname}:{parts.port or 5432}{parts.path}"
    with pytest.raises(DatabaseError, match=r"user does not exist|refused the user"):
        await DatabaseEngine(url).connect()


async def test_a_database_without_the_migrations_table_is_refused_and_left_alone(
    pg_url: str,
) -> None:
    with pytest.raises(DatabaseError) as caught:
        await DatabaseEngine(pg_url, migrate=False).connect()
    assert "no schema_migrations table" in str(caught.value)
    assert pg_url.rpartition("/")[2] in str(caught.value)
    assert "migrate=True" in str(caught.value)
    assert _tables(pg_url) == []  # nothing written


async def test_a_read_only_engine_refuses_writes_with_advice(pg_url: str) -> None:
    async with DatabaseEngine(pg_url):
        pass  # migrate once
    async with DatabaseEngine(pg_url, read_only=True) as engine, engine.session() as session:
        with pytest.raises(DatabaseError, match="read_only=True"):
            await ProjectRepository(session).create(
                ProjectCreate(name="Nope", project_idea="a write on a read-only engine")
            )
        assert await ProjectRepository(session).count() == 0


@pytest.mark.parametrize("version", [130011, 90624])
def test_a_server_older_than_14_is_refused(version: int) -> None:
    config = EngineConfig(database="postgresql://app:pw@db:5432/app")
    server = SimpleNamespace(info=SimpleNamespace(server_version=version))
    with pytest.raises(DatabaseError) as caught:
        _check_server(config, server)  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"version {version // 10000}." in message
    assert "14 or newer" in message
    assert "postgresql://app:***@db:5432/app" in message


def test_the_test_server_is_new_enough(postgres_server: str) -> None:
    config = EngineConfig(database=postgres_server)
    with psycopg.connect(postgres_server) as connection:
        _check_server(config, connection)
