"""Shared fixtures: every async test runs on asyncio and on trio, each against
its own DuckDB file (so pytest-xdist workers never share one).

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
def pad_database_url(db_path: Path) -> Path:
    # The plugin's engine opens db_path, which some tests open themselves (a second
    # process or a read-only engine on the same file). This also keeps the suite on
    # its files whatever --pad-database-url / PAD_DATABASE_URL say.
    return db_path


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
    portal: BlockingPortal, db_path: Path
) -> Iterator[tuple[BlockingPortal, DatabaseEngine]]:
    engine = DatabaseEngine(db_path)
    portal.call(engine.connect)
    try:
        yield portal, engine
    finally:
        portal.call(engine.close)
