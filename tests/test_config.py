from pathlib import Path

import pytest
from pydantic import ValidationError

from project_architect_db import DatabaseEngine
from project_architect_db.core.config import parse_database_url


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
        "postgresql://localhost/db",
        "duckdb:///a.db?x=1",
    ],
)
def test_malformed_urls_are_refused_with_advice(url: str) -> None:
    with pytest.raises(ValueError, match=r"database_url|duckdb"):
        parse_database_url(url)


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
