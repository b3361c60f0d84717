"""One writing process of tests/postgres/test_processes.py (run as a script).

    python writer_process.py URL WORKER OPERATIONS SEED BACKEND

Makes OPERATIONS writes on the shared database, mixing optimistic updates of
the shared projects, messages appended to the shared conversations and small
bulk loads, and prints one JSON line per write the library reported (flushed
at once): ``{"op": ..., "ok": true, ...}`` for a committed write, ``{"op": ...,
"ok": false, "error": "ConflictError"}`` for a refused one. With OPERATIONS 0
it creates projects until killed, printing each committed id.
"""

from __future__ import annotations

import json
import random
import sys

import anyio

from project_architect_db import (
    ConflictError,
    ConversationRepository,
    DatabaseEngine,
    MessageCreate,
    ProjectCreate,
    ProjectRepository,
    ProjectUpdate,
)


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def mixed(url: str, worker: int, operations: int, seed: int) -> None:
    chance = random.Random(seed)
    async with (
        DatabaseEngine(url, pool_size=2, max_overflow=0) as engine,
        engine.session() as session,
    ):
        projects = ProjectRepository(session)
        conversations = ConversationRepository(session)
        shared = [p.id for p in await projects.list(order_by=["id"], limit=5)]
        talks = [c.id for c in await conversations.list(order_by=["id"], limit=3)]
        for step in range(operations):
            kind = chance.choice(["update", "update", "message", "bulk"])
            try:
                if kind == "update":
                    id = chance.choice(shared)
                    current = await projects.get_by_id(id)
                    assert current is not None
                    updated = await projects.update(
                        id,
                        ProjectUpdate(description=f"worker {worker} step {step}"),
                        expected_version=current.version,
                    )
                    say(op="update", ok=True, id=id, version=updated.version)
                elif kind == "message":
                    id = chance.choice(talks)
                    message = await conversations.append_message(
                        id, MessageCreate(role="user", content=f"w{worker} s{step}")
                    )
                    say(op="message", ok=True, id=id, position=message.position)
                else:
                    made = await projects.bulk_create(
                        [
                            ProjectCreate(
                                name=f"bulk w{worker} s{step} n{n}",
                                project_idea=f"loaded in bulk by worker {worker} zebra{worker}",
                            )
                            for n in range(20)
                        ]
                    )
                    say(op="bulk", ok=True, ids=[p.id for p in made])
            except ConflictError:
                say(op=kind, ok=False, error="ConflictError")
            except Exception as exc:  # reported, so the test can fail on it
                say(op=kind, ok=False, error=f"{type(exc).__name__}: {exc}")


async def forever(url: str, worker: int) -> None:
    async with (
        DatabaseEngine(url, pool_size=1, max_overflow=0) as engine,
        engine.session() as session,
    ):
        projects = ProjectRepository(session)
        step = 0
        while True:
            created = await projects.create(
                ProjectCreate(name=f"kill w{worker} s{step}", project_idea="written until killed")
            )
            say(op="create", ok=True, id=created.id)
            step += 1


def main() -> None:
    url, worker, operations, seed = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    backend = sys.argv[5]
    if operations:
        anyio.run(mixed, url, worker, operations, seed, backend=backend)
    else:
        anyio.run(forever, url, worker, backend=backend)


if __name__ == "__main__":
    main()
