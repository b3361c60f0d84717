"""Data builders and checks shared by the tests."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal
from hypothesis import strategies as st

from project_architect_db import DatabaseEngine, Session

T = TypeVar("T")

#: Any character the database can store: no lone surrogates (UTF-8 cannot hold
#: them), no NUL.
STORABLE = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")

#: The ``portal_engine`` fixture: an event loop in a thread and an engine on it.
PortalEngine = tuple[BlockingPortal, DatabaseEngine]

# The time series the README documents (restated here, not imported: the tests
# pin the documented contract, not whatever the library happens to accept).
METRICS = (
    "projects_created",
    "projects_completed",
    "conversations_started",
    "messages",
    "documents_created",
    "repositories_added",
)
GRANULARITIES = ("hour", "day", "week", "month")

# Ten billion pairs: about a minute on DuckDB here, hours on PostgreSQL; every
# test that runs it interrupts it long before. The same text runs on both.
LONG_QUERY = (
    "SELECT count(*) AS n FROM generate_series(1, 100000) AS a(x), "
    "generate_series(1, 100000) AS b(y) WHERE a.x + b.y = -1"
)
# How long a test lets "stopped at once" take (seconds). Stopping takes well
# under a second, but the machines are shared and noisy, so the bound is loose:
# it only has to be far shorter than LONG_QUERY, or than a wait that nothing
# else would end, to prove that the call was stopped.
STOPPED_WITHIN = 20.0

#: The console script installed next to this interpreter (the nox session installs
#: the wheel; a development venv has it from ``pip install -e .``).
COMMAND = Path(sys.executable).with_name("project-architect-db")


def run_cli(
    *args: str | Path, cwd: Path | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The command line as users run it: the installed script in a subprocess,
    warnings as errors; never raises on a non-zero exit."""
    env = {**os.environ, "PYTHONWARNINGS": "error", "COLUMNS": "120"}
    return subprocess.run(
        [str(COMMAND), *map(str, args)],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def project_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Atlas",
        "project_idea": "Map every service we run",
        "architecture": {"framework": "FastAPI", "complexity_score": 7},
    }
    return {**data, **overrides}


def conversation_data(project_id: int, **overrides: Any) -> dict[str, Any]:
    return {"project_id": project_id, "title": "Kickoff", **overrides}


def document_data(project_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "title": "Requirements",
        "doc_type": "requirements",
        "content": "The system shall map services.",
        **overrides,
    }


def repository_data(project_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "name": "atlas-api",
        "url": "https://github.com/example/atlas-api",
        "provider": "github",
        **overrides,
    }


async def assert_pool_whole(engine: DatabaseEngine) -> None:
    """Nothing checked out or waiting, and every connection can be lent at once."""
    stats = engine.stats()
    assert (stats.checked_out, stats.waiters) == (0, 0), stats
    capacity = stats.pool_size + stats.max_overflow
    async with AsyncExitStack() as stack:
        with anyio.fail_after(5):
            sessions = [await stack.enter_async_context(engine.session()) for _ in range(capacity)]
        for index, session in enumerate(sessions):
            assert await session.execute("SELECT ? AS i", [index]) == [{"i": index}]
        assert engine.stats().checked_out == capacity
    stats = engine.stats()
    assert (stats.checked_out, stats.waiters) == (0, 0), stats


async def gather_calls(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Start every call at once, each in its own task; their results in order."""
    results: list[Any] = [None] * len(calls)

    async def one(index: int) -> None:
        results[index] = await calls[index]()

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(one, index)
    return results


def run_in_session(pe: PortalEngine, work: Callable[[Session], Awaitable[T]]) -> T:
    """``work(session)`` in a fresh auto-commit session, on the portal's event loop
    (for synchronous hypothesis tests)."""
    portal, engine = pe

    async def in_session() -> T:
        async with engine.session() as session:
            return await work(session)

    return portal.call(in_session)


_HOLDER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "reader")
print("holding", flush=True)
sys.stdin.readline()
"""


@contextmanager
def held(path: Path, how: str) -> Iterator[int]:
    """Another process holding the DuckDB file ``path`` as a ``writer`` or a
    ``reader`` for the block; its PID."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        yield holder.pid
    finally:
        holder.communicate("done\n", timeout=30)


def json_as_stored(value: Any, backend: str) -> Any:
    """A JSON value as the backend gives it back. DuckDB keeps the text, so the
    value itself. PostgreSQL's jsonb keeps each number's decimal value: a float
    whose shortest text has an exponent and no fraction digits (``1e+16``,
    ``4.834490874783751e+16``) comes back as the integer it stands for."""
    if backend != "postgresql":
        return value
    if isinstance(value, float) and math.isfinite(value):
        exponent = Decimal(repr(value)).as_tuple().exponent
        return int(Decimal(repr(value))) if isinstance(exponent, int) and exponent >= 0 else value
    if isinstance(value, dict):
        return {key: json_as_stored(item, backend) for key, item in value.items()}
    if isinstance(value, list):
        return [json_as_stored(item, backend) for item in value]
    return value
