"""``engine.snapshot``: a consistent copy of the whole database, written while the
engine keeps serving, never half-written at its target.

The central test runs eight writer tasks (creates and soft deletes, versioned
updates, message appends, multi-row transactions and bulk loads of a few
thousand rows) and takes snapshots meanwhile, one of them while a bulk load is
held open inside its transaction; every copy must agree with itself (audit
trail against rows, all-or-nothing transactions and bulk loads, the search
index against the live rows) and the last one with the live database.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from helpers import assert_pool_whole, conversation_data, document_data, project_data

from project_architect_db import (
    ConversationRepository,
    DatabaseEngine,
    DatabaseError,
    DocumentRepository,
    InvalidQueryError,
    PoolClosedError,
    ProjectRepository,
    StatementTimeoutError,
)
from project_architect_db.core import statements
from project_architect_db.core.runner import StatementRunner
from project_architect_db.core.snapshot import SnapshotInfo, detach_copy, publish, quote_literal

# -- helpers ---------------------------------------------------------------------------------

# DuckDB's own copy (ATTACH + COPY FROM DATABASE); a PostgreSQL engine's snapshot
# is tests/postgres/test_snapshot_and_cli.py.
pytestmark = pytest.mark.duckdb_only


async def table_rows(engine: DatabaseEngine) -> dict[str, list[dict[str, Any]]]:
    """Every table of the engine's database, every row, in a fixed order."""
    tables = await engine.execute_raw(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "ORDER BY table_name"
    )
    return {
        t["table_name"]: await engine.execute_raw(f'SELECT * FROM "{t["table_name"]}" ORDER BY ALL')
        for t in tables
    }


async def schema_of(engine: DatabaseEngine) -> dict[str, list[Any]]:
    """The DDL DuckDB keeps for tables, indexes, sequences and types."""
    queries = {
        "tables": "SELECT table_name, sql FROM duckdb_tables() "
        "WHERE database_name = current_database() ORDER BY ALL",
        "indexes": "SELECT index_name, sql FROM duckdb_indexes() "
        "WHERE database_name = current_database() ORDER BY ALL",
        "sequences": "SELECT sequence_name, increment_by FROM duckdb_sequences() "
        "WHERE database_name = current_database() ORDER BY ALL",
        "types": "SELECT type_name FROM duckdb_types() "
        "WHERE database_name = current_database() AND NOT internal ORDER BY ALL",
    }
    return {name: await engine.execute_raw(sql) for name, sql in queries.items()}


async def read_copy(path: Path) -> dict[str, list[dict[str, Any]]]:
    async with DatabaseEngine(path, read_only=True, pool_size=1) as copy:
        return await table_rows(copy)


async def wait_for(condition: Callable[[], bool], interval: float = 0.005) -> None:
    """Poll: the conditions are set by worker threads or the file system, which
    cannot set an anyio.Event."""
    while not condition():  # noqa: ASYNC110
        await anyio.sleep(interval)


def leftovers(directory: Path) -> list[str]:
    """Temporary files a snapshot may have left behind (there must be none)."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith("-tmp"))


async def fill(engine: DatabaseEngine) -> None:
    async with engine.transaction() as session:
        projects = ProjectRepository(session)
        talks = ConversationRepository(session)
        documents = DocumentRepository(session)
        for index in range(3):
            project = await projects.create(
                project_data(name=f"Atlas {index}", description="event driven payments")
            )
            talk = await talks.create(conversation_data(project.id))
            await talks.add_message(
                talk.id, {"role": "user", "content": "hello", "metadata": {"n": [1, 2.5]}}
            )
            await documents.create(document_data(project.id, content="deployment pipeline"))
        await projects.update(project.id, {"status": "active"}, expected_version=1)
        await projects.delete(project.id)


async def next_project_id(engine: DatabaseEngine) -> int:
    """The id the next create gets (it creates a project to find out)."""
    async with engine.session() as session:
        return (await ProjectRepository(session).create(project_data())).id


# -- what a snapshot holds ---------------------------------------------------------------


async def test_snapshot_copies_every_table_the_schema_and_the_sequences(
    engine: DatabaseEngine, tmp_path: Path
) -> None:
    await fill(engine)
    target = tmp_path / "copy.duckdb"

    info = await engine.snapshot(target)

    assert isinstance(info, SnapshotInfo)
    assert info.path == target
    assert info.size_bytes == target.stat().st_size > 0
    live = await table_rows(engine)
    assert info.tables == {name: len(rows) for name, rows in live.items()}
    assert info.total_rows == sum(len(rows) for rows in live.values())
    assert info.tables["projects"] == 3
    assert info.tables["schema_migrations"] >= 3
    assert leftovers(tmp_path) == []

    # A plain DuckDB connection opens it read-only; so does the library (which
    # checks schema_migrations: nothing is pending).
    with duckdb.connect(str(target), read_only=True) as plain:
        assert plain.execute("SELECT count(*) FROM projects").fetchone() == (3,)
    async with DatabaseEngine(target, read_only=True, pool_size=1) as copy:
        assert await table_rows(copy) == live
        assert await schema_of(copy) == await schema_of(engine)
        async with copy.session() as session:
            hits = await ProjectRepository(session).search_by_name("payments")
            documents = await DocumentRepository(session).search("pipeline")
    assert len(hits) == 2  # the third project is soft-deleted
    assert [hit.item.title for hit in documents] == ["Requirements"] * 2  # and its document
    async with engine.session() as session:
        assert hits == await ProjectRepository(session).search_by_name("payments")
        assert documents == await DocumentRepository(session).search("pipeline")

    # Sequences were copied at their current value: the copy's next id is the live one's.
    writable = tmp_path / "writable.duckdb"
    shutil.copy(target, writable)
    async with DatabaseEngine(writable, pool_size=1) as copy:
        assert await next_project_id(copy) == await next_project_id(engine)
    assert not (tmp_path / "copy.duckdb.wal").exists()


async def test_a_read_only_engine_and_a_memory_engine_can_snapshot(
    db_path: Path, tmp_path: Path
) -> None:
    async with DatabaseEngine(db_path) as engine:
        await fill(engine)
        live = await table_rows(engine)
    async with DatabaseEngine(db_path, read_only=True) as reader:
        await reader.snapshot(tmp_path / "from-reader.duckdb")
    assert await read_copy(tmp_path / "from-reader.duckdb") == live

    async with DatabaseEngine(":memory:") as memory:
        await fill(memory)
        in_memory = await table_rows(memory)
        info = await memory.snapshot(tmp_path / "from-memory.duckdb")
    assert info.tables["projects"] == 3
    assert await read_copy(tmp_path / "from-memory.duckdb") == in_memory


async def test_hostile_path_text_stays_a_file_name(engine: DatabaseEngine, tmp_path: Path) -> None:
    await fill(engine)
    target = tmp_path / """it's "a" copy'); DROP TABLE projects; --.duckdb"""

    await engine.snapshot(target)

    assert target.is_file()
    assert (await read_copy(target))["projects"] == (await table_rows(engine))["projects"]
    assert len(await engine.execute_raw("SELECT * FROM projects")) == 3
    assert quote_literal("it's") == "'it''s'"


async def test_two_snapshots_at_once_both_complete(engine: DatabaseEngine, tmp_path: Path) -> None:
    await fill(engine)
    infos: list[SnapshotInfo] = []

    async def take(name: str) -> None:
        infos.append(await engine.snapshot(tmp_path / name))

    async with anyio.create_task_group() as tg:
        for name in ("a.duckdb", "b.duckdb", "c.duckdb"):
            tg.start_soon(take, name)

    assert len(infos) == 3
    live = await table_rows(engine)
    for name in ("a.duckdb", "b.duckdb", "c.duckdb"):
        assert await read_copy(tmp_path / name) == live
    await assert_pool_whole(engine)


# -- targets refused ---------------------------------------------------------------------


async def test_an_existing_file_is_replaced_only_with_overwrite(
    engine: DatabaseEngine, tmp_path: Path
) -> None:
    await fill(engine)
    target = tmp_path / "copy.duckdb"
    target.write_bytes(b"keep me")

    with pytest.raises(InvalidQueryError, match=r"already exists.*overwrite=True") as refused:
        await engine.snapshot(target)
    assert isinstance(refused.value, ValueError)
    assert "copy.duckdb" in str(refused.value)
    assert target.read_bytes() == b"keep me"
    assert leftovers(tmp_path) == []

    # The replaced file's write-ahead log goes with it: DuckDB would replay it.
    (tmp_path / "copy.duckdb.wal").write_bytes(b"stale log of the old file")
    info = await engine.snapshot(target, overwrite=True)
    assert info.tables["projects"] == 3
    assert not (tmp_path / "copy.duckdb.wal").exists()
    assert leftovers(tmp_path) == []
    assert (await read_copy(target))["projects"] == (await table_rows(engine))["projects"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing/copy.duckdb", r"directory .*missing.* does not exist; create it first"),
        ("a-directory", r"is a directory; give a file name inside it"),
        ("back\\slash.duckdb", r"backslash"),
        ("orphan.duckdb", r"left over from a deleted database"),
    ],
)
async def test_bad_targets_are_refused_before_anything_is_written(
    engine: DatabaseEngine, tmp_path: Path, name: str, message: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a-directory").mkdir()
    (out / "orphan.duckdb.wal").write_bytes(b"left from a deleted database")
    before = sorted(out.rglob("*"))

    with pytest.raises(InvalidQueryError, match=message):
        await engine.snapshot(out / name, overwrite=name == "a-directory")

    assert sorted(out.rglob("*")) == before
    await assert_pool_whole(engine)


async def test_the_database_itself_is_never_a_target(engine: DatabaseEngine) -> None:
    await fill(engine)
    with pytest.raises(InvalidQueryError, match="engine's own database file"):
        await engine.snapshot(Path(engine.config.database), overwrite=True)
    assert len(await engine.execute_raw("SELECT * FROM projects")) == 3


async def test_a_closed_engine_refuses(db_path: Path, tmp_path: Path) -> None:
    engine = DatabaseEngine(db_path)
    with pytest.raises(PoolClosedError):
        await engine.snapshot(tmp_path / "copy.duckdb")
    assert not (tmp_path / "copy.duckdb").exists()


def test_publishing_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    temporary = tmp_path / ".copy.tmp"
    temporary.write_bytes(b"the copy")
    target = tmp_path / "copy.duckdb"
    target.write_bytes(b"someone else's")

    with pytest.raises(InvalidQueryError, match="created by someone else"):
        publish(temporary, target, overwrite=False)

    assert target.read_bytes() == b"someone else's"
    assert publish(temporary, target, overwrite=True) == len(b"the copy")
    assert target.read_bytes() == b"the copy"
    assert not temporary.exists()


# -- cancellation and timeouts ---------------------------------------------------------------


async def big_database(path: Path) -> None:
    """Enough rows that copying them takes a good while (~0.5 s or more here)."""
    async with DatabaseEngine(path) as engine:
        await engine.execute_raw(
            "CREATE TABLE big AS SELECT range AS id, repeat('x', 40) || range AS payload "
            "FROM range(3000000)"
        )


async def test_cancelling_a_snapshot_leaves_nothing_and_the_pool_whole(
    db_path: Path, tmp_path: Path
) -> None:
    await big_database(db_path)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "copy.duckdb"
    async with DatabaseEngine(db_path, pool_size=2, max_overflow=1) as engine:
        finished: list[SnapshotInfo] = []
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:

                async def snapshot() -> None:
                    finished.append(await engine.snapshot(target))

                tg.start_soon(snapshot)
                # The temporary file appears with the ATTACH; the copy runs next.
                await wait_for(lambda: any(out.iterdir()), interval=0.001)
                tg.cancel_scope.cancel()

        assert finished == []
        assert list(out.iterdir()) == []
        await assert_pool_whole(engine)
        attached = await engine.execute_raw("SELECT database_name FROM duckdb_databases()")
        assert "snapshot_target" not in {row["database_name"] for row in attached}
        # The engine still snapshots.
        info = await engine.snapshot(target)
        assert info.tables["big"] == 3_000_000


async def test_a_copy_abandoned_in_an_aborted_transaction_is_still_detached(
    engine: DatabaseEngine, tmp_path: Path
) -> None:
    # A cancellation's interrupt can land on the copy's own ROLLBACK, leaving its
    # transaction open and aborted; DuckDB refuses DETACH there, so the attached
    # copy outlived its deleted file (seen once in CI, in the test above).
    def abandon_copy(runner: StatementRunner) -> set[str]:
        runner.run(statements.ATTACH_SNAPSHOT_TARGET, path=str(tmp_path / "half.duckdb"))
        runner.connection.begin()
        with pytest.raises(duckdb.InvalidInputException):
            runner.connection.execute("SELECT error('stands in for the interrupted copy')")
        detach_copy(runner, quietly=True)
        names = runner.connection.execute("SELECT database_name FROM duckdb_databases()")
        return {row[0] for row in names.fetchall()}

    async with engine.session() as session:
        attached = await session.run_in_worker(abandon_copy)
    assert "snapshot_target" not in attached
    await assert_pool_whole(engine)


async def test_a_snapshot_longer_than_statement_timeout_is_rolled_back(
    db_path: Path, tmp_path: Path
) -> None:
    await big_database(db_path)
    target = tmp_path / "out" / "copy.duckdb"
    target.parent.mkdir()
    async with DatabaseEngine(db_path, statement_timeout=0.01) as engine:
        with pytest.raises(StatementTimeoutError, match="statement_timeout"):
            await engine.snapshot(target)
        assert list(target.parent.iterdir()) == []
        await assert_pool_whole(engine)


async def test_a_second_engine_on_the_same_file_is_told_to_wait_and_spoils_nothing(
    db_path: Path, tmp_path: Path
) -> None:
    """Two engines of one process on one file share a DuckDB instance, so they
    share its attached databases: while the first has its copy attached (as its
    snapshot does from ATTACH to DETACH), the second's snapshot must fail
    clearly and leave the first one's copy alone. The first's snapshot is held
    at that point by attaching its copy by hand: waiting for a real snapshot to
    reach it made the test depend on how fast the machine copies."""
    await big_database(db_path)
    out = tmp_path / "out"
    out.mkdir()
    held = out / "first.duckdb"
    async with DatabaseEngine(db_path) as first, DatabaseEngine(db_path) as second:
        async with first.session() as session:
            await session.execute("ATTACH $path AS snapshot_target", {"path": str(held)})
            await session.execute("CREATE TABLE snapshot_target.kept AS SELECT 42 AS answer")
            with pytest.raises(DatabaseError, match="another engine of this process"):
                await second.snapshot(out / "second.duckdb")
            assert await session.execute("SELECT answer FROM snapshot_target.kept") == [
                {"answer": 42}
            ]
            await session.execute("DETACH snapshot_target")
        assert sorted(p.name for p in out.iterdir()) == ["first.duckdb"]
        await assert_pool_whole(second)

        # Once the first has finished, the second snapshots as usual.
        info = await second.snapshot(out / "second.duckdb")
        assert info.tables["big"] == 3_000_000
        assert sorted(p.name for p in out.iterdir()) == ["first.duckdb", "second.duckdb"]
        with duckdb.connect(str(held), read_only=True) as copy:
            assert copy.execute("SELECT answer FROM kept").fetchall() == [(42,)]


# -- consistency under load ----------------------------------------------------------------

WRITERS = 8
BULK_ROWS = 2_000
BULK_BATCHES = 3
PARKED_BATCH = 1
BACKGROUND_SNAPSHOTS = 6
OWNED = 3  # projects (or conversations) each updating (appending) writer owns


@dataclass
class Load:
    """What the writers did, and the switches the test drives them with."""

    engine: DatabaseEngine
    stop: anyio.Event = field(default_factory=anyio.Event)
    done: Counter[str] = field(default_factory=Counter)
    #: The bulk writer holds its batch PARKED_BATCH open (inserted, uncommitted)...
    parked: threading.Event = field(default_factory=threading.Event)
    #: ...until the test has taken a snapshot.
    release: threading.Event = field(default_factory=threading.Event)
    bulk_done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def operations(self) -> int:
        return sum(self.done.values())


async def _creator(load: Load, writer: int) -> None:
    n = 0
    while not load.stop.is_set():
        n += 1
        async with load.engine.session() as session:
            projects = ProjectRepository(session)
            project = await projects.create(
                project_data(name=f"create {writer} {n}", description="v1")
            )
            if n % 3 == 0:
                await projects.delete(project.id)
        load.done["create"] += 1


async def _updater(load: Load, ids: list[int]) -> None:
    n = 0
    while not load.stop.is_set():
        target = ids[n % len(ids)]
        n += 1
        async with load.engine.session() as session:
            projects = ProjectRepository(session)
            current = await projects.get_by_id(target)
            assert current is not None
            # Only this task writes these rows, so the versioned update always wins.
            await projects.update(
                target, {"description": f"v{current.version + 1}"}, expected_version=current.version
            )
        load.done["update"] += 1


async def _appender(load: Load, ids: list[int]) -> None:
    n = 0
    while not load.stop.is_set():
        n += 1
        async with load.engine.session() as session:
            await ConversationRepository(session).add_message(
                ids[n % len(ids)], {"role": "user", "content": f"message {n}"}
            )
        load.done["add_message"] += 1


async def _transactions(load: Load, writer: int) -> None:
    n = 0
    while not load.stop.is_set():
        n += 1
        async with load.engine.transaction() as session:
            project = await ProjectRepository(session).create(
                project_data(name=f"tx {writer} {n}", description="v1")
            )
            talks = ConversationRepository(session)
            talk = await talks.create(conversation_data(project.id, title=f"tx {writer} {n}"))
            await talks.add_message(talk.id, {"role": "user", "content": "in the transaction"})
        load.done["transaction"] += 1


async def _bulk(load: Load) -> None:
    for batch in range(BULK_BATCHES):
        items = [
            project_data(name=f"bulk {batch} item {k}", description="v1") for k in range(BULK_ROWS)
        ]

        def progress(written: int, total: int, batch: int = batch) -> None:
            # Called in the worker thread, inside the load's transaction, after
            # its last chunk: every row is inserted and none committed yet.
            if batch == PARKED_BATCH and written == total:
                load.parked.set()
                assert load.release.wait(120), "the test never released the bulk load"

        async with load.engine.session() as session:
            created = await ProjectRepository(session).bulk_create(items, progress=progress)
        assert len(created) == BULK_ROWS
        load.done["bulk_create"] += 1
    load.bulk_done.set()


@dataclass
class CopyState:
    projects: int
    bulk_batches: dict[int, int]


Trail = list[tuple[str, dict[str, Any]]]


def check_copy(path: Path) -> CopyState:
    """Everything in one copy agrees: it shows one moment of the database."""
    with duckdb.connect(str(path), read_only=True) as db:
        projects = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT id, name, description, version, deleted_at FROM projects"
            ).fetchall()
        }
        talks = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT id, project_id, title, version, "
                "(SELECT count(*) FROM messages AS m WHERE m.conversation_id = conversations.id) "
                "FROM conversations"
            ).fetchall()
        }
        audit = db.execute(
            "SELECT entity, entity_id, action, changes FROM audit_log ORDER BY id"
        ).fetchall()
        indexed = {
            row[0]
            for row in db.execute(
                "SELECT DISTINCT entity_id FROM search_terms WHERE entity = 'project'"
            ).fetchall()
        }
    trails: defaultdict[tuple[str, int], Trail] = defaultdict(list)
    for entity, entity_id, action, changes in audit:
        trails[(entity, entity_id)].append((action, json.loads(changes)))

    # No audit entry without its row, no row without its create.
    assert {i for e, i in trails if e == "project"} == set(projects)
    assert {i for e, i in trails if e == "conversation"} == set(talks)

    for id, (name, description, version, deleted_at) in projects.items():
        trail = trails[("project", id)]
        what = f"{path.name}: project {id} {name}: {trail}"
        assert trail[0][0] == "create", what
        assert trail[0][1]["description"] == "v1", what
        updates = [changes for action, changes in trail if action == "update"]
        # Each versioned update is in the trail with the value it wrote, in order.
        assert updates == [
            {"description": {"old": f"v{k}", "new": f"v{k + 1}"}} for k in range(1, version)
        ], what
        assert description == f"v{version}", what
        deletes = [action for action, _ in trail if action == "delete"]
        assert len(deletes) == (deleted_at is not None), what

    for id, (project_id, _title, version, messages) in talks.items():
        trail = trails[("conversation", id)]
        what = f"{path.name}: conversation {id}: {trail}"
        assert trail[0][0] == "create", what
        appends = [changes for action, changes in trail if action == "update"]
        first = trail[0][1]["messages"]
        assert appends == [
            {"messages": {"old": k, "new": k + 1}} for k in range(first, first + len(appends))
        ], what
        assert (version, messages) == (1 + len(appends), first + len(appends)), what
        assert project_id in projects, what

    # Transactions: the project, its conversation and its message, or none of them.
    tx_projects = {name: id for id, (name, *_rest) in projects.items() if name.startswith("tx ")}
    tx_talks = {row[1]: row for row in talks.values() if row[1].startswith("tx ")}
    assert set(tx_projects) == set(tx_talks), path.name
    for title, (project_id, _, version, messages) in tx_talks.items():
        assert (project_id, version, messages) == (tx_projects[title], 2, 1), title

    # Bulk loads: all rows of a batch or none.
    batches = Counter(
        int(name.split()[1]) for name, *_rest in projects.values() if name.startswith("bulk ")
    )
    assert set(batches.values()) <= {BULK_ROWS}, (path.name, batches)

    # The search index holds exactly the live projects.
    live = {id for id, row in projects.items() if row[3] is None}
    assert indexed == live, path.name
    return CopyState(projects=len(projects), bulk_batches=dict(batches))


async def test_snapshots_under_concurrent_writes_are_consistent(
    db_path: Path, tmp_path: Path
) -> None:
    async with DatabaseEngine(db_path, pool_size=6, max_overflow=4, pool_timeout=60) as engine:
        async with engine.session() as session:
            seeded = await ProjectRepository(session).bulk_create(
                [project_data(name=f"seed {i}", description="v1") for i in range(2 * OWNED)]
            )
            talks = ConversationRepository(session)
            conversations = [
                (await talks.create(conversation_data(p.id, title=f"seed {p.id}"))).id
                for p in seeded
            ]
        ids = [p.id for p in seeded]
        load = Load(engine)
        writers: list[Callable[[], Awaitable[None]]] = [
            lambda: _creator(load, 0),
            lambda: _creator(load, 1),
            lambda: _updater(load, ids[:OWNED]),
            lambda: _updater(load, ids[OWNED:]),
            lambda: _appender(load, conversations[:OWNED]),
            lambda: _appender(load, conversations[OWNED:]),
            lambda: _transactions(load, 6),
            lambda: _bulk(load),
        ]
        assert len(writers) == WRITERS
        copies: list[Path] = []  # in the order taken (snapshots of one engine queue)
        names = itertools.count()

        async def snapshot() -> Path:
            path = tmp_path / f"snapshot-{next(names)}.duckdb"
            await engine.snapshot(path)
            copies.append(path)
            return path

        async def snapshotter() -> None:
            """Snapshots back to back while the writers run."""
            for _ in range(BACKGROUND_SNAPSHOTS):
                await wait_for(lambda start=load.operations: load.operations >= start + 5)
                await snapshot()

        with anyio.fail_after(300):
            async with anyio.create_task_group() as tg:
                for writer in writers:
                    tg.start_soon(writer)
                tg.start_soon(snapshotter)
                try:
                    # One while a bulk load sits inserted but uncommitted in its transaction.
                    await wait_for(load.parked.is_set)
                    mid_bulk = await snapshot()
                finally:
                    load.release.set()  # never leave the bulk writer's thread waiting
                await load.bulk_done.wait()
                await wait_for(lambda: len(copies) > BACKGROUND_SNAPSHOTS)
                reached = load.operations
                await wait_for(lambda: load.operations >= reached + 20)
                load.stop.set()
            # Every writer call succeeded (a failure would have ended the task group).
            assert {kind for kind, n in load.done.items() if n > 0} == {
                "create",
                "update",
                "add_message",
                "transaction",
                "bulk_create",
            }
            final = await snapshot()

        states = [check_copy(path) for path in copies]
        assert check_copy(mid_bulk).bulk_batches.get(PARKED_BATCH) is None
        assert [state.projects for state in states] == sorted(s.projects for s in states)
        assert states[0].projects < states[-1].projects
        assert states[-1].bulk_batches == dict.fromkeys(range(BULK_BATCHES), BULK_ROWS)

        # The copies open read-only through the library; the last one, taken after
        # the writers stopped, is the live database exactly.
        for path in copies[:-1]:
            async with DatabaseEngine(path, read_only=True, pool_size=1) as copy:
                assert (await copy.execute_raw("SELECT count(*) AS n FROM projects"))[0]["n"] > 0
        assert await read_copy(final) == await table_rows(engine)
        await assert_pool_whole(engine)
    assert leftovers(tmp_path) == []
