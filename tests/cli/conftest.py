"""The command line as users run it: the installed ``project-architect-db``
script in a subprocess, against real DuckDB files."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from helpers import COMMAND, run_cli

from project_architect_db import (
    ConversationRepository,
    DatabaseEngine,
    DocumentRepository,
    ProjectRepository,
    RepositoryRepository,
)

#: Fixed "now" for analytics that depend on it (health, activity windows).
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def cli() -> Cli:
    """``cli("queries", "--format", "json", cwd=..., input=...)``: the completed process
    (stdout, stderr as text; never raises on a non-zero exit)."""
    assert COMMAND.is_file(), f"{COMMAND} is missing: install the package (pip install .)"
    return run_cli


async def fill_sample(path: Path) -> None:
    """A small but varied database: every status, phase, role, document type and
    provider; phase changes (audited); reads; stale and fresh repositories;
    a soft-deleted project that analytics must ignore."""
    statuses = ["draft", "active", "active", "completed", "archived", "completed"]
    frameworks = ["FastAPI", "Litestar", "Starlette", "FastAPI", "Django", None]
    async with DatabaseEngine(path) as engine, engine.transaction() as session:
        projects = ProjectRepository(session)
        conversations = ConversationRepository(session)
        documents = DocumentRepository(session)
        repositories = RepositoryRepository(session)
        created = []
        for index, status in enumerate(statuses):
            architecture: dict[str, object] = {"complexity_score": index % 4 + 3}
            if frameworks[index] is not None:
                architecture["framework"] = frameworks[index]
            created.append(
                await projects.create(
                    {
                        "name": f"Project {index} {status}",
                        "description": "An event driven service for payments and search",
                        "project_idea": f"Idea number {index}: split the monolith",
                        "architecture": architecture,
                        "status": status,
                    }
                )
            )
        start = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
        phases = ["discovery", "requirements", "design", "implementation"]
        for index, project in enumerate(created[:4]):
            talk = await conversations.create(
                {"project_id": project.id, "title": f"Kickoff {index}"}
            )
            for turn in range(3 + index):
                at = start + timedelta(days=index, minutes=7 * turn)
                role = "user" if turn % 2 == 0 else "assistant"
                await conversations.add_message(
                    talk.id, {"role": role, "content": f"message {turn}", "created_at": at}
                )
            for phase in phases[1 : index + 1]:
                await conversations.update(talk.id, {"phase": phase})
            for doc_index, doc_type in enumerate(
                ["requirements", "adr", "api", "guide"][: index + 1]
            ):
                document = await documents.create(
                    {
                        "project_id": project.id,
                        "title": f"{doc_type} {index}",
                        "doc_type": doc_type,
                        "content": "Deployment pipeline and architecture notes " * (doc_index + 1),
                    }
                )
                for _ in range(doc_index):
                    await documents.record_access(document.id)
            await repositories.create(
                {
                    "project_id": project.id,
                    "name": f"repo-{index}",
                    "url": f"https://github.com/example/repo-{index}",
                    "provider": ["github", "gitlab", "bitbucket", "github"][index],
                    "primary_language": ["Python", "Go", "Python", None][index],
                    "stars": 10 * index,
                    "open_issues": index * 3,
                    "last_commit_at": NOW - timedelta(days=[1, 20, 45, 400][index]),
                }
            )
        await projects.delete(created[-1].id)


@pytest.fixture(scope="session")
def sample_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated DuckDB file holding ``fill_sample``'s data. Shared by the tests of
    one worker: open it read-only (or copy it) and never change it."""
    path = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    anyio.run(fill_sample, path)
    return path
