"""The write paths: one recorded statement per create and update, the bulk path's
tokenizer, and what each writes (row, audit entry, search terms) or refuses.

The one-row path (``search.index_terms``) is the reference: every faster path
is held against it on arbitrary text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import (
    STORABLE,
    PortalEngine,
    document_data,
    project_data,
    repository_data,
    run_in_session,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project_architect_db import (
    ConflictError,
    DatabaseEngine,
    DocumentRepository,
    NotFoundError,
    ProjectRepository,
    RepositoryRepository,
    Session,
)
from project_architect_db.core import statements as sql
from project_architect_db.core.runner import StatementRunner
from project_architect_db.core.sql import get_query
from project_architect_db.search import MAX_WORD_LENGTH, index_terms, word_text, words

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Text built to reach every branch of the tokenizers: ASCII words in any case,
#: digits, underscores and punctuation, stop words, words longer than
#: MAX_WORD_LENGTH, and non-ASCII letters (which take the regex path).
_PIECES = st.one_of(
    st.sampled_from(["The", "and", "ARCHITECTURE", "architectures", "gateway", "x_y", "42"]),
    st.text(st.characters(max_codepoint=127, exclude_characters="\x00"), max_size=12),
    st.text(STORABLE, max_size=6),
    st.just("w" * (MAX_WORD_LENGTH + 1)),
    st.just("Ünïcode İstanbul ǅ ß"),
)
TEXT = st.lists(_PIECES, max_size=8).map(" ".join)


def stored_terms(rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return sorted((row["field"], row["term"], row["tf"]) for row in rows)


def expected_terms(texts: dict[str, str | None]) -> list[tuple[str, str, int]]:
    fields, terms, counts = index_terms(texts)
    return sorted(zip(fields, terms, counts, strict=True))


async def terms_of(session: Session, entity: str, id: int) -> list[tuple[str, str, int]]:
    rows = await session.execute(
        "SELECT field, term, tf FROM search_terms WHERE entity = ? AND entity_id = ?",
        [entity, id],
    )
    return stored_terms(rows)


async def audit_of(session: Session, entity: str, id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        "SELECT action, changes FROM audit_log WHERE entity = ? AND entity_id = ? ORDER BY id",
        [entity, id],
    )
    return [{"action": row["action"], "changes": json.loads(row["changes"])} for row in rows]


async def table_counts(session: Session) -> dict[str, int]:
    [row] = await session.execute(
        "SELECT (SELECT count(*) FROM projects) AS projects, "
        "(SELECT count(*) FROM documents) AS documents, "
        "(SELECT count(*) FROM audit_log) AS audit, "
        "(SELECT count(*) FROM search_terms) AS terms"
    )
    return {key: int(value) for key, value in row.items()}


def calls(engine: DatabaseEngine) -> dict[str, int]:
    return {name: stats.calls for name, stats in engine.stats().queries.items()}


# -- the bulk tokenizer ----------------------------------------------------------------


@given(text=st.text(STORABLE) | st.text(st.characters(max_codepoint=127)) | TEXT)
def test_word_text_splits_into_exactly_the_words_of_the_one_row_tokenizer(text: str) -> None:
    assert [word for word in word_text(text).split(" ") if word] == words(text)


@PROPERTY
@given(
    rows=st.lists(
        st.fixed_dictionaries({"name": TEXT, "description": st.none() | TEXT, "idea": TEXT}),
        min_size=1,
        max_size=12,
    ),
    returning=st.booleans(),
)
def test_bulk_create_indexes_every_row_exactly_as_create_does(
    portal_engine: PortalEngine, rows: list[dict[str, Any]], returning: bool
) -> None:
    # Valid input whatever the drawn text: a non-empty name, an idea of 10+ characters.
    items = [
        project_data(
            name=f"n {row['name']}"[:255],
            description=row["description"],
            project_idea=f"project idea: {row['idea']}",
        )
        for row in rows
    ]

    async def work(session: Session) -> tuple[list[Any], list[Any]]:
        projects = ProjectRepository(session)
        ids: list[int]
        if returning:
            ids = [project.id for project in await projects.bulk_create(items)]
        else:
            await projects.bulk_create(items, returning=False)
            found = await session.execute(
                "SELECT id FROM projects ORDER BY id DESC LIMIT ?", [len(items)]
            )
            ids = sorted(row["id"] for row in found)
        singles = [await projects.create(item) for item in items]
        bulk = [await terms_of(session, "project", id) for id in ids]
        one_by_one = [await terms_of(session, "project", p.id) for p in singles]
        return bulk, one_by_one

    bulk, one_by_one = run_in_session(portal_engine, work)
    for item, from_bulk, from_create in zip(items, bulk, one_by_one, strict=True):
        reference = expected_terms(
            {field: item[field] for field in ("name", "description", "project_idea")}
        )
        assert from_bulk == reference
        assert from_create == reference


# -- create: one statement ---------------------------------------------------------------


async def test_create_writes_row_audit_entry_and_terms_with_one_statement(
    engine: DatabaseEngine,
) -> None:
    async with engine.session() as session:
        before = calls(engine)
        project = await ProjectRepository(session).create(
            project_data(name="Clean Architecture", description="Ports, adapters; ports!")
        )
        after = calls(engine)
        made = {name: after[name] - before.get(name, 0) for name in after}
        assert {name: n for name, n in made.items() if n} == {"create_project": 1}
        assert await audit_of(session, "project", project.id) == [
            {
                "action": "create",
                "changes": {
                    "name": "Clean Architecture",
                    "description": "Ports, adapters; ports!",
                    "project_idea": "Map every service we run",
                    "architecture": {"framework": "FastAPI", "complexity_score": 7},
                    "status": "draft",
                },
            }
        ]
        assert await terms_of(session, "project", project.id) == expected_terms(
            {
                "name": "Clean Architecture",
                "description": "Ports, adapters; ports!",
                "project_idea": "Map every service we run",
            }
        )


async def test_create_of_a_child_of_a_deleted_project_writes_nothing(session: Session) -> None:
    projects, documents = ProjectRepository(session), DocumentRepository(session)
    parent = await projects.create(project_data())
    await projects.delete(parent.id)
    before = await table_counts(session)
    with pytest.raises(NotFoundError, match="live project"):
        await documents.create(document_data(parent.id, content="words to index"))
    with pytest.raises(NotFoundError, match="live project"):
        await RepositoryRepository(session).create(repository_data(parent.id))
    assert await table_counts(session) == before


async def test_create_in_a_rolled_back_transaction_leaves_nothing(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        before = await table_counts(session)
    with pytest.raises(RuntimeError):
        async with engine.transaction() as session:
            parent = await ProjectRepository(session).create(project_data(name="Phantom"))
            await DocumentRepository(session).create(document_data(parent.id))
            raise RuntimeError("roll back")
    async with engine.session() as session:
        assert await table_counts(session) == before


async def test_child_create_audits_the_validated_input(session: Session) -> None:
    parent = await ProjectRepository(session).create(project_data())
    repository = await RepositoryRepository(session).create(
        repository_data(parent.id, stars=3, last_commit_at="2026-01-02T03:04:05+02:00")
    )
    [entry] = await audit_of(session, "repository", repository.id)
    assert entry["action"] == "create"
    assert entry["changes"]["stars"] == 3
    assert entry["changes"]["last_commit_at"] == "2026-01-02T01:04:05Z"
    assert await terms_of(session, "repository", repository.id) == []


# -- update: a read and one statement ------------------------------------------------------


async def test_update_uses_the_statement_that_fits_the_change(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        projects = ProjectRepository(session)
        project = await projects.create(project_data(name="Telescope"))
        before = calls(engine)
        await projects.update(project.id, {"status": "active"})
        middle = calls(engine)
        await projects.update(project.id, {"name": "Microscope"})
        after = calls(engine)
    first = {name: middle[name] - before.get(name, 0) for name in middle}
    second = {name: after[name] - middle.get(name, 0) for name in after}
    assert {name: n for name, n in first.items() if n} == {
        "get_project": 1,
        "update_project": 1,
    }
    assert {name: n for name, n in second.items() if n} == {
        "get_project": 1,
        "update_project_reindexed": 1,
    }


UPDATES = st.fixed_dictionaries(
    {},
    optional={
        "name": TEXT.map(lambda text: f"n {text}"[:255]),
        "description": st.none() | TEXT,
        "project_idea": TEXT.map(lambda text: f"project idea: {text}"),
        "status": st.sampled_from(["draft", "active", "completed", "archived"]),
    },
).filter(bool)


@PROPERTY
@given(updates=st.lists(UPDATES, min_size=1, max_size=6))
def test_updates_keep_the_terms_and_the_audit_trail_exact(
    portal_engine: PortalEngine, updates: list[dict[str, Any]]
) -> None:
    async def work(session: Session) -> None:
        projects = ProjectRepository(session)
        project = await projects.create(project_data(description="first words"))
        for changes in updates:
            old = project
            project = await projects.update(project.id, changes, expected_version=old.version)
            texts = {f: getattr(project, f) for f in ("name", "description", "project_idea")}
            assert await terms_of(session, "project", project.id) == expected_terms(texts)
            last = (await audit_of(session, "project", project.id))[-1]
            assert last == {
                "action": "update",
                "changes": {
                    field: {"old": getattr(old, field), "new": value}
                    for field, value in changes.items()
                },
            }
        history = await projects.history(project.id)
        assert [entry.action for entry in history] == ["create"] + ["update"] * len(updates)

    run_in_session(portal_engine, work)


async def test_document_update_replaces_terms_only_when_text_changes(session: Session) -> None:
    parent = await ProjectRepository(session).create(project_data())
    documents = DocumentRepository(session)
    document = await documents.create(document_data(parent.id, content="Kafka streams"))
    await documents.update(document.id, {"doc_type": "guide"})
    reference = {"title": "Requirements", "content": "Kafka streams"}
    assert await terms_of(session, "document", document.id) == expected_terms(reference)
    await documents.update(document.id, {"content": "Ledger of payments"})
    reference = {"title": "Requirements", "content": "Ledger of payments"}
    assert await terms_of(session, "document", document.id) == expected_terms(reference)


@pytest.mark.parametrize("reindexed", [False, True])
async def test_a_recorded_update_of_a_stale_version_writes_nothing(
    session: Session, reindexed: bool
) -> None:
    # What a concurrent writer between update's read and its write leaves the
    # write to find: the version it read is gone.
    projects = ProjectRepository(session)
    project = await projects.create(project_data(name="Ledger"))
    await projects.update(project.id, {"status": "active"})
    before = await table_counts(session)
    terms_before = await terms_of(session, "project", project.id)
    statement = sql.PROJECT.update_reindexed if reindexed else sql.PROJECT.update
    assert statement is not None
    terms = {"fields": ["name"], "terms": ["stale"], "counts": [1]} if reindexed else {}

    def stale_write(db: StatementRunner) -> Any:
        return db.one(
            statement,
            id=project.id,
            version=project.version,  # 1; the row is at 2
            name="Stale",
            description=None,
            project_idea=project.project_idea,
            architecture=None,
            status="draft",
            changes='{"name": {"old": "Ledger", "new": "Stale"}}',
            **terms,
        )

    assert await session.run_in_worker(stale_write) is None
    assert await table_counts(session) == before
    assert await terms_of(session, "project", project.id) == terms_before
    assert (await projects.get_by_id(project.id)).name == "Ledger"  # type: ignore[union-attr]


async def test_update_from_an_outdated_version_conflicts_and_writes_nothing(
    engine: DatabaseEngine,
) -> None:
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data())
    async with engine.session() as first, engine.session() as second:
        await ProjectRepository(first).update(project.id, {"status": "active"})
        with pytest.raises(ConflictError):
            await ProjectRepository(second).update(
                project.id, {"status": "archived"}, expected_version=1
            )
        audit = await audit_of(first, "project", project.id)
    assert [entry["action"] for entry in audit] == ["create", "update"]


async def test_update_inside_a_transaction_rolls_back_with_it(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data(name="Before"))
        before = await table_counts(session)
    with pytest.raises(RuntimeError):
        async with engine.transaction() as session:
            await ProjectRepository(session).update(project.id, {"name": "During"})
            raise RuntimeError("roll back")
    async with engine.session() as session:
        assert await table_counts(session) == before
        stored = await ProjectRepository(session).get_by_id(project.id)
        assert stored is not None
        assert stored.name == "Before"
        assert await terms_of(session, "project", project.id) == expected_terms(
            {"name": "Before", "description": None, "project_idea": project.project_idea}
        )


# -- bulk_create without rows back ----------------------------------------------------------


async def test_bulk_load_writes_what_the_returning_path_writes(session: Session) -> None:
    parent = await ProjectRepository(session).create(project_data())
    cases: list[tuple[Any, list[dict[str, Any]], str]] = [
        (
            ProjectRepository(session),
            [
                project_data(name=f"P{i}", status="completed" if i % 2 else "draft")
                for i in range(5)
            ],
            "project",
        ),
        (
            DocumentRepository(session),
            [document_data(parent.id, title=f"D{i}", metadata={"i": i}) for i in range(5)],
            "document",
        ),
        (
            RepositoryRepository(session),
            [
                repository_data(parent.id, name=f"r{i}", last_commit_at="2026-01-01T00:00:00Z")
                for i in range(5)
            ],
            "repository",
        ),
    ]
    for repo, items, entity in cases:
        returned = await repo.bulk_create(items)
        assert await repo.bulk_create(items, returning=False) == len(items)
        loaded_ids = [
            row["id"]
            for row in await session.execute(
                f"SELECT id FROM {repo.table} ORDER BY id DESC LIMIT ?", [len(items)]
            )
        ][::-1]
        for model, loaded_id in zip(returned, loaded_ids, strict=True):
            loaded = await repo.get_by_id(loaded_id)
            ignore = {"id", "created_at", "completed_at"}
            assert loaded.model_dump(exclude=ignore) == model.model_dump(exclude=ignore)
            # completed_at is now() of each load's own transaction.
            assert (getattr(loaded, "completed_at", None) is None) == (
                getattr(model, "completed_at", None) is None
            )
            assert await audit_of(session, entity, loaded_id) == await audit_of(
                session, entity, model.id
            )
            assert await terms_of(session, entity, loaded_id) == await terms_of(
                session, entity, model.id
            )


async def test_bulk_create_ids_ascend_in_input_order_across_chunks(session: Session) -> None:
    from project_architect_db.repositories.staging import BULK_CHUNK

    items = [project_data(name=f"row {i}") for i in range(BULK_CHUNK + 3)]
    created = await ProjectRepository(session).bulk_create(items)
    assert [p.name for p in created] == [item["name"] for item in items]
    ids = [p.id for p in created]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("entity", ["project", "document"])
def test_both_updates_of_an_entity_write_the_row_the_same_way(entity: str) -> None:
    # update_<entity>_reindexed repeats update_<entity>'s UPDATE (one statement
    # each, for speed); an edit to one must be made to both.
    def row_write(name: str) -> str:
        text = get_query(name).sql
        return text[text.index("WITH updated AS") : text.index("audited AS")]

    assert row_write(f"update_{entity}") == row_write(f"update_{entity}_reindexed")
