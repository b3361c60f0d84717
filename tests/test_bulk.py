"""Set-based bulk_update: one UPDATE ... FROM an Arrow table, audited, all or nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from anyio.from_thread import BlockingPortal
from helpers import document_data, project_data, repository_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project_architect_db import (
    ConflictError,
    DatabaseEngine,
    DocumentRepository,
    InvalidQueryError,
    ProjectRepository,
    RepositoryRepository,
    Session,
)


async def counts(session: Session) -> dict[str, int]:
    [row] = await session.execute(
        "SELECT (SELECT count(*) FROM audit_log) AS audit, "
        "(SELECT coalesce(sum(version), 0) FROM projects) AS versions"
    )
    return {key: int(value) for key, value in row.items()}


async def test_bulk_update_changes_given_fields_audits_and_keeps_completed_at(
    session: Session,
) -> None:
    projects = ProjectRepository(session)
    a, b = await projects.bulk_create(
        [project_data(name="Alpha"), project_data(name="Beta", description="x")]
    )
    changed = await projects.bulk_update(
        [
            {"id": a.id, "status": "completed"},
            {"id": b.id, "version": 1, "description": None, "name": "Gamma"},
        ]
    )
    assert changed == 2
    after_a, after_b = await projects.get_by_id(a.id), await projects.get_by_id(b.id)
    assert after_a is not None
    assert after_b is not None
    assert after_a.status == "completed"
    assert after_a.completed_at is not None
    assert after_a.name == "Alpha"
    assert after_a.version == 2
    assert after_a.updated_at is not None
    assert after_b.name == "Gamma"
    assert after_b.description is None
    assert after_b.status == "draft"
    assert (await projects.history(a.id))[-1].changes == {
        "status": {"old": "draft", "new": "completed"}
    }
    assert (await projects.history(b.id))[-1].changes == {
        "description": {"old": "x", "new": None},
        "name": {"old": "Beta", "new": "Gamma"},
    }
    await projects.bulk_update([{"id": a.id, "status": "active"}])
    assert (await projects.get_by_id(a.id)).completed_at is None  # type: ignore[union-attr]


async def test_bulk_update_reindexes_searched_text(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data(name="Telescope"))
    await projects.bulk_update([{"id": project.id, "name": "Microscope"}])
    assert await projects.search_by_name("telescope") == []
    assert [p.id for p in await projects.search_by_name("microscope")] == [project.id]


async def test_bulk_update_of_child_entities(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    documents = DocumentRepository(session)
    repositories = RepositoryRepository(session)
    doc = await documents.create(document_data(project.id, metadata={"a": 1}))
    repo = await repositories.create(repository_data(project.id))
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert (
        await documents.bulk_update([{"id": doc.id, "metadata": {"b": [1, 2]}, "doc_type": "adr"}])
        == 1
    )
    assert (
        await repositories.bulk_update([{"id": repo.id, "last_commit_at": when, "stars": 9}]) == 1
    )
    updated_doc = await documents.get_by_id(doc.id)
    updated_repo = await repositories.get_by_id(repo.id)
    assert updated_doc is not None
    assert updated_doc.metadata == {"b": [1, 2]}
    assert updated_doc.doc_type == "adr"
    assert updated_repo is not None
    assert updated_repo.last_commit_at == when
    assert updated_repo.stars == 9
    assert (await documents.history(doc.id))[-1].changes["metadata"] == {
        "old": {"a": 1},
        "new": {"b": [1, 2]},
    }


async def test_bulk_update_refuses_duplicates_and_writes_nothing_on_conflict(
    session: Session,
) -> None:
    projects = ProjectRepository(session)
    a, b = await projects.bulk_create([project_data(), project_data()])
    before = await counts(session)
    with pytest.raises(InvalidQueryError, match=f"project {a.id} more than once"):
        await projects.bulk_update([{"id": a.id, "name": "x"}, {"id": a.id, "name": "y"}])
    with pytest.raises(ConflictError, match="expected version 7"):
        await projects.bulk_update(
            [{"id": a.id, "name": "x"}, {"id": b.id, "version": 7, "name": "y"}]
        )
    assert await counts(session) == before


@st.composite
def _changes(draw: st.DrawFn) -> dict[str, Any]:
    options: dict[str, st.SearchStrategy[Any]] = {
        "name": st.text(alphabet="abcdefghij ", min_size=1, max_size=20),
        "description": st.none() | st.text(alphabet="klmnop ", max_size=30),
        "status": st.sampled_from(["draft", "active", "completed", "archived"]),
        "architecture": st.none()
        | st.dictionaries(st.sampled_from(["framework", "n"]), st.integers(0, 9)),
    }
    fields = draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=4))
    return {field: draw(options[field]) for field in fields}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(_changes(), min_size=1, max_size=8))
def test_bulk_update_equals_the_same_updates_one_by_one(
    portal_engine: tuple[BlockingPortal, DatabaseEngine], batch: list[dict[str, Any]]
) -> None:
    portal, engine = portal_engine

    async def run() -> None:
        async with engine.session() as session:
            projects = ProjectRepository(session)
            bulk = await projects.bulk_create(
                [project_data(name=f"bulk {i}") for i in range(len(batch))]
            )
            single = await projects.bulk_create(
                [project_data(name=f"bulk {i}") for i in range(len(batch))]
            )
            await projects.bulk_update(
                [{"id": row.id, **changes} for row, changes in zip(bulk, batch, strict=True)]
            )
            for row, changes in zip(single, batch, strict=True):
                await projects.update(row.id, changes)
            for one, other, changes in zip(bulk, single, batch, strict=True):
                got = await projects.get_by_id(one.id)
                want = await projects.get_by_id(other.id)
                assert got is not None
                assert want is not None
                ignore = {"id", "created_at", "updated_at", "completed_at", "version"}
                assert got.model_dump(exclude=ignore) == want.model_dump(exclude=ignore)
                assert got.version == want.version == (2 if changes else 1)
                assert (got.completed_at is None) == (want.completed_at is None)
                got_history = [e.changes for e in await projects.history(one.id)][1:]
                want_history = [e.changes for e in await projects.history(other.id)][1:]
                assert got_history == want_history

    portal.call(run)


async def test_bulk_operations_insert_projects_and_update_status(session: Session) -> None:
    from project_architect_db import BulkOperations, NotFoundError

    projects = ProjectRepository(session)
    assert (
        await BulkOperations.bulk_insert_projects(
            session, [project_data(name=f"p{i}") for i in range(5)]
        )
        == 5
    )
    ids = [p.id for p in await projects.list()]
    assert await BulkOperations.bulk_update_status(session, ids[:3], "completed") == 3
    done = await projects.list(status="completed")
    assert [p.id for p in done] == ids[:3]
    assert all(p.completed_at is not None for p in done)
    with pytest.raises(InvalidQueryError, match="paused"):
        await BulkOperations.bulk_update_status(session, ids, "paused")
    with pytest.raises(NotFoundError, match="project 999"):
        await BulkOperations.bulk_update_status(session, [ids[3], 999], "active")
    assert await projects.count(status="active") == 0


async def test_bulk_create_reports_progress_per_chunk(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import project_architect_db.repositories.staging as staging

    monkeypatch.setattr(staging, "BULK_CHUNK", 3)
    seen: list[tuple[int, int]] = []
    made = await ProjectRepository(session).bulk_create(
        [project_data(name=f"p{i}") for i in range(10)],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(3, 10), (6, 10), (9, 10), (10, 10)]
    assert [p.name for p in made] == [f"p{i}" for i in range(10)]
    assert len(await ProjectRepository(session).search_by_name("p9")) == 1


async def test_a_failure_in_a_later_chunk_writes_nothing(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import project_architect_db.repositories.staging as staging

    monkeypatch.setattr(staging, "BULK_CHUNK", 2)

    def stop_after_first_chunk(done: int, total: int) -> None:
        if done > 2:
            raise RuntimeError("interrupted import")

    with pytest.raises(RuntimeError, match="interrupted import"):
        await ProjectRepository(session).bulk_create(
            [project_data()] * 5, progress=stop_after_first_chunk
        )
    assert await counts(session) == {"audit": 0, "versions": 0}


def test_import_projects_command_loads_a_file_with_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from project_architect_db.__main__ import main

    source = tmp_path / "projects.jsonl"
    source.write_text("\n".join(json.dumps(project_data(name=f"p{i}")) for i in range(7)) + "\n")
    database = tmp_path / "import.duckdb"
    assert main(["import-projects", str(source), "--database", str(database)]) == 0
    captured = capsys.readouterr()
    assert "imported 7 projects" in captured.out
    assert "7/7" in captured.err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(project_data()) + "\n" + json.dumps(project_data(name="")) + "\n")
    assert main(["import-projects", str(bad), "--database", str(database)]) == 1
    assert "nothing was written" in capsys.readouterr().err
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("{not json\n")
    assert main(["import-projects", str(garbage), "--database", str(database)]) == 1
    assert "garbage.jsonl:1" in capsys.readouterr().err
    [row] = (
        duckdb.connect(str(database), read_only=True)
        .execute("SELECT count(*) FROM projects")
        .fetchall()
    )
    assert row == (7,)
