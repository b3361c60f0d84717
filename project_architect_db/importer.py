"""``project-architect-db import-projects FILE``: load projects from a JSON Lines
file (one project object per line) in one all-or-nothing bulk insert, with a
progress bar on the terminal.

Every line is read and validated before anything is written; when lines are
bad, the load is refused with a summary (how many lines failed, and the first
errors with their line numbers) instead of one message per row.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter, ValidationError

from .core.engine import DatabaseEngine
from .repositories.project import ProjectRepository
from .schemas.project import ProjectCreate

__all__ = ["ImportRejected", "LineError", "ProgressBar", "check_projects", "import_projects"]

#: How many errors a refused import lists.
SHOWN_ERRORS = 10

_PROJECTS = TypeAdapter(list[ProjectCreate])


@dataclass(frozen=True, slots=True)
class LineError:
    """One problem of one line of the input file."""

    line: int
    message: str


class ImportRejected(Exception):
    """Some lines of the file are bad; nothing was written."""

    def __init__(self, path: Path, lines: int, errors: list[LineError]) -> None:
        self.path = path
        self.lines = lines
        self.errors = errors
        self.failed_lines = len({error.line for error in errors})
        super().__init__(self.summary())

    def summary(self) -> str:
        """How many lines failed and the first errors, one per line of text."""
        shown = self.errors[:SHOWN_ERRORS]
        more = len(self.errors) - len(shown)
        text = [
            f"{self.failed_lines:,} of {self.lines:,} lines of {self.path} failed; nothing was "
            "written. Fix them and run the import again.",
            *(f"  {self.path}:{error.line}: {error.message}" for error in shown),
        ]
        if more:
            text.append(f"  ... and {more:,} more errors")
        return "\n".join(text)


def _read_lines(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[LineError], int]:
    """The project objects of a JSON Lines file with their line numbers, the lines
    that are not JSON objects, and how many non-blank lines there were."""
    objects: list[tuple[int, dict[str, Any]]] = []
    errors: list[LineError] = []
    lines = 0
    with path.open(encoding="utf-8") as text:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            lines += 1
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(LineError(number, f"not JSON ({exc.msg} at column {exc.colno})"))
                continue
            if not isinstance(item, dict):
                errors.append(
                    LineError(number, f"expected a JSON object, got {type(item).__name__}")
                )
                continue
            objects.append((number, item))
    return objects, errors, lines


def check_projects(path: Path) -> list[ProjectCreate]:
    """Every project of ``path``, validated; ``ImportRejected`` lists the bad lines."""
    objects, errors, lines = _read_lines(path)
    projects: list[ProjectCreate] = []
    try:
        projects = _PROJECTS.validate_python([item for _, item in objects])
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            index, *field = error["loc"]
            where = ".".join(str(part) for part in field) or "project"
            errors.append(LineError(objects[int(index)][0], f"{where}: {error['msg']}"))
    if errors:
        errors.sort(key=lambda error: error.line)
        raise ImportRejected(path, lines, errors)
    return projects


class ProgressBar:
    """A one-line text progress bar, redrawn in place."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self._stream = stream  # None: whatever sys.stderr is when drawing
        self._width = width

    def __call__(self, done: int, total: int) -> None:
        stream = self._stream or sys.stderr
        filled = self._width * done // total if total else self._width
        bar = "#" * filled + "." * (self._width - filled)
        stream.write(f"\r[{bar}] {done:,}/{total:,}")
        if done >= total:
            stream.write("\n")
        stream.flush()


async def import_projects(path: Path, database: str, *, progress: ProgressBar | None = None) -> int:
    """Load every project of ``path`` into ``database``; how many were written.
    Raises ``ImportRejected`` (nothing written) when any line is bad."""
    projects = check_projects(path)
    async with DatabaseEngine(database) as engine, engine.session() as session:
        return await ProjectRepository(session).bulk_create(
            projects, returning=False, progress=progress
        )
