"""Several processes on one database file: DuckDB allows one writing process per
file, or any number of read-only ones while no process writes. The library must
say so with a clear ``DatabaseError`` (never a raw duckdb exception), and
read-only engines in different processes must read side by side.

Children run this interpreter (``sys.executable -c ...``) through
``anyio.open_process`` (``subprocess`` without blocking the event loop), and
talk to the test over stdin/stdout so that each holds the file open exactly as
long as the test needs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from helpers import project_data

from project_architect_db import (
    DatabaseEngine,
    DatabaseError,
    ProjectRepository,
)

CHILD_TIMEOUT = 90.0

# Opens the file once per mode given ("write" or "read_only"), in order, and
# prints one JSON line per attempt: what it read (and, for "write", the project
# it created), or the exception it got, described from the child's side. Mode
# "wait" prints a line and waits for one on stdin.
OPEN_ATTEMPTS = r"""
import json, sys
import anyio, duckdb
from project_architect_db import DatabaseEngine, ProjectArchitectDBError, ProjectRepository

def describe(exc):
    cause = exc.__cause__
    return {
        "ok": False,
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "library_error": isinstance(exc, ProjectArchitectDBError),
        "duckdb_error": isinstance(exc, duckdb.Error),
        "cause_is_duckdb_error": isinstance(cause, duckdb.Error),
        "message": str(exc),
    }

async def attempt(path, mode):
    try:
        async with DatabaseEngine(path, read_only=mode == "read_only") as engine:
            async with engine.session() as session:
                projects = ProjectRepository(session)
                created = None
                if mode == "write":
                    created = (await projects.create(
                        {"name": "from the child", "project_idea": "Written by a second process"}
                    )).id
                names = sorted(p.name for p in await projects.list())
        return {"ok": True, "names": names, "created": created}
    except Exception as exc:
        return describe(exc)

async def main():
    path, modes = sys.argv[1], json.loads(sys.argv[2])
    for mode in modes:
        if mode == "wait":  # until the parent says go
            print(json.dumps({"mode": mode}), flush=True)
            sys.stdin.readline()
            continue
        print(json.dumps({"mode": mode, **await attempt(path, mode)}), flush=True)

anyio.run(main, backend=sys.argv[3])
"""

# Opens the file read-only, reads, says so, then keeps the engine open until it
# reads a line on stdin, and reads again before exiting.
READER = r"""
import json, sys
import anyio
from project_architect_db import DatabaseEngine, ProjectRepository

async def main():
    async with DatabaseEngine(sys.argv[1], read_only=True) as engine:
        async with engine.session() as session:
            projects = ProjectRepository(session)
            before = sorted(p.name for p in await projects.list())
            print(json.dumps({"phase": "open", "names": before}), flush=True)
            sys.stdin.readline()  # the parent's turn: the engine stays open meanwhile
            after = sorted(p.name for p in await projects.list())
            print(json.dumps({"phase": "done", "names": after}), flush=True)

anyio.run(main, backend=sys.argv[2])
"""


async def _read_line(process: Process, stream: BufferedByteReceiveStream) -> dict[str, Any]:
    """The child's next JSON line (or a failure showing what it printed to stderr)."""
    try:
        line = await stream.receive_until(b"\n", 1_000_000)
    except (anyio.EndOfStream, anyio.IncompleteRead):
        assert process.stderr is not None
        errors = b"".join([chunk async for chunk in process.stderr])
        raise AssertionError(f"the child process ended early:\n{errors.decode()}") from None
    record: dict[str, Any] = json.loads(line)
    return record


def _assert_clear_lock_error(outcome: dict[str, Any], db_path: Path) -> None:
    assert outcome["ok"] is False, outcome
    assert outcome["type"] == "project_architect_db.errors.DatabaseError", outcome
    assert outcome["library_error"] is True
    assert outcome["duckdb_error"] is False  # not a raw duckdb exception...
    assert outcome["cause_is_duckdb_error"] is True  # ...but chained as the cause
    message = outcome["message"]
    assert str(db_path) in message
    assert "is locked by another process" in message
    assert "one writing process per file" in message
    assert "read_only=True" in message  # says what to do instead


async def test_second_process_gets_a_clear_error_while_one_writes(
    db_path: Path, anyio_backend: str
) -> None:
    modes = ["write", "read_only", "wait", "write"]
    command = [sys.executable, "-c", OPEN_ATTEMPTS, str(db_path), json.dumps(modes), anyio_backend]
    with anyio.fail_after(CHILD_TIMEOUT):
        async with DatabaseEngine(db_path) as engine, await anyio.open_process(command) as child:
            assert child.stdin is not None
            assert child.stdout is not None
            child_out = BufferedByteReceiveStream(child.stdout)
            async with engine.session() as session:
                await ProjectRepository(session).create(project_data(name="parent's"))

            # Neither a writer nor a reader can open the file while this engine has it.
            for mode in ("write", "read_only"):
                refused = await _read_line(child, child_out)
                assert refused["mode"] == mode
                _assert_clear_lock_error(refused, db_path)
            assert await _read_line(child, child_out) == {"mode": "wait"}

            # The parent's engine is unharmed by the attempts.
            async with engine.session() as session:
                projects = ProjectRepository(session)
                assert [p.name for p in await projects.list()] == ["parent's"]
                await projects.create(project_data(name="parent's second"))

            # Closed: the lock is gone and the other process may write.
            await engine.close()
            await child.stdin.send(b"go\n")
            wrote = await _read_line(child, child_out)
            assert await child.wait() == 0

    assert wrote["mode"] == "write"
    assert wrote["ok"] is True, wrote
    assert wrote["names"] == ["from the child", "parent's", "parent's second"]
    async with DatabaseEngine(db_path) as engine, engine.session() as session:
        projects = ProjectRepository(session)
        child_row = await projects.get_by_id(wrote["created"])
        assert child_row is not None
        assert child_row.name == "from the child"
        assert [entry.action for entry in await projects.history(child_row.id)] == ["create"]


async def test_read_only_engines_in_two_processes_read_side_by_side(
    db_path: Path, anyio_backend: str
) -> None:
    names = ["alpha", "beta", "gamma"]
    async with DatabaseEngine(db_path) as engine, engine.session() as session:
        for name in names:
            await ProjectRepository(session).create(project_data(name=name))

    with anyio.fail_after(CHILD_TIMEOUT):
        async with (
            DatabaseEngine(db_path, read_only=True) as reader,
            await anyio.open_process(
                [sys.executable, "-c", READER, str(db_path), anyio_backend]
            ) as child,
        ):
            assert child.stdin is not None
            assert child.stdout is not None
            child_out = BufferedByteReceiveStream(child.stdout)
            # The child opened and read while this process's read-only engine is open...
            opened = await _read_line(child, child_out)
            assert opened == {"phase": "open", "names": names}
            # ...and this one reads while the child's engine is open.
            async with reader.session() as session:
                projects = ProjectRepository(session)
                assert sorted(p.name for p in await projects.list()) == names
                assert await projects.count() == 3
                # A read-only engine refuses writes with a library error, not duckdb's.
                with pytest.raises(DatabaseError, match=r"read-only \(read_only=True\)") as refused:
                    await projects.create(project_data(name="never"))
                assert refused.value.__cause__ is not None
            await reader.close()

            # While a reader process has the file, nobody can open it for writing.
            with pytest.raises(DatabaseError, match="is locked by another process") as locked:
                await DatabaseEngine(db_path).connect()
            assert str(db_path) in str(locked.value)

            await child.stdin.send(b"go\n")
            done = await _read_line(child, child_out)
            assert done == {"phase": "done", "names": names}
            assert await child.wait() == 0

    # Every reader gone: the file opens for writing, nothing was written meanwhile.
    async with DatabaseEngine(db_path) as engine, engine.session() as session:
        projects = ProjectRepository(session)
        assert sorted(p.name for p in await projects.list()) == names
        assert await engine.execute_raw("SELECT count(*) AS n FROM audit_log") == [{"n": 3}]
