"""Tests that need a PostgreSQL server of their own, whichever backend the rest
of the suite runs on: equality with DuckDB, many processes, connect errors,
snapshots to DuckDB.

The server: the one ``--pad-database-url`` names when it is PostgreSQL, else
``$PAD_POSTGRES_URL`` (``.ci/run`` starts a throwaway cluster and sets it), else
a server on 127.0.0.1:5432 as user postgres if one answers. Without any, these
tests are skipped, each saying so: they are the only tests that need a server,
and CI always provides one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pgservers import database_url

from project_architect_db.core.config import is_postgres_url

_LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _server_url(config: pytest.Config) -> str | None:
    option = config.getoption("pad_database_url", default=None) or os.environ.get(
        "PAD_DATABASE_URL"
    )
    for candidate in (option, os.environ.get("PAD_POSTGRES_URL"), _LOCAL):
        if candidate and is_postgres_url(candidate):
            try:
                psycopg.connect(candidate, connect_timeout=3).close()
            except psycopg.Error:
                if candidate != _LOCAL:
                    raise pytest.UsageError(
                        f"PostgreSQL at {candidate} does not answer; start it or unset the URL"
                    ) from None
                continue
            return candidate
    return None


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> str:
    """A URL of a database on a PostgreSQL server we may create databases on."""
    url = _server_url(pytestconfig)
    if url is None:
        pytest.skip(
            "needs a PostgreSQL server: set PAD_POSTGRES_URL (.ci/run starts one) or run one "
            "on 127.0.0.1:5432"
        )
    return url


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the server for one test, dropped afterwards."""
    name = f"pad_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(postgres_server, name)
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
