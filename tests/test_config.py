from pathlib import Path

import pytest
from pydantic import ValidationError

from project_architect_db import DatabaseEngine
from project_architect_db.core.config import EngineConfig, parse_database_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("duckdb:///:memory:", ":memory:"),
        (":memory:", ":memory:"),
        ("duckdb:///relative/path.duckdb", "relative/path.duckdb"),
        ("duckdb:////absolute/path.duckdb", "/absolute/path.duckdb"),
        ("/plain/absolute.duckdb", "/plain/absolute.duckdb"),
        ("plain.duckdb", "plain.duckdb"),
        (Path("/a/b.duckdb"), "/a/b.duckdb"),
    ],
)
def test_database_urls_and_paths_are_understood(url: str, expected: str) -> None:
    assert parse_database_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "duckdb://host/file.duckdb",
        "duckdb:///",
        "duckdb:///a.db?x=1",
        "mysql://localhost/db",
        "postgresql://localhost",
        "postgresql://localhost/",
        "postgresql://localhost:port/db",
        "postgresql://localhost:0/db",
        "postgres://user:secret@localhost:99999/db",
    ],
)
def test_malformed_urls_are_refused_with_advice(url: str) -> None:
    with pytest.raises(ValueError, match=r"database_url|duckdb") as caught:
        parse_database_url(url)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "parsed", "shown"),
    [
        ("postgresql://localhost/db", "postgresql://localhost/db", "postgresql://localhost/db"),
        (
            "postgres://app:s3cr%40t@db.internal:6432/app?sslmode=require",
            "postgresql://app:s3cr%40t@db.internal:6432/app?sslmode=require",
            "postgresql://app:***@db.internal:6432/app?sslmode=require",
        ),
    ],
)
def test_postgres_urls_are_kept_and_shown_without_their_password(
    url: str, parsed: str, shown: str
) -> None:
    assert parse_database_url(url) == parsed
    config = EngineConfig(database=parse_database_url(url))
    assert config.backend == "postgresql"
    assert config.label == shown


def test_duckdb_only_options_are_refused_on_postgres_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="DuckDB-only") as caught:
        EngineConfig(database="postgresql://app:hunter2@localhost/db", threads=2)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"pool_size": 0},
        {"max_overflow": -1},
        {"pool_timeout": 0},
        {"pool_recycle": -5},
        {"threads": 0},
    ],
)
def test_bad_pool_options_are_refused_when_the_engine_is_built(options: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        DatabaseEngine("duckdb:///:memory:", **options)  # type: ignore[arg-type]


def test_read_only_memory_database_is_refused() -> None:
    with pytest.raises(ValidationError, match="read_only"):
        DatabaseEngine(":memory:", read_only=True)
