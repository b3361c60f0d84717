"""Every repository method, against a real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import conversation_data, document_data, project_data, repository_data
from pydantic import ValidationError

from project_architect_db import (
    ConflictError,
    ConversationRepository,
    DatabaseEngine,
    DocumentRepository,
    InvalidQueryError,
    MessageCreate,
    NotFoundError,
    ProjectCreate,
    ProjectRepository,
    ProjectUpdate,
    RepositoryRepository,
    Session,
)


async def audit_count(session: Session) -> int:
    rows = await session.execute("SELECT count(*) AS n FROM audit_log")
    return int(rows[0]["n"])


# -- create / get ---------------------------------------------------------------


async def test_create_sets_database_columns_and_audits(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data(description="A map"))
    assert project.id >= 1
    assert project.version == 1
    assert project.created_at.tzinfo is not None
    assert abs(project.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert project.updated_at is None
    assert project.deleted_at is None
    assert project.status == "draft"
    assert project.completed_at is None
    assert project.architecture == {"framework": "FastAPI", "complexity_score": 7}
    [entry] = await projects.history(project.id)
    assert entry.action == "create"
    assert entry.entity == "project"
    assert entry.entity_id == project.id
    assert entry.changes["name"] == "Atlas"


async def test_create_accepts_the_create_schema_and_refuses_other_models(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(ProjectCreate(**project_data(status="active")))
    assert project.status == "active"
    with pytest.raises(TypeError, match="ProjectCreate"):
        await projects.create(ProjectUpdate(name="x"))  # type: ignore[arg-type]


async def test_create_completed_project_stamps_completed_at(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data(status="completed"))
    assert project.completed_at is not None


async def test_invalid_create_raises_validation_error_naming_field_and_writes_nothing(
    session: Session,
) -> None:
    projects = ProjectRepository(session)
    with pytest.raises(ValidationError) as caught:
        await projects.create(project_data(project_idea="short"))
    assert caught.value.errors()[0]["loc"] == ("project_idea",)
    with pytest.raises(ValidationError) as caught:
        await projects.create(project_data(colour="blue"))
    assert caught.value.errors()[0]["loc"] == ("colour",)
    assert await projects.count(include_deleted=True) == 0
    assert await audit_count(session) == 0


async def test_get_by_id_of_missing_row_is_none(session: Session) -> None:
    assert await ProjectRepository(session).get_by_id(12345) is None


async def test_children_need_a_live_project(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data())
    await projects.delete(project.id)
    for repo, data in (
        (ConversationRepository(session), conversation_data(project.id)),
        (DocumentRepository(session), document_data(project.id)),
        (RepositoryRepository(session), repository_data(project.id)),
    ):
        with pytest.raises(NotFoundError, match=f"project {project.id}"):
            await repo.create(data)
        with pytest.raises(NotFoundError, match="project 999"):
            await repo.create({**data, "project_id": 999})
    assert await audit_count(session) == 2  # the project's create and delete


async def test_repository_works_as_async_context_manager(session: Session) -> None:
    async with ProjectRepository(session) as projects:
        project = await projects.create(project_data())
    assert project.name == "Atlas"


# -- update -----------------------------------------------------------------------


async def test_update_changes_only_given_fields_and_bumps_version(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data(description="before"))
    updated = await projects.update(project.id, {"name": "Atlas 2"})
    assert updated.name == "Atlas 2"
    assert updated.description == "before"
    assert updated.project_idea == project.project_idea
    assert updated.architecture == project.architecture
    assert updated.version == 2
    assert updated.updated_at is not None
    entry = (await projects.history(project.id))[-1]
    assert entry.action == "update"
    assert entry.changes == {"name": {"old": "Atlas", "new": "Atlas 2"}}


async def test_update_can_set_optional_fields_to_null_but_not_required_ones(
    session: Session,
) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data(description="text"))
    updated = await projects.update(project.id, {"description": None, "architecture": None})
    assert updated.description is None
    assert updated.architecture is None
    with pytest.raises(ValidationError, match="name"):
        await projects.update(project.id, {"name": None})


async def test_status_transitions_keep_completed_at_right(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data())
    done = await projects.update(project.id, {"status": "completed"})
    assert done.completed_at is not None
    still = await projects.update(project.id, {"name": "renamed"})
    assert still.completed_at == done.completed_at
    reopened = await projects.update(project.id, {"status": "active"})
    assert reopened.completed_at is None


async def test_update_with_stale_expected_version_conflicts(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data())
    await projects.update(project.id, {"name": "one"}, expected_version=1)
    with pytest.raises(ConflictError, match="expected version 1") as caught:
        await projects.update(project.id, {"name": "two"}, expected_version=1)
    assert caught.value.actual_version == 2
    assert (await projects.get_by_id(project.id)).name == "one"  # type: ignore[union-attr]


async def test_update_of_missing_or_deleted_row_is_not_found(session: Session) -> None:
    projects = ProjectRepository(session)
    with pytest.raises(NotFoundError, match="project 77"):
        await projects.update(77, {"name": "x"})
    project = await projects.create(project_data())
    await projects.delete(project.id)
    with pytest.raises(NotFoundError):
        await projects.update(project.id, {"name": "x"})


async def test_empty_update_writes_nothing(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data())
    assert await projects.update(project.id, {}) == project
    assert len(await projects.history(project.id)) == 1


async def test_every_updatable_project_field_changes_while_children_exist(session: Session) -> None:
    """The schema has no secondary index on projects, so DuckDB's update of a
    referenced row works for every column (see test_schema.py)."""
    projects = ProjectRepository(session)
    project = await projects.create(project_data())
    await ConversationRepository(session).create(conversation_data(project.id))
    await DocumentRepository(session).create(document_data(project.id))
    await RepositoryRepository(session).create(repository_data(project.id))
    changes: dict[str, Any] = {
        "name": "Renamed",
        "description": "Now with a description",
        "project_idea": "A different idea entirely",
        "architecture": {"framework": "Litestar"},
        "status": "completed",
    }
    for field, value in changes.items():
        await projects.update(project.id, {field: value})
    final = await projects.update(project.id, changes | {"status": "archived"})
    assert final.version == 2 + len(changes)
    assert final.name == "Renamed"
    assert final.status == "archived"
    assert final.architecture == {"framework": "Litestar"}


# -- delete / restore --------------------------------------------------------------


async def test_soft_delete_hides_and_restore_brings_back(session: Session) -> None:
    documents = DocumentRepository(session)
    project = await ProjectRepository(session).create(project_data())
    document = await documents.create(document_data(project.id))
    assert await documents.delete(document.id) is True
    assert await documents.delete(document.id) is False
    assert await documents.get_by_id(document.id) is None
    assert await documents.list() == []
    assert await documents.count() == 0
    hidden = await documents.get_by_id(document.id, include_deleted=True)
    assert hidden is not None
    assert hidden.deleted_at is not None
    assert await documents.count(include_deleted=True) == 1
    assert await documents.restore(document.id) == document
    assert [entry.action for entry in await documents.history(document.id)] == [
        "create",
        "delete",
        "restore",
    ]


async def test_restore_of_live_row_returns_it_and_of_missing_row_is_not_found(
    session: Session,
) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(project_data())
    assert await projects.restore(project.id) == project
    with pytest.raises(NotFoundError, match="nothing to restore"):
        await projects.restore(999)


async def test_project_soft_delete_cascades_and_restore_brings_back_only_those_children(
    session: Session,
) -> None:
    projects = ProjectRepository(session)
    conversations = ConversationRepository(session)
    documents = DocumentRepository(session)
    repositories = RepositoryRepository(session)
    project = await projects.create(project_data())
    talk = await conversations.create(conversation_data(project.id))
    early = await documents.create(document_data(project.id, title="Deleted on its own"))
    kept = await documents.create(document_data(project.id, title="Deleted with project"))
    repo = await repositories.create(repository_data(project.id))
    await documents.delete(early.id)

    assert await projects.delete(project.id) is True
    assert await conversations.get_by_id(talk.id) is None
    assert await documents.get_by_id(kept.id) is None
    assert await repositories.get_by_id(repo.id) is None
    with pytest.raises(NotFoundError, match="restore the project"):
        await documents.restore(kept.id)

    await projects.restore(project.id)
    assert await conversations.get_by_id(talk.id) == talk
    assert await documents.get_by_id(kept.id) == kept
    assert await repositories.get_by_id(repo.id) == repo
    assert await documents.get_by_id(early.id) is None
    assert [e.action for e in await conversations.history(talk.id)] == [
        "create",
        "delete",
        "restore",
    ]


async def test_hard_delete_removes_project_and_children_for_good(session: Session) -> None:
    projects = ProjectRepository(session)
    conversations = ConversationRepository(session)
    project = await projects.create(project_data())
    talk = await conversations.create(conversation_data(project.id))
    await DocumentRepository(session).create(document_data(project.id))
    assert await projects.delete(project.id, hard=True) is True
    assert await projects.get_by_id(project.id, include_deleted=True) is None
    assert await conversations.get_by_id(talk.id, include_deleted=True) is None
    rows = await session.execute("SELECT count(*) AS n FROM documents")
    assert rows[0]["n"] == 0
    assert await projects.delete(project.id, hard=True) is False
    assert (await projects.history(project.id))[-1].changes == {"hard": True}


async def test_hard_delete_inside_a_transaction_is_atomic(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data())
        await ConversationRepository(session).create(conversation_data(project.id))
    with pytest.raises(RuntimeError):
        async with engine.transaction() as session:
            await ProjectRepository(session).delete(project.id, hard=True)
            raise RuntimeError("abandon")
    async with engine.session() as session:
        assert await ProjectRepository(session).get_by_id(project.id) is not None
        assert len(await ConversationRepository(session).get_by_project(project.id)) == 1


async def test_hard_delete_of_a_child_removes_only_it(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    repositories = RepositoryRepository(session)
    first = await repositories.create(repository_data(project.id))
    second = await repositories.create(repository_data(project.id, name="second"))
    assert await repositories.delete(first.id, hard=True) is True
    assert await repositories.get_by_project(project.id) == [second]


# -- list / count -------------------------------------------------------------------


async def test_list_filters_orders_and_pages(session: Session) -> None:
    projects = ProjectRepository(session)
    made = [
        await projects.create(project_data(name=f"p{i}", status="active" if i % 2 else "draft"))
        for i in range(6)
    ]
    active = await projects.list(status="active")
    assert [p.name for p in active] == ["p1", "p3", "p5"]
    assert await projects.count(status="active") == 3
    assert await projects.count(description=None) == 6
    newest = await projects.list(order_by="-name", limit=2)
    assert [p.name for p in newest] == ["p5", "p4"]
    page = await projects.list(limit=2, offset=2)
    assert [p.id for p in page] == [made[2].id, made[3].id]
    by_two = await projects.list(order_by=["status", "-id"])
    assert [p.name for p in by_two] == ["p5", "p3", "p1", "p4", "p2", "p0"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"colour": "red"}, "no filterable field 'colour'"),
        ({"architecture": {}}, "no filterable field 'architecture'"),
        ({"status": "paused"}, "status='paused'"),
        ({"id": "not a number"}, "id="),
        ({"order_by": "drop table"}, "cannot be ordered by"),
        ({"order_by": "-colour"}, "cannot be ordered by"),
        ({"limit": -1}, "limit"),
        ({"offset": "3"}, "offset"),
    ],
)
async def test_bad_list_arguments_raise_invalid_query_error_before_sql(
    engine: DatabaseEngine, arguments: dict[str, Any], message: str
) -> None:
    async with engine.session() as session:
        before = engine.stats().queries.get("list_projects")
        with pytest.raises(InvalidQueryError, match=message):
            await ProjectRepository(session).list(**arguments)
        assert engine.stats().queries.get("list_projects") == before


async def test_count_refuses_unknown_fields(session: Session) -> None:
    with pytest.raises(InvalidQueryError, match="colour"):
        await DocumentRepository(session).count(colour="red")


# -- bulk ----------------------------------------------------------------------------


async def test_bulk_create_writes_all_in_input_order_with_audit(session: Session) -> None:
    projects = ProjectRepository(session)
    items = [
        project_data(name=f"bulk {i}", status="completed" if i == 3 else "draft") for i in range(20)
    ]
    created = await projects.bulk_create(items)
    assert [p.name for p in created] == [item["name"] for item in items]
    assert [p.id for p in created] == sorted(p.id for p in created)
    assert created[3].completed_at is not None
    assert created[0].completed_at is None
    assert created[5] == await projects.get_by_id(created[5].id)
    assert await audit_count(session) == 20
    [entry] = await projects.history(created[7].id)
    assert entry.action == "create"
    assert entry.changes["name"] == "bulk 7"
    assert entry.changes["architecture"] == {"framework": "FastAPI", "complexity_score": 7}


async def test_bulk_create_without_returning_gives_the_count(session: Session) -> None:
    projects = ProjectRepository(session)
    assert await projects.bulk_create([project_data()] * 5, returning=False) == 5
    assert await projects.bulk_create([]) == []
    assert await projects.count() == 5


async def test_bulk_create_with_one_bad_item_writes_nothing(session: Session) -> None:
    projects = ProjectRepository(session)
    items = [project_data(name=f"ok {i}") for i in range(5)] + [project_data(name="")]
    with pytest.raises(ValidationError) as caught:
        await projects.bulk_create(items)
    assert caught.value.errors()[0]["loc"] == (5, "name")
    assert await projects.count() == 0
    assert await audit_count(session) == 0


async def test_bulk_create_of_children_checks_every_project(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    documents = DocumentRepository(session)
    with pytest.raises(NotFoundError, match="nothing was written"):
        await documents.bulk_create([document_data(project.id), document_data(424242)])
    assert await documents.count() == 0
    made = await documents.bulk_create(
        [document_data(project.id, metadata={"n": i}) for i in range(3)]
    )
    assert [d.metadata for d in made] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_bulk_create_for_every_child_entity(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    talks = await ConversationRepository(session).bulk_create(
        [
            conversation_data(project.id, messages=[{"role": "user", "content": f"hello {i}"}])
            for i in range(3)
        ]
    )
    assert [t.messages[0].content for t in talks] == ["hello 0", "hello 1", "hello 2"]
    commit = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    repos = await RepositoryRepository(session).bulk_create(
        [repository_data(project.id, last_commit_at=commit, stars=5)]
    )
    assert repos[0].last_commit_at == commit
    assert repos[0].stars == 5


async def test_bulk_update_applies_all_or_nothing(session: Session) -> None:
    projects = ProjectRepository(session)
    a, b, c = await projects.bulk_create([project_data(name=n) for n in "abc"])
    assert (
        await projects.bulk_update(
            [{"id": a.id, "name": "A"}, {"id": b.id, "version": 1, "status": "active"}]
        )
        == 2
    )
    assert (await projects.get_by_id(a.id)).name == "A"  # type: ignore[union-attr]
    assert (await projects.get_by_id(b.id)).status == "active"  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        await projects.bulk_update(
            [{"id": c.id, "name": "C"}, {"id": b.id, "version": 1, "name": "B"}]
        )
    assert (await projects.get_by_id(c.id)).name == "c"  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        await projects.bulk_update([{"id": c.id, "name": "C"}, {"id": 999, "name": "x"}])
    assert (await projects.get_by_id(c.id)).version == 1  # type: ignore[union-attr]
    with pytest.raises(ValidationError) as caught:
        await projects.bulk_update([{"id": c.id, "name": "C"}, {"id": a.id, "status": "nope"}])
    assert caught.value.errors()[0]["loc"][:2] == (1, "status")
    with pytest.raises(InvalidQueryError, match="no 'id'"):
        await projects.bulk_update([{"name": "x"}])
    assert await projects.bulk_update([]) == 0


# -- specialised methods ---------------------------------------------------------------


async def test_get_by_status_and_get_with_conversations(session: Session) -> None:
    projects = ProjectRepository(session)
    conversations = ConversationRepository(session)
    active = await projects.create(project_data(status="active"))
    await projects.create(project_data(status="draft"))
    assert [p.id for p in await projects.get_by_status("active")] == [active.id]
    live = await conversations.create(conversation_data(active.id, title="live"))
    gone = await conversations.create(conversation_data(active.id, title="gone"))
    await conversations.delete(gone.id)
    document = await DocumentRepository(session).create(document_data(active.id))
    repo = await RepositoryRepository(session).create(repository_data(active.id))
    detail = await projects.get_with_conversations(active.id)
    assert detail is not None
    assert detail.conversations == [live]
    assert detail.documents == [document]
    assert detail.repositories == [repo]
    assert detail.name == active.name
    assert await projects.get_with_conversations(999) is None


async def test_enum_arguments_of_specialised_lookups_are_checked(session: Session) -> None:
    with pytest.raises(InvalidQueryError, match=r"status 'paused' is not one of: draft"):
        await ProjectRepository(session).get_by_status("paused")
    with pytest.raises(InvalidQueryError, match=r"phase 'testing' is not one of: discovery"):
        await ConversationRepository(session).get_by_phase("testing")


async def test_conversation_queries_and_add_message(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    conversations = ConversationRepository(session)
    talk = await conversations.create(conversation_data(project.id))
    other = await conversations.create(conversation_data(project.id, phase="design"))
    assert [c.id for c in await conversations.get_by_project(project.id)] == [talk.id, other.id]
    assert [c.id for c in await conversations.get_by_phase("design")] == [other.id]
    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    first = await conversations.add_message(
        talk.id, {"role": "user", "content": "Hi", "created_at": when}
    )
    second = await conversations.add_message(
        talk.id,
        MessageCreate(role="assistant", content="Hello", metadata={"model": "x", "n": [1, 2]}),
    )
    assert first.messages[0].created_at == when
    assert first.version == 2
    assert [m.content for m in second.messages] == ["Hi", "Hello"]
    assert second.messages[1].metadata == {"model": "x", "n": [1, 2]}
    assert second.version == 3
    assert (await conversations.history(talk.id))[-1].changes == {"messages": {"old": 1, "new": 2}}
    with pytest.raises(ValidationError, match="content"):
        await conversations.add_message(talk.id, {"role": "user", "content": ""})
    with pytest.raises(NotFoundError, match="conversation 999"):
        await conversations.add_message(999, {"role": "user", "content": "x"})


async def test_naive_message_time_is_taken_as_utc(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    conversations = ConversationRepository(session)
    talk = await conversations.create(conversation_data(project.id))
    naive = datetime(2026, 5, 1, 12, 0)
    after = await conversations.add_message(
        talk.id, {"role": "user", "content": "x", "created_at": naive}
    )
    assert after.messages[0].created_at == naive.replace(tzinfo=UTC)


async def test_document_queries_and_record_access(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    documents = DocumentRepository(session)
    spec = await documents.create(document_data(project.id))
    adr = await documents.create(document_data(project.id, doc_type="adr"))
    assert [d.id for d in await documents.get_by_type("adr")] == [adr.id]
    assert [d.id for d in await documents.get_by_project(project.id)] == [spec.id, adr.id]
    read = await documents.record_access(spec.id)
    read = await documents.record_access(spec.id)
    assert read.access_count == 2
    assert read.last_accessed_at is not None
    assert read.version == 1
    assert len(await documents.history(spec.id)) == 1
    with pytest.raises(NotFoundError):
        await documents.record_access(999)
    with pytest.raises(InvalidQueryError, match=r"doc_type 'novel'.*requirements"):
        await documents.get_by_type("novel")


async def test_repository_queries_and_get_stale(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    repositories = RepositoryRepository(session)
    now = datetime.now(UTC)
    fresh = await repositories.create(repository_data(project.id, name="fresh", last_commit_at=now))
    old = await repositories.create(
        repository_data(project.id, name="old", last_commit_at=now - timedelta(days=45))
    )
    never = await repositories.create(repository_data(project.id, name="never"))
    assert [r.id for r in await repositories.get_stale()] == [old.id, never.id]
    assert [r.id for r in await repositories.get_stale(days=60)] == [never.id]
    assert [r.id for r in await repositories.get_by_project(project.id)] == [
        fresh.id,
        old.id,
        never.id,
    ]
    with pytest.raises(InvalidQueryError):
        await repositories.get_stale(days=-1)


async def test_repository_url_must_be_http(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    with pytest.raises(ValidationError, match="url"):
        await RepositoryRepository(session).create(repository_data(project.id, url="ftp://x.org/a"))
    made = await RepositoryRepository(session).create(
        repository_data(project.id, url="https://x.org")
    )
    assert made.url == "https://x.org"


async def test_history_of_unknown_row_is_empty(session: Session) -> None:
    assert await ConversationRepository(session).history(404) == []


async def test_values_beyond_what_duckdb_stores_are_refused_by_validation(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    repositories = RepositoryRepository(session)
    with pytest.raises(ValidationError, match="stars"):
        await repositories.bulk_create([repository_data(project.id, stars=2**63)])
    with pytest.raises(ValidationError, match="project_id"):
        await repositories.create(repository_data(2**63))
    far_past = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValidationError, match="out of range"):
        await repositories.create(repository_data(project.id, last_commit_at=far_past))
    with pytest.raises(ValidationError, match="finite number"):
        await ProjectRepository(session).create(project_data(architecture={"score": float("nan")}))
    assert await repositories.count() == 0
