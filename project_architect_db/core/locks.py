"""Why a database file would not open, said for people.

DuckDB lets one process write a file, or any number of processes read it, never
both. When the file is taken, its message names the holder's program and PID,
and it adds "you would be able to open this database in read-only mode" when
the holder only reads. This module turns that into what to do. The engine
reaches it through its row of ``errors.DUCKDB_ERRORS`` ("open: file"); the
command line calls it directly.
"""

from __future__ import annotations

import re

import duckdb

__all__ = ["open_failure_message"]

_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_READER_HINT = "would be able to open this database in read-only mode"

_ANALYSTS = (
    "For analysts: read a copy instead (the app calls 'await engine.snapshot(path)', or "
    "run 'project-architect-db snapshot --database FILE --to COPY' while nothing else holds "
    "the file)"
)


def open_failure_message(database: str, exc: duckdb.Error, *, read_only: bool) -> str:
    """The message for a failed ``duckdb.connect(database, read_only=...)``."""
    text = str(exc)
    if "lock" not in text.lower():
        return f"cannot open database file {database!r}: {text}"
    holder = _HOLDER.search(text)
    who = (
        f"process {holder['pid']} ({holder['program']})"
        if holder is not None
        else "another process"
    )
    if _READER_HINT in text:
        # Only readers hold it, and we asked to write.
        return (
            f"database file {database!r} is locked by another process: {who} has it open "
            "read-only, and DuckDB lets no process write a file while others read it. Close "
            "it there (an analyst's session or a read_only=True engine) and try again, or "
            "open this one with read_only=True to read alongside it."
        )
    return (
        f"database file {database!r} is locked by another process: {who} holds it for "
        "writing, and DuckDB allows one writing process per file and no readers beside it"
        + ("" if read_only else ", so a second app process cannot open it")
        + " (read_only=True opens it only once no writer has it). Run one app process per "
        "database file (one uvicorn/gunicorn worker; async "
        "concurrency inside it). " + _ANALYSTS + "."
    )
