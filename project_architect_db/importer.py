"""``python -m project_architect_db import-projects FILE``: load projects from a
JSON Lines file (one project object per line) in one all-or-nothing bulk
insert, with a progress bar on the terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from .core.engine import DatabaseEngine
from .repositories.project import ProjectRepository

__all__ = ["ProgressBar", "import_projects", "read_projects"]


def read_projects(path: Path) -> list[dict[str, Any]]:
    """The project objects of a JSON Lines file; a bad line names its number."""
    projects: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(item, dict):
                raise ValueError(
                    f"{path}:{number}: expected a JSON object, got {type(item).__name__}"
                )
            projects.append(item)
    return projects


class ProgressBar:
    """A one-line text progress bar, redrawn in place."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self._stream = stream
        self._width = width

    def __call__(self, done: int, total: int) -> None:
        filled = self._width * done // total if total else self._width
        bar = "#" * filled + "." * (self._width - filled)
        self._stream.write(f"\r[{bar}] {done:,}/{total:,}")
        if done >= total:
            self._stream.write("\n")
        self._stream.flush()


async def import_projects(path: Path, database: str, *, progress: ProgressBar | None = None) -> int:
    """Load every project of ``path`` into ``database``; how many were written."""
    projects = read_projects(path)
    async with DatabaseEngine(database) as engine, engine.session() as session:
        return await ProjectRepository(session).bulk_create(
            projects, returning=False, progress=progress
        )
