"""Many processes on one PostgreSQL database: what one process cannot do on a
DuckDB file. Each writer is a real OS process (tests/postgres/writer_process.py)
with its own engine and pool; their reports are checked against the database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg

from project_architect_db import (
    ConversationCreate,
    ConversationRepository,
    DatabaseEngine,
    ProjectCreate,
    ProjectRepository,
)

WRITER = Path(__file__).with_name("writer_process.py")
WORKERS = 4


def _writer(url: str, worker: int, operations: int, backend: str) -> subprocess.Popen[str]:
    """A writer process running its event loop on ``backend`` (asyncio or trio)."""
    return subprocess.Popen(
        [
            sys.executable,
            str(WRITER),
            url,
            str(worker),
            str(operations),
            str(1000 + worker),
            backend,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reports(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


async def _seed(url: str) -> None:
    async with DatabaseEngine(url) as engine, engine.session() as session:
        projects = await ProjectRepository(session).bulk_create(
            [
                ProjectCreate(name=f"shared {n}", project_idea="updated by every worker")
                for n in range(5)
            ]
        )
        for n in range(3):
            await ConversationRepository(session).create(
                ConversationCreate(project_id=projects[0].id, title=f"talk {n}")
            )


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


async def test_four_processes_writing_at_once_lose_nothing_and_conflict_cleanly(
    pg_url: str, anyio_backend: str
) -> None:
    await _seed(pg_url)
    writers = [_writer(pg_url, worker, 60, anyio_backend) for worker in range(WORKERS)]
    reports: list[dict[str, Any]] = []
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        reports += _reports(out)
    assert len(reports) == WORKERS * 60

    # Every failure is a ConflictError; nothing else went wrong.
    failures = [r for r in reports if not r["ok"]]
    assert all(r["error"] == "ConflictError" for r in failures), failures
    assert {r["op"] for r in failures} <= {"update"}  # appends and bulk loads never conflict

    # Versions: each successful update took the next version, none twice.
    updates: dict[int, list[int]] = defaultdict(list)
    for r in reports:
        if r["ok"] and r["op"] == "update":
            updates[r["id"]].append(r["version"])
    stored = dict(_query(pg_url, "SELECT id, version FROM projects WHERE name LIKE 'shared %'"))
    for id, version in stored.items():
        assert sorted(updates[id]) == list(range(2, version + 1)), id
    # Audit: one update entry per successful update, one create entry per row.
    audited = Counter(
        dict(
            _query(
                pg_url,
                "SELECT entity_id, count(*) FROM audit_log "
                "WHERE entity = 'project' AND action = 'update' GROUP BY entity_id",
            )
        )
    )
    assert audited == Counter({id: len(versions) for id, versions in updates.items()})

    # Messages: every reported append is stored, at the position it was given.
    appended = sorted((r["id"], r["position"]) for r in reports if r["ok"] and r["op"] == "message")
    assert appended
    stored_messages = sorted(
        _query(pg_url, "SELECT conversation_id, position FROM messages ORDER BY 1, 2")
    )
    assert stored_messages == appended

    # Bulk loads: every reported row exists, with its create audit entry and search terms.
    loaded = {id for r in reports if r["ok"] and r["op"] == "bulk" for id in r["ids"]}
    assert loaded
    live = {row[0] for row in _query(pg_url, "SELECT id FROM projects WHERE deleted_at IS NULL")}
    assert loaded <= live
    created = {
        row[0]
        for row in _query(
            pg_url, "SELECT entity_id FROM audit_log WHERE entity = 'project' AND action = 'create'"
        )
    }
    assert created == live
    indexed = {
        row[0]
        for row in _query(
            pg_url, "SELECT DISTINCT entity_id FROM search_terms WHERE entity = 'project'"
        )
    }
    assert indexed == live
    async with DatabaseEngine(pg_url) as engine, engine.session() as session:
        for worker in range(WORKERS):
            # Each worker's bulk rows, and only those, carry its word.
            found = await ProjectRepository(session).search_by_name(f"zebra{worker}", limit=10_000)
            written = _query(
                pg_url, f"SELECT id FROM projects WHERE project_idea LIKE '%zebra{worker}'"
            )
            assert {project.id for project in found} == {row[0] for row in written}


async def test_a_killed_writer_loses_nothing_it_reported_committed(
    pg_url: str, anyio_backend: str
) -> None:
    async with DatabaseEngine(pg_url):
        pass  # migrated before the writer starts
    committed: list[int] = []
    # Three writers in turn, each killed after a different number of writes (so at
    # a different point of the write in flight).
    for kill_after in (37, 200, 121):
        with _writer(pg_url, 0, 0, anyio_backend) as writer:
            assert writer.stdout is not None
            assert writer.stderr is not None
            seen = 0
            deadline = time.monotonic() + 60
            while seen < kill_after and time.monotonic() < deadline:
                line = writer.stdout.readline()
                if not line:
                    break
                committed.append(json.loads(line)["id"])
                seen += 1
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(timeout=30)
            assert writer.returncode == -signal.SIGKILL
            assert seen == kill_after, writer.stderr.read()
            # Lines it printed before the kill that we had not read are committed too.
            committed += [json.loads(x)["id"] for x in writer.stdout.read().splitlines() if x]
    stored = {row[0] for row in _query(pg_url, "SELECT id FROM projects")}
    assert set(committed) <= stored
    # The write in flight when it died is all there or not there: row, audit entry
    # and search terms go together.
    audited = {
        row[0] for row in _query(pg_url, "SELECT entity_id FROM audit_log WHERE action = 'create'")
    }
    indexed = {row[0] for row in _query(pg_url, "SELECT DISTINCT entity_id FROM search_terms")}
    assert audited == stored == indexed
    # The server dropped the dead process's connection; a new engine works at once.
    async with DatabaseEngine(pg_url) as engine, engine.session() as session:
        assert await ProjectRepository(session).count() == len(stored)
