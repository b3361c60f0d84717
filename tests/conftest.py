"""Shared fixtures: every async test runs on asyncio and on trio, each against
its own DuckDB file (so pytest-xdist workers never share one), or, with
``--pad-database-url postgresql://...``, against PostgreSQL (a database per
xdist worker, emptied before each test).

On PostgreSQL the tests of DuckDB-only behaviour are deselected: those marked
``duckdb_only`` and those that use the DuckDB file itself (the ``db_path``
fixture: a second process on the file, read-only opens, snapshots of it).
They run in the same CI run on DuckDB.

The database fixtures are the library's own pytest plugin (project_architect_db.testing,
loaded through its pytest11 entry point, as in any project that installs the library):
``engine`` and ``session`` are its ``pad_engine`` and ``pad_session``, configured here
the way a user's conftest would (``pad_engine_options``, ``pad_database_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from project_architect_db import DatabaseEngine, EngineOptions, Session
from project_architect_db.testing import postgres_test_database

# pytester runs throwaway user projects (tests/test_testing_plugin.py); plugins can
# only be named here, in the top-level conftest.
pytest_plugins = ["pytester"]

BACKENDS = ["asyncio", "trio"]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    # With anyio_mode = "auto" (pyproject.toml) every coroutine test uses this
    # fixture, so it runs once per backend.
    return str(request.param)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def pad_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    # On DuckDB the plugin's engine opens db_path's file (without asking for the
    # fixture, so that asking for db_path marks a test as DuckDB-only), which some
    # tests open themselves (a second process or a read-only engine on the file).
    postgres = postgres_test_database(request.config)
    if postgres is not None:
        return postgres.prepare()
    return tmp_path / "test.duckdb"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if postgres_test_database(config) is None:
        return
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        duckdb_only = item.get_closest_marker("duckdb_only") is not None
        uses_file = "db_path" in getattr(item, "fixturenames", ())
        (deselected if duckdb_only or uses_file else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture
def pad_engine_options() -> EngineOptions:
    # Small pools with a short timeout: a test that leaks a connection fails fast.
    return {"pool_size": 4, "max_overflow": 4, "pool_timeout": 10}


@pytest.fixture
def engine(pad_engine: DatabaseEngine) -> DatabaseEngine:
    """The plugin's ``pad_engine``: migrated, on ``db_path``, closed after the test."""
    return pad_engine


@pytest.fixture
def session(pad_session: Session) -> Session:
    """The plugin's ``pad_session``: auto-commit, on ``engine``."""
    return pad_session


@pytest.fixture(params=BACKENDS)
def portal(request: pytest.FixtureRequest) -> Iterator[BlockingPortal]:
    """An event loop of each backend in a thread, for hypothesis tests (which are
    synchronous) to call async code through."""
    with start_blocking_portal(backend=request.param) as portal:
        yield portal


@pytest.fixture
def portal_engine(
    portal: BlockingPortal, pad_database_url: str | Path
) -> Iterator[tuple[BlockingPortal, DatabaseEngine]]:
    engine = DatabaseEngine(pad_database_url)
    portal.call(engine.connect)
    try:
        yield portal, engine
    finally:
        portal.call(engine.close)
