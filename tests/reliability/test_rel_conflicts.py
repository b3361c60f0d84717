"""Optimistic locking under load: 16 tasks x 50 read-then-update increments on 5
rows. Without retries every attempt either lands (exactly once, audited, with
the next version) or raises ConflictError; with ``retry_on_conflict`` every one
of the 800 increments lands. Plus ``retry_on_conflict``'s own contract."""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from helpers import project_data

from project_architect_db import (
    ConflictError,
    DatabaseEngine,
    NotFoundError,
    Project,
    ProjectRepository,
    retry_on_conflict,
)

TASKS = 16
UPDATES_PER_TASK = 50
ROWS = 5
SEED = 1_234
SHM = Path("/dev/shm")


@contextmanager
def fast_file(tmp_path: Path) -> Iterator[Path]:
    """A database file path on a RAM-backed file system when there is one: the
    800+ commits of a test would each wait for an fsync on disk (about half the
    cost of an update here), which changes nothing they check: DuckDB's
    conflict detection and the library's version checks are the same on any
    file. Without /dev/shm, tmp_path is used."""
    with tempfile.TemporaryDirectory(dir=SHM if SHM.is_dir() else tmp_path) as directory:
        yield Path(directory) / "conflicts.duckdb"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[DatabaseEngine]:
    """conftest's engine (pool_size=4, max_overflow=4) on a ``fast_file``."""
    with fast_file(tmp_path) as path:
        async with DatabaseEngine(path, pool_size=4, max_overflow=4, pool_timeout=10) as engine:
            yield engine


@dataclass
class TaskTally:
    successes: Counter[int] = field(default_factory=Counter)  # row id -> increments landed
    conflicts: Counter[int] = field(default_factory=Counter)
    versions: dict[int, list[int]] = field(default_factory=dict)  # row id -> versions written
    errors: list[tuple[int, ConflictError]] = field(default_factory=list)
    calls: int = 0  # attempts made (retry test)


async def _create_rows(engine: DatabaseEngine) -> list[int]:
    async with engine.session() as session:
        projects = ProjectRepository(session)
        created = [
            await projects.create(project_data(name=f"row {n}", architecture={"counter": 0}))
            for n in range(ROWS)
        ]
    return [project.id for project in created]


async def _increment(engine: DatabaseEngine, project_id: int) -> Project:
    """Read the row, then write counter + 1 with the version read."""
    async with engine.session() as session:
        projects = ProjectRepository(session)
        current = await projects.get_by_id(project_id)
        assert current is not None
        assert current.architecture is not None
        counter = current.architecture["counter"]
        assert isinstance(counter, int)
        await anyio.lowlevel.checkpoint()  # let other tasks read the same version
        return await projects.update(
            project_id,
            {"architecture": {"counter": counter + 1}},
            expected_version=current.version,
        )


async def _check_rows(
    engine: DatabaseEngine, ids: list[int], landed: Counter[int], versions: dict[int, list[int]]
) -> None:
    """Each row's counter, version and audit trail account for exactly the
    increments that landed on it, one version at a time."""
    async with engine.session() as session:
        projects = ProjectRepository(session)
        for project_id in ids:
            row = await projects.get_by_id(project_id)
            history = await projects.history(project_id)
            assert row is not None
            assert row.architecture is not None
            n = landed[project_id]
            assert row.architecture == {"counter": n}
            assert row.version == 1 + n
            # The versions the successful updates returned: 2..N+1, each once.
            assert sorted(versions.get(project_id, [])) == list(range(2, n + 2))
            assert [entry.action for entry in history] == ["create"] + ["update"] * n
            # Every update is in the trail and each increments the one before.
            counters = [entry.changes["architecture"]["new"]["counter"] for entry in history[1:]]
            assert counters == list(range(1, n + 1))
            for entry, (old, new) in zip(history[1:], pairwise(range(n + 1)), strict=True):
                assert entry.changes == {
                    "architecture": {"old": {"counter": old}, "new": {"counter": new}}
                }


async def test_optimistic_updates_land_exactly_once_or_conflict(engine: DatabaseEngine) -> None:
    ids = await _create_rows(engine)
    tallies = [TaskTally() for _ in range(TASKS)]

    async def task(number: int) -> None:
        rng = random.Random(SEED + number)
        tally = tallies[number]
        for _ in range(UPDATES_PER_TASK):
            project_id = rng.choice(ids)
            try:
                updated = await _increment(engine, project_id)
            except ConflictError as conflict:
                tally.conflicts[project_id] += 1
                tally.errors.append((project_id, conflict))
            else:
                tally.successes[project_id] += 1
                tally.versions.setdefault(project_id, []).append(updated.version)

    async with anyio.create_task_group() as tg:
        for number in range(TASKS):
            tg.start_soon(task, number)

    landed: Counter[int] = sum((t.successes for t in tallies), Counter())
    conflicts: Counter[int] = sum((t.conflicts for t in tallies), Counter())
    for tally in tallies:
        assert tally.successes.total() + tally.conflicts.total() == UPDATES_PER_TASK
        for project_id, conflict in tally.errors:  # each names the row it lost
            assert (conflict.entity, conflict.entity_id) == ("project", project_id)
    assert landed.total() + conflicts.total() == TASKS * UPDATES_PER_TASK
    # Both outcomes happened: the load really raced.
    assert landed.total() > 0
    assert conflicts.total() > 0
    versions = {
        project_id: [v for t in tallies for v in t.versions.get(project_id, [])]
        for project_id in ids
    }
    await _check_rows(engine, ids, landed, versions)
    audited = await engine.execute_raw(
        "SELECT count(*) AS n FROM audit_log WHERE entity = 'project' AND action = 'update'"
    )
    assert audited == [{"n": landed.total()}]
    assert engine.stats().checked_out == 0


async def test_retry_on_conflict_lands_every_increment(tmp_path: Path) -> None:
    """Same load; each increment goes through ``retry_on_conflict`` with a fresh
    read per attempt (even tasks in ``engine.transaction()`` as the README shows,
    odd ones in an auto-commit session). Three connections: on two cores more
    only add conflicts and time, and 16 tasks still contend for every row."""
    with fast_file(tmp_path) as path:
        async with DatabaseEngine(path, pool_size=3, max_overflow=0, pool_timeout=30) as engine:
            await _retried_increments(engine)


async def _retried_increments(engine: DatabaseEngine) -> None:
    ids = await _create_rows(engine)
    tallies = [TaskTally() for _ in range(TASKS)]

    async def task(number: int) -> None:
        rng = random.Random(SEED + number)
        tally = tallies[number]
        open_session = engine.transaction if number % 2 == 0 else engine.session
        for _ in range(UPDATES_PER_TASK):
            project_id = rng.choice(ids)

            async def attempt(project_id: int = project_id) -> Project:
                tally.calls += 1
                async with open_session() as session:  # a fresh read on every attempt
                    projects = ProjectRepository(session)
                    current = await projects.get_by_id(project_id)
                    assert current is not None
                    assert current.architecture is not None
                    counter = current.architecture["counter"]
                    assert isinstance(counter, int)
                    return await projects.update(
                        project_id,
                        {"architecture": {"counter": counter + 1}},
                        expected_version=current.version,
                    )

            updated = await retry_on_conflict(attempt, attempts=1000, max_backoff=0.05)
            tally.successes[project_id] += 1
            tally.versions.setdefault(project_id, []).append(updated.version)

    async with anyio.create_task_group() as tg:
        for number in range(TASKS):
            tg.start_soon(task, number)

    landed: Counter[int] = sum((t.successes for t in tallies), Counter())
    assert landed.total() == TASKS * UPDATES_PER_TASK
    for tally in tallies:
        assert tally.successes.total() == UPDATES_PER_TASK
    # Every call beyond the 800 was a conflict that was retried.
    assert sum(t.calls for t in tallies) >= TASKS * UPDATES_PER_TASK
    versions = {
        project_id: [v for t in tallies for v in t.versions.get(project_id, [])]
        for project_id in ids
    }
    await _check_rows(engine, ids, landed, versions)
    async with engine.session() as session:
        rows = await ProjectRepository(session).list(id__in=ids)
    counters = [row.architecture["counter"] if row.architecture else None for row in rows]
    assert len(counters) == ROWS
    assert sum(c for c in counters if isinstance(c, int)) == TASKS * UPDATES_PER_TASK
    assert engine.stats().checked_out == 0


# -- retry_on_conflict's contract --------------------------------------------------


async def test_retry_on_conflict_returns_the_first_result() -> None:
    calls = 0

    async def operation() -> str:
        nonlocal calls
        calls += 1
        return "done"

    assert await retry_on_conflict(operation) == "done"
    assert calls == 1


async def test_retry_on_conflict_retries_conflicts_until_one_succeeds() -> None:
    calls = 0

    async def operation() -> int:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConflictError("project", 7, "lost a race")
        return calls

    assert await retry_on_conflict(operation, attempts=4, backoff=0) == 4
    assert calls == 4


@pytest.mark.parametrize("attempts", [1, 3])
async def test_retry_on_conflict_reraises_the_last_conflict_after_attempts(
    engine: DatabaseEngine, attempts: int
) -> None:
    """A stale ``expected_version`` (a real ConflictError from the database
    layer) never succeeds: exactly ``attempts`` calls, the last error re-raised,
    the row untouched."""
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data())
    raised: list[ConflictError] = []

    async def stale_update() -> Project:
        async with engine.session() as session:
            try:
                return await ProjectRepository(session).update(
                    project.id, {"name": "never"}, expected_version=project.version + 1
                )
            except ConflictError as conflict:
                raised.append(conflict)
                raise

    with pytest.raises(ConflictError) as caught:
        await retry_on_conflict(stale_update, attempts=attempts, backoff=0.001)
    assert len(raised) == attempts
    assert caught.value is raised[-1]
    assert caught.value.expected_version == 2
    assert caught.value.actual_version == 1
    async with engine.session() as session:
        projects = ProjectRepository(session)
        assert await projects.get_by_id(project.id) == project
        assert [entry.action for entry in await projects.history(project.id)] == ["create"]


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("project", 99),
        ValueError("not a conflict"),
        RuntimeError("boom"),
    ],
)
async def test_retry_on_conflict_lets_other_errors_through_at_once(error: Exception) -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)) as caught:
        await retry_on_conflict(operation, attempts=5, backoff=0)
    assert caught.value is error
    assert calls == 1


async def test_retry_on_conflict_a_later_non_conflict_error_ends_the_retries() -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConflictError("project", 1, "lost a race")
        raise NotFoundError("project", 1, "deleted meanwhile")

    with pytest.raises(NotFoundError):
        await retry_on_conflict(operation, attempts=5, backoff=0)
    assert calls == 2


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": -1},
        {"backoff": -0.1},
        {"max_backoff": -1.0},
    ],
)
async def test_retry_on_conflict_refuses_bad_options(options: dict[str, float]) -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(ValueError, match=r"attempts|backoff"):
        await retry_on_conflict(operation, **options)  # type: ignore[arg-type]
    assert calls == 0


async def test_retry_on_conflict_cancellation_during_the_operation_passes_through() -> None:
    calls = 0
    started = anyio.Event()

    async def operation() -> None:
        nonlocal calls
        calls += 1
        started.set()
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await retry_on_conflict(operation, attempts=5, backoff=0)
            raise AssertionError("not reached")  # pragma: no cover

        tg.start_soon(run)
        await started.wait()
        tg.cancel_scope.cancel()
    assert calls == 1


async def test_retry_on_conflict_cancellation_during_the_backoff_passes_through() -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        raise ConflictError("project", 1, "lost a race")

    started = anyio.current_time()
    with anyio.move_on_after(0.2) as scope:
        # A 60 s wait between attempts: only cancellation can end it early.
        await retry_on_conflict(operation, attempts=5, backoff=60, max_backoff=60)
    assert scope.cancelled_caught
    assert anyio.current_time() - started < 10
    assert 1 <= calls < 5  # cancelled in a wait, never retried to exhaustion


async def test_retry_on_conflict_cancellation_of_a_database_call_passes_through(
    engine: DatabaseEngine,
) -> None:
    """A cancelled attempt is not retried: the cancellation reaches the caller
    and the transaction of the attempt is rolled back."""
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data())
    calls = 0
    in_transaction = anyio.Event()

    async def attempt() -> Project:
        nonlocal calls
        calls += 1
        async with engine.transaction() as session:
            projects = ProjectRepository(session)
            updated = await projects.update(
                project.id, {"name": "rolled back"}, expected_version=project.version
            )
            in_transaction.set()
            await anyio.sleep_forever()
            return updated  # pragma: no cover

    async with anyio.create_task_group() as tg:
        tg.start_soon(retry_on_conflict, attempt)
        await in_transaction.wait()
        tg.cancel_scope.cancel()
    assert calls == 1
    async with engine.session() as session:
        assert await ProjectRepository(session).get_by_id(project.id) == project
    assert engine.stats().checked_out == 0
