"""Shared fixtures: every async test runs on asyncio and on trio, each against
its own DuckDB file (so pytest-xdist workers never share one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from project_architect_db import DatabaseEngine

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
async def engine(db_path: Path) -> AsyncIterator[DatabaseEngine]:
    async with DatabaseEngine(db_path, pool_size=4, max_overflow=4, pool_timeout=10) as engine:
        yield engine


@pytest.fixture
async def session(engine: DatabaseEngine) -> AsyncIterator[Any]:
    async with engine.session() as session:
        yield session


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
