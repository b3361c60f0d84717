"""Crash safety: a writer process killed with SIGKILL at a random moment loses no
write it saw commit and leaves nothing half-written.

``crash_writer.py`` (run with this interpreter) writes to one database file in a
loop (creates, versioned updates, ``add_message``, ``bulk_create`` of 200-500
projects) and prints one JSON line after each call returns. The test kills it
20 times, always on the same file, and after each kill reopens the file with a
fresh DatabaseEngine (no repair step) and checks that

- every write the writer reported is there, at least at the reported version
  (with the reported content when the version is the same);
- every bulk load is there in full or not at all (rows counted per marker);
- rows and the audit trail agree: each project and conversation has exactly
  ``version`` audit entries, starting with its create, no audit entry names a
  missing row, and the full-text index holds exactly the live projects;
- a row's content matches its version (no torn row).

Half of the rounds check the file through a ``read_only=True`` engine, which
replays the write-ahead log in memory and leaves it on disk, so the next writer
itself reopens a file that was killed under a writer; the other half open it for
writing. Odd rounds' writers run on trio, even ones on asyncio, and every second
pair makes DuckDB checkpoint after every few writes so some kills land in a
checkpoint. The test is synchronous (it drives processes) and runs its checks
with ``anyio.run`` on both backends in turn.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import pytest

from project_architect_db import ConversationRepository, DatabaseEngine, ProjectRepository

pytestmark = pytest.mark.slow

WRITER = Path(__file__).with_name("crash_writer.py")
ROUNDS = 20
STARTUP_TIMEOUT = 60.0


class Writer:
    """One crash_writer.py process and a thread collecting what it reports."""

    def __init__(self, db_path: Path, seed: int, log: Path) -> None:
        self.seed = seed
        self.log = log
        self.records: list[dict[str, Any]] = []
        self.loaded = threading.Event()
        self.ready = threading.Event()
        self.progressed = threading.Event()
        self.kill_after = 0
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(WRITER), str(db_path), str(seed)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._drain, args=(self.process.stdout,))
        self._reader.start()

    def _drain(self, stdout: IO[str]) -> None:
        for line in stdout:
            if not line.endswith("\n"):
                break  # the kill cut this line short: that write was not reported
            record = json.loads(line)
            if record["op"] == "loaded":
                self.loaded.set()
            elif record["op"] == "ready":
                self.ready.set()
            else:
                self.records.append(record)
                if len(self.records) >= self.kill_after:
                    self.progressed.set()
        # End of output: nobody waits forever on a writer that died early.
        self.loaded.set()
        self.ready.set()
        self.progressed.set()

    def stderr(self) -> str:
        return self.log.read_text()[-3000:]

    def start_writing(self, kill_after: int) -> None:
        """Let the writer open the database and write; ``progressed`` is set
        once it has reported ``kill_after`` writes."""
        self.kill_after = kill_after
        if kill_after == 0:
            self.progressed.set()
        assert self.loaded.wait(STARTUP_TIMEOUT), "writer never finished importing"
        assert self.process.poll() is None, self.stderr()
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        assert self.ready.wait(STARTUP_TIMEOUT), "writer never opened the database"
        assert self.process.poll() is None, f"writer died on opening:\n{self.stderr()}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self._reap()
        assert self.process.returncode == -signal.SIGKILL, (
            f"writer {self.seed} ended by itself before the kill "
            f"(code {self.process.returncode}):\n{self.stderr()}"
        )

    def dismiss(self) -> None:
        """Make sure the process is gone (a standby that never got its go, or a
        writer left running by a failed check)."""
        if self.process.poll() is None:
            self.process.kill()
        self._reap()

    def _reap(self) -> None:
        self.process.wait()
        self._reader.join()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()


@dataclass
class Ledger:
    """Everything the killed writers reported as committed."""

    projects: dict[int, tuple[int, str]] = field(default_factory=dict)
    conversations: dict[int, tuple[int, int, str | None]] = field(default_factory=dict)
    bulks: dict[str, list[int]] = field(default_factory=dict)
    ops: Counter[str] = field(default_factory=Counter)

    def record(self, record: dict[str, Any]) -> None:
        op = record["op"]
        self.ops[op] += 1
        if op in ("create", "update"):
            known = self.projects.get(record["id"])
            if known is None or record["version"] > known[0]:
                self.projects[record["id"]] = (record["version"], record["description"])
        elif op in ("conversation", "message"):
            count = record.get("count", 0)
            known_c = self.conversations.get(record["id"])
            if known_c is None or record["version"] > known_c[0]:
                self.conversations[record["id"]] = (
                    record["version"],
                    count,
                    record.get("content"),
                )
        elif op == "bulk":
            assert len(record["ids"]) == record["n"]
            self.bulks[record["marker"]] = record["ids"]
        else:  # pragma: no cover
            raise AssertionError(f"unknown record {record!r}")


@dataclass
class Seen:
    """What one reopening found."""

    projects: int
    bulk_batches: int
    unreported_bulk_batches: int


async def _one_value(engine: DatabaseEngine, sql: str) -> int:
    rows = await engine.execute_raw(sql)
    return int(next(iter(rows[0].values())))


async def check_database(db_path: Path, ledger: Ledger, read_only: bool) -> Seen:
    # Opening must just work: no exception, no repair step.
    async with DatabaseEngine(db_path, read_only=read_only, pool_size=2) as engine:
        async with engine.session() as session:
            singles = await ProjectRepository(session).list(
                limit=1_000_000, description__startswith="single:"
            )
            conversations = await ConversationRepository(session).list(limit=1_000_000)

        # Reported project writes are there, at least at the reported version.
        by_id = {project.id: project for project in singles}
        for project_id, (version, description) in ledger.projects.items():
            project = by_id.get(project_id)
            assert project is not None, f"reported project {project_id} is missing"
            assert project.version >= version, (project_id, project.version, version)
            if project.version == version:
                assert project.description == description
        # No torn rows: content always matches the version it is stored with.
        for project in singles:
            assert project.description is not None
            assert project.description.endswith(f":v{project.version}"), project
            assert project.architecture is not None
            assert project.architecture["version"] == project.version, project

        # Reported appends are there, in place; messages match the version.
        conversations_by_id = {c.id: c for c in conversations}
        for conversation_id, (version, count, content) in ledger.conversations.items():
            conversation = conversations_by_id.get(conversation_id)
            assert conversation is not None, f"reported conversation {conversation_id} is missing"
            assert conversation.version >= version
            assert len(conversation.messages) >= count
            if count:
                assert conversation.messages[count - 1].content == content
        for conversation in conversations:
            assert len(conversation.messages) == conversation.version - 1, conversation

        # Bulk loads: all rows of a batch or none of them.
        batches = {
            row["description"]: int(row["n"])
            for row in await engine.execute_raw(
                "SELECT description, count(*) AS n FROM projects "
                "WHERE description LIKE 'bulk:%' GROUP BY description"
            )
        }
        for marker, n in batches.items():
            assert n == int(marker.rsplit(":n", 1)[1]), f"partial bulk load {marker}: {n} rows"
        for marker, ids in ledger.bulks.items():
            assert batches.get(marker) == len(ids), f"reported bulk load {marker} is missing"
            stored = await engine.execute_raw(
                "SELECT id FROM projects WHERE description = $marker ORDER BY id",
                {"marker": marker},
            )
            assert [row["id"] for row in stored] == sorted(ids)

        # Rows and audit trail agree: exactly `version` entries per row, the first
        # a create, and no entry for a row that does not exist.
        for table, entity in (("projects", "project"), ("conversations", "conversation")):
            mismatched = await engine.execute_raw(
                f"""
                SELECT t.id, t.version, count(a.id) AS entries,
                       arg_min(a.action, a.id) AS first_action
                FROM {table} AS t
                LEFT JOIN audit_log AS a ON a.entity = '{entity}' AND a.entity_id = t.id
                GROUP BY t.id, t.version
                HAVING count(a.id) <> t.version OR arg_min(a.action, a.id) <> 'create'
                LIMIT 5
                """
            )
            assert mismatched == [], (table, mismatched)
            orphans = await _one_value(
                engine,
                f"SELECT count(*) FROM audit_log AS a WHERE a.entity = '{entity}' "
                f"AND NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.id = a.entity_id)",
            )
            assert orphans == 0, f"{orphans} audit entries of {table} rows that do not exist"
        # Each update's audit entry holds the description it wrote.
        stale_audit = await engine.execute_raw(
            """
            SELECT p.id FROM projects AS p
            JOIN audit_log AS a ON a.entity = 'project' AND a.entity_id = p.id
            WHERE p.version > 1
            GROUP BY p.id, p.description
            HAVING arg_max(a.changes ->> '$.description.new', a.id) <> p.description
            LIMIT 5
            """
        )
        assert stale_audit == [], stale_audit

        # The full-text index follows exactly the committed projects.
        unindexed = await _one_value(
            engine,
            "SELECT count(*) FROM projects AS p WHERE NOT EXISTS (SELECT 1 FROM search_terms "
            "AS s WHERE s.entity = 'project' AND s.entity_id = p.id)",
        )
        stray_terms = await _one_value(
            engine,
            "SELECT count(DISTINCT entity_id) FROM search_terms AS s WHERE s.entity = 'project' "
            "AND NOT EXISTS (SELECT 1 FROM projects AS p WHERE p.id = s.entity_id)",
        )
        assert (unindexed, stray_terms) == (0, 0)

        total = await _one_value(engine, "SELECT count(*) FROM projects")
    return Seen(
        projects=total,
        bulk_batches=len(batches),
        unreported_bulk_batches=len(batches.keys() - ledger.bulks.keys()),
    )


def test_writer_killed_at_random_moments_loses_nothing_it_reported(tmp_path: Path) -> None:
    started = time.perf_counter()
    rng = random.Random(20_250_611)
    db_path = tmp_path / "crash.duckdb"
    ledger = Ledger()
    # The next writer imports the library while the current one writes, which
    # keeps 20 rounds of process start-up affordable.
    standby = Writer(db_path, seed=1, log=tmp_path / "writer-1.log")
    live = [standby]
    seen: list[Seen] = []
    checking = 0.0
    try:
        for round_number in range(1, ROUNDS + 1):
            writer = standby
            kill_after = rng.randint(0, 16)
            writer.start_writing(kill_after)
            if round_number < ROUNDS:
                seed = round_number + 1
                standby = Writer(db_path, seed=seed, log=tmp_path / f"writer-{seed}.log")
                live.append(standby)
            # A random moment: after a random number of reported writes (so the
            # machine's speed does not decide how much work a round sees), plus a
            # random delay that lands in the next write or the one after.
            assert writer.progressed.wait(STARTUP_TIMEOUT), "writer stopped reporting"
            time.sleep(rng.uniform(0.0, 0.08))
            writer.kill()
            assert len(writer.records) >= kill_after
            for record in writer.records:
                ledger.record(record)
            read_only = round_number % 2 == 1 and round_number < ROUNDS
            backend = "trio" if round_number % 3 == 0 else "asyncio"
            checking_started = time.perf_counter()
            seen.append(anyio.run(check_database, db_path, ledger, read_only, backend=backend))
            checking += time.perf_counter() - checking_started
    finally:
        for other in live:
            other.dismiss()

    # The kills came while real work was going on, bulk loads included.
    assert ledger.ops["bulk"] >= 1
    assert seen[-1].bulk_batches >= len(ledger.bulks)
    assert [s.projects for s in seen] == sorted(s.projects for s in seen)  # nothing vanished
    elapsed = time.perf_counter() - started
    print(
        f"\n{ROUNDS} kills in {elapsed:.1f}s ({checking:.1f}s checking); reported writes {dict(ledger.ops)}; "
        f"{seen[-1].projects} projects; bulk batches found {seen[-1].bulk_batches} "
        f"({seen[-1].unreported_bulk_batches} committed but unreported)"
    )
