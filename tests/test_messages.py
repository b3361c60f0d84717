"""Messages as rows: append_message, get_messages, creates with messages, hard
deletes, and migration 0004 moving the lists of an older database into rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from anyio.from_thread import BlockingPortal
from helpers import conversation_data, project_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_analytics import assert_matches, expected_conversation_flow, read_back

from project_architect_db import (
    AnalyticsRepository,
    ConversationRepository,
    DatabaseEngine,
    InvalidQueryError,
    NotFoundError,
    ProjectRepository,
    Session,
)
from project_architect_db.core import statements
from project_architect_db.core.sql import get_query, migrations

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def said(role: str, content: str, minutes: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "role": role,
        "content": content,
        "created_at": T0 + timedelta(minutes=minutes),
        **extra,
    }


async def new_conversation(session: Session, **overrides: Any) -> int:
    project = await ProjectRepository(session).create(project_data())
    talk = await ConversationRepository(session).create(conversation_data(project.id, **overrides))
    return talk.id


async def test_append_message_stores_one_row_and_leaves_the_conversation_alone(
    session: Session,
) -> None:
    talks = ConversationRepository(session)
    talk_id = await new_conversation(session)
    first = await talks.append_message(talk_id, said("user", "Where do we start?"))
    second = await talks.append_message(
        talk_id, said("assistant", "With the data model.", 1, metadata={"model": "m", "n": [1]})
    )
    assert (first.role, first.content, first.created_at) == ("user", "Where do we start?", T0)
    assert second.metadata == {"model": "m", "n": [1]}
    assert first.position < second.position

    talk = await talks.get_by_id(talk_id)
    assert talk is not None
    assert talk.messages == [first, second]
    # Not an update of the conversation row: concurrent appends never conflict.
    assert talk.version == 1
    history = await talks.history(talk_id)
    assert [entry.changes for entry in history[1:]] == [
        {"message": {"position": first.position, "role": "user"}},
        {"message": {"position": second.position, "role": "assistant"}},
    ]


async def test_append_message_refuses_bad_input_and_dead_conversations_writing_nothing(
    session: Session,
) -> None:
    talks = ConversationRepository(session)
    talk_id = await new_conversation(session)
    with pytest.raises(ValidationError, match="content"):
        await talks.append_message(talk_id, {"role": "user", "content": ""})
    with pytest.raises(ValidationError, match="role"):
        await talks.append_message(talk_id, {"role": "robot", "content": "x"})
    with pytest.raises(NotFoundError, match=r"conversation 999\b.*does not exist or is deleted"):
        await talks.append_message(999, said("user", "x"))
    assert await talks.delete(talk_id)
    with pytest.raises(NotFoundError, match=f"conversation {talk_id}"):
        await talks.append_message(talk_id, said("user", "x"))
    assert await session.execute("SELECT count(*) AS n FROM messages") == [{"n": 0}]
    assert [e.action for e in await talks.history(talk_id)] == ["create", "delete"]


async def test_concurrent_appends_to_one_conversation_all_land_in_position_order(
    engine: DatabaseEngine,
) -> None:
    async with engine.session() as session:
        talk_id = await new_conversation(session)
    appended: list[int] = []

    async def writer(index: int) -> None:
        async with engine.session() as session:
            # No retry inside append_message: a write conflict would raise here.
            message = await ConversationRepository(session).append_message(
                talk_id, said("user", f"message {index}")
            )
            appended.append(message.position)

    async with anyio.create_task_group() as tg:
        for index in range(24):
            tg.start_soon(writer, index)

    async with engine.session() as session:
        talk = await ConversationRepository(session).get_by_id(talk_id)
    assert talk is not None
    assert [m.position for m in talk.messages] == sorted(appended)
    assert sorted(m.content for m in talk.messages) == sorted(f"message {i}" for i in range(24))
    assert talk.version == 1


async def test_get_messages_pages_through_a_conversation_in_order(session: Session) -> None:
    talks = ConversationRepository(session)
    talk_id = await new_conversation(
        session, messages=[said("user", f"first {i}", i) for i in range(130)]
    )
    other_id = await new_conversation(session, messages=[said("user", "elsewhere")])
    for i in range(45):
        await talks.append_message(talk_id, said("assistant", f"later {i}", 200 + i))
    await talks.append_message(other_id, said("user", "elsewhere again"))

    pages: list[list[str]] = []
    after: int | None = None
    while page := await talks.get_messages(talk_id, after=after, limit=50):
        pages.append([m.content for m in page])
        after = page[-1].position
    assert [len(page) for page in pages] == [50, 50, 50, 25]
    contents = [content for page in pages for content in page]
    assert contents == [f"first {i}" for i in range(130)] + [f"later {i}" for i in range(45)]

    everything = await talks.get_by_id(talk_id)
    assert everything is not None
    assert [m.content for m in everything.messages] == contents
    assert await talks.get_messages(talk_id, limit=0) == []
    assert await talks.get_messages(12345) == []
    with pytest.raises(InvalidQueryError, match="limit must be a whole number"):
        await talks.get_messages(talk_id, limit=-1)
    with pytest.raises(InvalidQueryError, match="after must be a message position"):
        await talks.get_messages(talk_id, after="10")  # type: ignore[arg-type]


async def test_creates_keep_the_order_of_the_messages_they_bring(session: Session) -> None:
    talks = ConversationRepository(session)
    project = await ProjectRepository(session).create(project_data())
    # Times out of order on purpose: the list order is the conversation's order.
    given = [said("user", "b", 5), said("assistant", "a", 1), said("system", "c", 3)]
    created = await talks.create(conversation_data(project.id, messages=given))
    assert [m.content for m in created.messages] == ["b", "a", "c"]
    assert created.messages == (await talks.get_by_id(created.id)).messages  # type: ignore[union-attr]

    items = [
        conversation_data(
            project.id, title=f"t{n}", messages=[said("user", f"{n}.{k}") for k in range(n)]
        )
        for n in range(6)
    ]
    loaded = await talks.bulk_create(items)
    assert [[m.content for m in t.messages] for t in loaded] == [
        [f"{n}.{k}" for k in range(n)] for n in range(6)
    ]
    positions = [m.position for t in [created, *loaded] for m in t.messages]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert await talks.bulk_create(items, returning=False) == 6
    listed = await talks.list(limit=20, order_by="id")
    assert [[m.content for m in t.messages] for t in listed[-6:]] == [
        [f"{n}.{k}" for k in range(n)] for n in range(6)
    ]
    # An append after a create continues after the positions it took.
    last = await talks.append_message(loaded[-1].id, said("user", "one more"))
    assert last.position > max(positions)


async def test_hard_deletes_take_the_messages_with_them(session: Session) -> None:
    talks = ConversationRepository(session)
    projects = ProjectRepository(session)
    kept = await new_conversation(session, messages=[said("user", "kept")])
    gone = await new_conversation(session, messages=[said("user", "gone")])
    project = await projects.create(project_data())
    first = await talks.create(conversation_data(project.id, messages=[said("user", "p1")]))
    second = await talks.create(conversation_data(project.id, messages=[said("user", "p2")]))
    await talks.delete(second.id)  # soft: its messages stay until the hard delete
    assert [m.content for m in await talks.get_messages(second.id)] == ["p2"]

    assert await talks.delete(gone, hard=True)
    assert await projects.delete(project.id, hard=True)
    rows = await session.execute("SELECT conversation_id, content FROM messages ORDER BY position")
    assert rows == [{"conversation_id": kept, "content": "kept"}]
    assert first.id != kept


async def test_add_message_keeps_the_original_designs_results(session: Session) -> None:
    talks = ConversationRepository(session)
    talk_id = await new_conversation(session, messages=[said("user", "hello")])
    after = await talks.add_message(talk_id, said("assistant", "hi", 1))
    assert [m.content for m in after.messages] == ["hello", "hi"]
    assert after.version == 2
    assert (await talks.history(talk_id))[-1].changes == {"messages": {"old": 1, "new": 2}}


# -- migration 0004 on a database made before it ---------------------------------------

MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(["user", "assistant", "system"]),
        st.text(
            st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
            min_size=1,
            max_size=12,
        ),
        st.integers(min_value=-10_000, max_value=10_000),
        st.one_of(st.none(), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)),
    ),
    max_size=8,
)
CONVERSATIONS = st.lists(st.tuples(MESSAGES, st.booleans()), min_size=1, max_size=6)


def release_0003_database(path: Path, conversations: list[tuple[list[Any], bool]]) -> list[Any]:
    """A database file as the release before migration 0004 left it: migrations
    1-3 applied, messages inside conversations.messages lists. The lists written."""
    old = [m for m in migrations() if m.version <= 3]
    with duckdb.connect(str(path)) as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute(get_query(statements.CREATE_SCHEMA_MIGRATIONS.name).sql)
        for migration in old:
            db.execute(migration.script)
            db.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($v, $n)",
                {"v": migration.version, "n": migration.name},
            )
        db.execute("INSERT INTO projects (name, project_idea) VALUES ('p', 'idea')")
        written = []
        for messages, deleted in conversations:
            as_json = [
                {
                    "role": role,
                    "content": content,
                    "created_at": (T0 + timedelta(seconds=seconds)).isoformat(),
                    "metadata": metadata,
                }
                for role, content, seconds, metadata in messages
            ]
            db.execute(
                "INSERT INTO conversations (project_id, title, messages, deleted_at) "
                "VALUES (1, 't', CAST(CAST($m AS JSON) AS message[]), "
                "CASE WHEN $deleted THEN now() END)",
                {"m": json.dumps(as_json), "deleted": deleted},
            )
            written.append(messages)
    return written


@given(conversations=CONVERSATIONS)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_migration_0004_moves_every_list_into_rows_in_order(
    portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory, conversations: Any
) -> None:
    path = tmp_path_factory.mktemp("release_0003") / "old.duckdb"
    written = release_0003_database(path, conversations)

    async def after_upgrade() -> tuple[list[list[Any]], list[int], int]:
        async with DatabaseEngine(path) as engine, engine.session() as session:
            talks = ConversationRepository(session)
            stored = []
            for id in range(1, len(written) + 1):
                talk = await talks.get_by_id(id, include_deleted=True)
                assert talk is not None
                stored.append(
                    [(m.role.value, m.content, m.created_at, m.metadata) for m in talk.messages]
                )
            positions = [
                r["position"]
                for r in await session.execute(
                    "SELECT position FROM messages ORDER BY conversation_id, position"
                )
            ]
            live = (
                next(i for i, (_, deleted) in enumerate(conversations, 1) if not deleted)
                if any(not deleted for _, deleted in conversations)
                else None
            )
            # Analytics over the moved rows answer as their header comments say
            # of the original lists (the oracle of test_analytics.py).
            assert_matches(
                await AnalyticsRepository(session).conversation_flow_analysis(),
                expected_conversation_flow(await read_back(session)),
            )
            next_position = 0
            if live is not None:
                next_position = (await talks.append_message(live, said("user", "new"))).position
            return stored, positions, next_position

    stored, positions, next_position = portal.call(after_upgrade)
    assert stored == [
        [
            (role, content, T0 + timedelta(seconds=seconds), metadata)
            for role, content, seconds, metadata in messages
        ]
        for messages in written
    ]
    assert positions == list(range(1, len(positions) + 1))
    if next_position:
        assert next_position == len(positions) + 1


async def test_one_conversation_with_a_long_list_loads_in_bulk(session: Session) -> None:
    # A lateral unnest of one staged row's list ran DuckDB out of memory at
    # 20,000 messages; the statement unnests in its select list instead.
    project = await ProjectRepository(session).create(project_data())
    talks = ConversationRepository(session)
    n = 25_000
    item = conversation_data(project.id, messages=[said("user", f"m{k}") for k in range(n)])
    assert await talks.bulk_create([item], returning=False) == 1
    [talk] = await talks.list()
    assert [m.content for m in talk.messages] == [f"m{k}" for k in range(n)]
    positions = [m.position for m in talk.messages]
    assert positions == sorted(set(positions))


async def test_a_create_brings_a_long_list_of_messages_in_order(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    n = 10_000
    talk = await ConversationRepository(session).create(
        conversation_data(project.id, messages=[said("user", f"m{k}") for k in range(n)])
    )
    assert [m.content for m in talk.messages] == [f"m{k}" for k in range(n)]
    positions = [m.position for m in talk.messages]
    assert positions == sorted(set(positions))
