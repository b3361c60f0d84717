"""Concurrent writers, each task in its own session (pool_size=4, max_overflow=4):
optimistic locking lets exactly one of a racing group win, appends and counters
never lose a write, and concurrent inserts get distinct ids."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

import anyio
from helpers import conversation_data, document_data, project_data

from project_architect_db import (
    ConflictError,
    ConversationRepository,
    DatabaseEngine,
    DocumentRepository,
    Project,
    ProjectRepository,
)


async def _audit_actions(engine: DatabaseEngine) -> Counter[str]:
    rows = await engine.execute_raw("SELECT action, count(*) AS n FROM audit_log GROUP BY action")
    return Counter({row["action"]: int(row["n"]) for row in rows})


@dataclass
class _Round:
    """What the racers of one round saw and got."""

    read_versions: list[int] = field(default_factory=list)
    successes: list[Project] = field(default_factory=list)
    conflicts: list[ConflictError] = field(default_factory=list)


async def _race(engine: DatabaseEngine, project_id: int, round_number: int, racers: int) -> _Round:
    """``racers`` tasks each read the project in their own session; once all have
    read it, each updates its name with ``expected_version`` = the version read."""
    outcome = _Round()
    all_read = anyio.Event()

    async def racer(index: int) -> None:
        async with engine.session() as session:
            current = await ProjectRepository(session).get_by_id(project_id)
        assert current is not None
        outcome.read_versions.append(current.version)
        if len(outcome.read_versions) == racers:
            all_read.set()  # nobody writes before everybody has read
        await all_read.wait()
        async with engine.session() as session:
            try:
                updated = await ProjectRepository(session).update(
                    project_id,
                    {"name": f"round {round_number} racer {index}"},
                    expected_version=current.version,
                )
            except ConflictError as conflict:
                outcome.conflicts.append(conflict)
            else:
                outcome.successes.append(updated)

    async with anyio.create_task_group() as tg:
        for index in range(racers):
            tg.start_soon(racer, index)
    return outcome


async def test_racing_versioned_updates_have_exactly_one_winner_per_round(
    engine: DatabaseEngine,
) -> None:
    racers, rounds = 12, 5
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data(name="start"))
    assert project.version == 1

    winners: list[Project] = []
    for round_number in range(1, rounds + 1):
        outcome = await _race(engine, project.id, round_number, racers)
        assert outcome.read_versions == [round_number] * racers
        assert len(outcome.successes) == 1, [won.name for won in outcome.successes]
        assert len(outcome.conflicts) == racers - 1
        for conflict in outcome.conflicts:
            assert (conflict.entity, conflict.entity_id) == ("project", project.id)
        assert outcome.successes[0].version == round_number + 1
        winners.append(outcome.successes[0])

    async with engine.session() as session:
        projects = ProjectRepository(session)
        final = await projects.get_by_id(project.id)
        history = await projects.history(project.id)
    assert final is not None
    assert final.version == 1 + len(winners) == 1 + rounds
    assert final.name == winners[-1].name  # no lost update
    assert final == winners[-1]

    updates = [entry for entry in history if entry.action == "update"]
    assert [entry.action for entry in history] == ["create"] + ["update"] * rounds
    assert len(updates) == len(winners)
    names = ["start", *(winner.name for winner in winners)]
    for entry, (old, new) in zip(updates, pairwise(names), strict=True):
        assert entry.changes == {"name": {"old": old, "new": new}}
    assert engine.stats().checked_out == 0


async def test_concurrent_add_message_calls_all_land(engine: DatabaseEngine) -> None:
    writers = 20
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data())
        conversation = await ConversationRepository(session).create(conversation_data(project.id))
    assert conversation.messages == []

    go = anyio.Event()

    async def writer(index: int) -> None:
        async with engine.session() as session:
            await go.wait()  # the first sessions to get a connection append together
            await ConversationRepository(session).add_message(
                conversation.id, {"role": "user", "content": f"message {index}"}
            )

    async with anyio.create_task_group() as tg:
        for index in range(writers):
            tg.start_soon(writer, index)
        go.set()

    async with engine.session() as session:
        first = await ConversationRepository(session).get_by_id(conversation.id)
    async with engine.session() as session:
        conversations = ConversationRepository(session)
        second = await conversations.get_by_id(conversation.id)
        listed = await conversations.list(id=conversation.id)
        history = await conversations.history(conversation.id)
    assert first is not None
    assert second is not None
    contents = [message.content for message in first.messages]
    assert len(contents) == writers
    assert Counter(contents) == Counter(f"message {index}" for index in range(writers))
    assert first.version == 1 + writers
    assert [m.content for m in second.messages] == contents  # a stable order
    assert [m.content for m in listed[0].messages] == contents
    assert [entry.action for entry in history] == ["create"] + ["update"] * writers
    # Each append is audited with the message count before and after it: 0->1, ..., 19->20.
    assert [entry.changes for entry in history[1:]] == [
        {"messages": {"old": n, "new": n + 1}} for n in range(writers)
    ]


async def test_concurrent_record_access_counts_every_read(engine: DatabaseEngine) -> None:
    readers = 15
    async with engine.session() as session:
        project = await ProjectRepository(session).create(project_data())
        document = await DocumentRepository(session).create(document_data(project.id))
    assert document.access_count == 0

    go = anyio.Event()
    counts: list[int] = []

    async def reader() -> None:
        async with engine.session() as session:
            await go.wait()
            seen = await DocumentRepository(session).record_access(document.id)
            counts.append(seen.access_count)

    async with anyio.create_task_group() as tg:
        for _ in range(readers):
            tg.start_soon(reader)
        go.set()

    async with engine.session() as session:
        documents = DocumentRepository(session)
        final = await documents.get_by_id(document.id)
        history = await documents.history(document.id)
    assert final is not None
    assert final.access_count == readers
    # Every call saw its own increment: the counts returned are 1..15, each once.
    assert sorted(counts) == list(range(1, readers + 1))
    assert final.last_accessed_at is not None
    # Not a content change: no version bump, no audit entry.
    assert final.version == document.version == 1
    assert final.model_copy(update={"access_count": 0, "last_accessed_at": None}) == document
    assert [entry.action for entry in history] == ["create"]


async def test_concurrent_creates_get_distinct_ids(engine: DatabaseEngine) -> None:
    workers, per_worker = 8, 10
    ids_by_worker: dict[int, list[int]] = {}

    async def worker(number: int) -> None:
        async with engine.session() as session:
            projects = ProjectRepository(session)
            ids_by_worker[number] = [
                (await projects.create(project_data(name=f"worker {number} project {n}"))).id
                for n in range(per_worker)
            ]

    async with anyio.create_task_group() as tg:
        for number in range(workers):
            tg.start_soon(worker, number)

    all_ids = [id for ids in ids_by_worker.values() for id in ids]
    assert len(all_ids) == workers * per_worker
    assert len(set(all_ids)) == workers * per_worker
    for ids in ids_by_worker.values():
        assert ids == sorted(ids)  # one session's creates come out in order

    async with engine.session() as session:
        projects = ProjectRepository(session)
        assert await projects.count() == workers * per_worker
        stored = await projects.list(limit=1000)
    assert {p.id for p in stored} == set(all_ids)
    assert {p.name for p in stored} == {
        f"worker {w} project {n}" for w in range(workers) for n in range(per_worker)
    }
    assert await _audit_actions(engine) == Counter({"create": workers * per_worker})
    assert engine.stats().checked_out == 0
