"""Analysts on PostgreSQL: ``engine.snapshot()`` into a DuckDB file whose
analytics equal the server's, and the command line's ``snapshot``, ``report``,
``run`` and ``export`` on a ``postgresql://`` URL."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import anyio
import duckdb
import pytest
from helpers import run_cli

from project_architect_db import (
    AnalyticsRepository,
    ConversationCreate,
    ConversationRepository,
    DatabaseEngine,
    DocumentCreate,
    DocumentRepository,
    MessageCreate,
    ProjectCreate,
    ProjectRepository,
    ProjectUpdate,
    RepositoryCreate,
    RepositoryRepository,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=300)


async def _fill(url: str) -> None:
    async with DatabaseEngine(url) as engine, engine.session() as session:
        projects = await ProjectRepository(session).bulk_create(
            [
                ProjectCreate(
                    name=f"Project {n}",
                    project_idea=f"an idea about subject {n % 7}",
                    status=("draft", "active", "completed")[n % 3],
                    architecture={
                        "framework": ("FastAPI", "Django")[n % 2],
                        "complexity_score": n % 5,
                    },
                )
                for n in range(60)
            ]
        )
        await ProjectRepository(session).update(projects[0].id, ProjectUpdate(name="Renamed"))
        await ProjectRepository(session).delete(projects[1].id)
        for project in projects[2:12]:
            talk = await ConversationRepository(session).create(
                ConversationCreate(project_id=project.id, title=f"about {project.name}")
            )
            for role in ("user", "assistant", "user"):
                await ConversationRepository(session).append_message(
                    talk.id, MessageCreate(role=role, content=f"{role} speaks")
                )
            await DocumentRepository(session).create(
                DocumentCreate(
                    project_id=project.id, title="ADR", doc_type="adr", content="we chose postgres"
                )
            )
            await RepositoryRepository(session).create(
                RepositoryCreate(
                    project_id=project.id,
                    name=f"repo-{project.id}",
                    url=f"https://github.com/example/repo-{project.id}",
                    provider="github",
                    stars=project.id * 3,
                )
            )


async def _analytics(url: str | Path, **options: bool) -> dict[str, object]:
    async with DatabaseEngine(url, **options) as engine, engine.session() as session:
        analytics = AnalyticsRepository(session)
        return {
            "projects": (await analytics.project_metrics()).model_dump(),
            "conversations": (await analytics.conversation_flow_analysis()).model_dump(),
            "documents": (await analytics.document_usage_stats()).model_dump(),
            "repositories": (await analytics.repository_health_metrics(now=NOW)).model_dump(),
            "cross": (await analytics.cross_entity_analytics(now=NOW)).model_dump(),
            "series": (
                await analytics.time_series_analysis("projects_created", "day")
            ).model_dump(),
        }


async def test_a_snapshot_of_postgres_is_a_duckdb_file_with_the_same_answers(
    pg_url: str, tmp_path: Path
) -> None:
    await _fill(pg_url)
    target = tmp_path / "analytics.duckdb"
    async with DatabaseEngine(pg_url) as engine:
        info = await engine.snapshot(target)
        with pytest.raises(ValueError, match="exists"):
            await engine.snapshot(target)  # nothing replaced without overwrite
    assert info.path == target
    assert info.tables["projects"] == 60
    assert info.tables["messages"] == 30
    assert info.tables["audit_log"] > 60
    with duckdb.connect(str(target), read_only=True) as copy:
        assert copy.execute("SELECT count(*) FROM search_terms").fetchone() == (
            info.tables["search_terms"],
        )
    assert await _analytics(target, read_only=True) == await _analytics(pg_url)
    # The copy's sequences continue where the server's stood.
    async with DatabaseEngine(target) as copy, copy.session() as session:
        created = await ProjectRepository(session).create(
            ProjectCreate(name="Next", project_idea="made in the copy")
        )
        assert created.id == 61


def test_the_command_line_on_a_postgres_url(pg_url: str, tmp_path: Path) -> None:
    # Synchronous: the command line is a subprocess; the data goes in first.
    anyio.run(_fill, pg_url)
    done = cli(
        "run",
        "projects_by_status",
        "--database",
        pg_url,
        "--param",
        "status=active",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    ids = [row["id"] for row in json.loads(done.stdout)]
    # Every third project is active, but project 2 (n = 1) was soft-deleted.
    assert ids == [n + 1 for n in range(60) if n % 3 == 1 and n != 1]
    # An analyst's own file runs as written.
    mine = tmp_path / "mine.sql"
    mine.write_text(
        "-- name: live_by_status\n-- Live projects of one status.\n"
        "SELECT count(*) AS n FROM projects WHERE status = :status AND deleted_at IS NULL;\n",
        encoding="utf-8",
    )
    done = cli(
        "run", str(mine), "--database", pg_url, "--param", "status=active", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": len(ids)}]
    as_json = cli(
        "run",
        "project_metrics",
        "--database",
        pg_url,
        "--param",
        "start=null",
        "--param",
        "end=null",
        "--format",
        "json",
    )
    assert as_json.returncode == 0, as_json.stderr
    [row] = json.loads(as_json.stdout)
    assert row["total_projects"] == 59
    # A write needs --write; the server itself refuses it in a read-only transaction.
    refused = cli("run", "clear_analytics_summaries", "--database", pg_url)
    assert refused.returncode == 2
    assert "--write" in refused.stderr

    report = tmp_path / "report.html"
    done = cli("report", "--database", pg_url, "--output", str(report), "--now", NOW.isoformat())
    assert done.returncode == 0, done.stderr
    assert "<svg" in report.read_text(encoding="utf-8")

    copy = tmp_path / "copy.duckdb"
    done = cli("snapshot", "--database", pg_url, "--to", str(copy))
    assert done.returncode == 0, done.stderr
    assert "60" in done.stdout

    exported = tmp_path / "export"
    done = cli("export", "--database", pg_url, "--to", str(exported), "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert (exported / "projects.csv").is_file()
    assert not list(tmp_path.glob(".export*"))  # the temporary snapshot is gone

    bad = cli(
        "run",
        "projects_by_status",
        "--database",
        "postgresql://app:pw@127.0.0.1:1/x",
        "--param",
        "status=active",
    )
    assert bad.returncode == 1
    assert "postgresql://app:***@127.0.0.1:1/x" in bad.stderr
    assert ":pw@" not in bad.stderr
