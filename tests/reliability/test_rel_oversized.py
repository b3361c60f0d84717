"""Oversized input: huge text, huge message lists, deeply nested JSON.

Each is either accepted and stored intact (read back equal, audited as usual) or
refused with a clear error before anything is written (every table's row count
unchanged, no audit entry). What happens today:

- a 10 MB message (through ``add_message`` and inside ``create``): stored intact;
- a conversation created with 100,000 messages: stored intact, in order, and
  ``add_message`` still appends to it (asyncio only: 5-10 s per run, most of it
  DuckDB casting the JSON to ``message[]`` and reading the list back);
- JSON nested 100 deep (dicts and lists; architecture, metadata): stored intact;
- JSON nested 10,000 deep: ``ValidationError`` (pydantic's recursion limit,
  ``recursion_depth_exceeded``) located at the field, nothing written;
- 10 MB in a length-bounded text field: ``ValidationError`` naming the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import conversation_data, document_data, project_data
from pydantic import ValidationError

from project_architect_db import (
    ConversationRepository,
    DatabaseEngine,
    DocumentRepository,
    ProjectRepository,
    Session,
)

MB = 1024 * 1024
TABLES = ("projects", "conversations", "documents", "repositories", "audit_log", "search_terms")


async def row_counts(session: Session) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    return {row["t"]: int(row["n"]) for row in await session.execute(sql)}


def ten_megabytes() -> str:
    """10 MB of varied text: ASCII, accents, an emoji, quotes and newlines."""
    unit = "Größe 'quoted' \"double\" 🚀 -- ; \\ line\n"
    return (unit * (10 * MB // len(unit) + 1))[: 10 * MB]


def nested(depth: int, kind: str) -> Any:
    """A JSON value ``depth`` containers deep: {"k": {"k": ...}} or [[...]]."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value} if kind == "dict" else [value]
    return value


# -- huge text ----------------------------------------------------------------------------


async def test_a_ten_megabyte_message_is_stored_intact(session: Session) -> None:
    big = ten_megabytes()
    project = await ProjectRepository(session).create(project_data())
    talks = ConversationRepository(session)
    talk = await talks.create(conversation_data(project.id))

    appended = await talks.add_message(talk.id, {"role": "user", "content": big})
    assert [m.content for m in appended.messages] == [big]
    assert appended.version == talk.version + 1
    stored = await talks.get_by_id(talk.id)
    assert stored == appended
    assert len(stored.messages[0].content) == 10 * MB
    history = await talks.history(talk.id)
    assert [entry.action for entry in history] == ["create", "update"]
    assert history[-1].changes == {"messages": {"old": 0, "new": 1}}

    created = await talks.create(
        conversation_data(
            project.id,
            messages=[{"role": "assistant", "content": big}, {"role": "user", "content": "ok"}],
        )
    )
    again = await talks.get_by_id(created.id)
    assert again is not None
    assert [m.content for m in again.messages] == [big, "ok"]
    assert (await talks.history(created.id))[0].changes["messages"] == 2


async def test_ten_megabytes_in_a_bounded_text_field_is_refused_naming_it(
    session: Session,
) -> None:
    big = ten_megabytes()
    projects = ProjectRepository(session)
    project = await projects.create(project_data())
    before = await row_counts(session)
    calls: list[tuple[Callable[[], Awaitable[Any]], tuple[Any, ...]]] = [
        (lambda: projects.create(project_data(name=big)), ("name",)),
        (lambda: projects.create(project_data(description=big)), ("description",)),
        (lambda: projects.create(project_data(project_idea=big)), ("project_idea",)),
        (lambda: projects.update(project.id, {"description": big}), ("description",)),
        (lambda: projects.bulk_create([project_data(), project_data(name=big)]), (1, "name")),
        (
            lambda: DocumentRepository(session).create(document_data(project.id, title=big)),
            ("title",),
        ),
        (
            lambda: ConversationRepository(session).create(
                conversation_data(project.id, title=big)
            ),
            ("title",),
        ),
    ]
    for call, location in calls:
        with pytest.raises(ValidationError) as caught:
            await call()
        errors = caught.value.errors(include_input=False)
        assert any(
            tuple(e["loc"]) == location and e["type"] in ("string_too_long", "too_long")
            for e in errors
        ), (location, errors)
    assert await row_counts(session) == before
    assert await projects.get_by_id(project.id) == project


# -- huge lists ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # ~10 s a run: one backend is enough
async def test_a_conversation_with_a_hundred_thousand_messages_is_stored_intact(
    engine: DatabaseEngine,
) -> None:
    n = 100_000
    start = datetime(2024, 1, 1, tzinfo=UTC)
    messages = [
        {
            "role": ("user", "assistant", "system")[i % 3],
            "content": f"message {i} 'quoted'",
            "created_at": start + timedelta(microseconds=i),
        }
        for i in range(n)
    ]
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data())
        talks = ConversationRepository(session)
        created = await talks.create(conversation_data(project.id, messages=messages))
        expected = [(m["role"], m["content"], m["created_at"]) for m in messages]
        assert [(m.role, m.content, m.created_at) for m in created.messages] == expected
        assert (await talks.history(created.id))[0].changes["messages"] == n

        # Appending reads the stored list back from the database: still intact, one longer.
        longer = await talks.add_message(created.id, {"role": "user", "content": "one more"})
        assert [(m.role, m.content, m.created_at) for m in longer.messages[:n]] == expected
        assert len(longer.messages) == n + 1
        assert longer.messages[-1].content == "one more"
        assert (await talks.history(created.id))[-1].changes == {
            "messages": {"old": n, "new": n + 1}
        }


# -- deep nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dict", "list"])
async def test_json_nested_a_hundred_deep_is_stored_intact(session: Session, kind: str) -> None:
    deep = nested(100, kind)
    projects = ProjectRepository(session)
    project = await projects.create(project_data(architecture={"framework": "x", "deep": deep}))
    assert project.architecture == {"framework": "x", "deep": deep}
    assert await projects.get_by_id(project.id) == project
    assert (await projects.history(project.id))[0].changes["architecture"]["deep"] == deep

    updated = await projects.update(project.id, {"architecture": {"deep": [deep]}})
    assert (await projects.get_by_id(project.id)) == updated
    assert updated.architecture == {"deep": [deep]}

    talk = await ConversationRepository(session).create(conversation_data(project.id))
    with_message = await ConversationRepository(session).add_message(
        talk.id, {"role": "user", "content": "nested", "metadata": {"deep": deep}}
    )
    assert with_message.messages[0].metadata == {"deep": deep}
    assert (await ConversationRepository(session).get_by_id(talk.id)) == with_message

    document = await DocumentRepository(session).create(
        document_data(project.id, metadata={"deep": deep})
    )
    assert (await DocumentRepository(session).get_by_id(document.id)) == document
    assert document.metadata == {"deep": deep}


@pytest.mark.parametrize("kind", ["dict", "list"])
async def test_json_nested_ten_thousand_deep_is_refused_and_nothing_is_written(
    session: Session, kind: str
) -> None:
    deep = nested(10_000, kind)
    projects = ProjectRepository(session)
    talks = ConversationRepository(session)
    project = await projects.create(project_data())
    talk = await talks.create(conversation_data(project.id))
    before = await row_counts(session)
    calls: list[tuple[Callable[[], Awaitable[Any]], tuple[Any, ...]]] = [
        (lambda: projects.create(project_data(architecture={"deep": deep})), ("architecture",)),
        (lambda: projects.update(project.id, {"architecture": {"deep": deep}}), ("architecture",)),
        (
            lambda: projects.bulk_create([project_data(), project_data(architecture={"d": deep})]),
            (1, "architecture"),
        ),
        (
            lambda: talks.add_message(
                talk.id, {"role": "user", "content": "x", "metadata": {"deep": deep}}
            ),
            ("metadata",),
        ),
        (
            lambda: talks.create(
                conversation_data(
                    project.id,
                    messages=[{"role": "user", "content": "x", "metadata": {"deep": deep}}],
                )
            ),
            ("messages", 0, "metadata"),
        ),
        (
            lambda: DocumentRepository(session).create(
                document_data(project.id, metadata={"deep": deep})
            ),
            ("metadata",),
        ),
    ]
    for call, location in calls:
        with pytest.raises(ValidationError) as caught:
            await call()
        # include_input=False: the input is too deep for repr().
        errors = caught.value.errors(include_input=False)
        assert any(
            tuple(e["loc"][: len(location)]) == location and e["type"] == "recursion_depth_exceeded"
            for e in errors
        ), (location, [(e["type"], e["loc"][:4]) for e in errors])
    assert await row_counts(session) == before
    assert await projects.get_by_id(project.id) == project
    assert await talks.get_by_id(talk.id) == talk
