"""A writer process for tests/reliability/test_rel_crash.py, killed with SIGKILL.

Usage: ``python crash_writer.py DB_PATH SEED``. The process imports the library,
prints ``{"op": "loaded"}`` and waits for a ``go`` line on stdin (so the parent
can start it while the database is still in use elsewhere; EOF means exit).
Then it opens a DatabaseEngine on DB_PATH, prints ``{"op": "ready"}`` and writes
until it is killed. After each library call returns it prints one JSON line
saying what that call committed:

- ``{"op": "create", "id", "version", "description"}``: a project created;
- ``{"op": "update", "id", "version", "description"}``: a project updated with
  ``expected_version``;
- ``{"op": "conversation", "id", "version"}``: a conversation created;
- ``{"op": "message", "id", "version", "count", "content"}``: ``add_message``
  made ``count`` messages, the last one ``content``;
- ``{"op": "bulk", "marker", "n", "ids"}``: ``bulk_create`` of ``n`` projects,
  each with ``description == marker`` (the marker ends in ``:n<n>``).

Invariants the parent checks on every project this writer touches outside a
bulk load: ``description`` ends in ``:v<version>`` and
``architecture["version"] == version``.

Odd seeds run on trio, even ones on asyncio; seeds with bit 1 set make DuckDB
checkpoint after every few writes (``checkpoint_threshold``), so that some kills
land in a checkpoint rather than in a write-ahead-log append.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import anyio

from project_architect_db import ConversationRepository, DatabaseEngine, ProjectRepository

IDEA = "Survive a writer process killed at any moment"


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def write_until_killed(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    async with DatabaseEngine(path, pool_size=1, max_overflow=0) as engine:
        if seed & 2:
            await engine.execute_raw("SET GLOBAL checkpoint_threshold = '32KB'")
        # Rows of earlier (killed) writers are updated too, not only this one's.
        singles = [
            int(row["id"])
            for row in await engine.execute_raw(
                "SELECT id FROM projects WHERE description LIKE 'single:%' ORDER BY id"
            )
        ]
        conversations = [
            int(row["id"])
            for row in await engine.execute_raw("SELECT id FROM conversations ORDER BY id")
        ]
        emit({"op": "ready"})
        async with engine.session() as session:
            projects = ProjectRepository(session)
            talks = ConversationRepository(session)
            step = 0
            while True:
                step += 1
                roll = rng.random()
                if roll < 0.15:
                    n = rng.randint(200, 500)
                    marker = f"bulk:s{seed}:k{step}:n{n}"
                    created = await projects.bulk_create(
                        [
                            {
                                "name": f"bulk s{seed} k{step} item {i}",
                                "project_idea": IDEA,
                                "description": marker,
                            }
                            for i in range(n)
                        ]
                    )
                    emit({"op": "bulk", "marker": marker, "n": n, "ids": [p.id for p in created]})
                elif roll < 0.4 or not singles:
                    project = await projects.create(
                        {
                            "name": f"single s{seed} k{step}",
                            "project_idea": IDEA,
                            "description": "single:new:v1",
                            "architecture": {"version": 1, "seed": seed},
                        }
                    )
                    singles.append(project.id)
                    emit(
                        {
                            "op": "create",
                            "id": project.id,
                            "version": project.version,
                            "description": project.description,
                        }
                    )
                elif roll < 0.7:
                    project_id = rng.choice(singles)
                    current = await projects.get_by_id(project_id)
                    assert current is not None
                    new_version = current.version + 1
                    project = await projects.update(
                        project_id,
                        {
                            "description": f"single:s{seed}:k{step}:v{new_version}",
                            "architecture": {"version": new_version, "seed": seed},
                        },
                        expected_version=current.version,
                    )
                    emit(
                        {
                            "op": "update",
                            "id": project.id,
                            "version": project.version,
                            "description": project.description,
                        }
                    )
                elif roll < 0.75 or not conversations:
                    conversation = await talks.create(
                        {"project_id": rng.choice(singles), "title": f"s{seed} k{step}"}
                    )
                    conversations.append(conversation.id)
                    emit(
                        {
                            "op": "conversation",
                            "id": conversation.id,
                            "version": conversation.version,
                        }
                    )
                else:
                    content = f"s{seed} k{step}"
                    conversation = await talks.add_message(
                        rng.choice(conversations), {"role": "user", "content": content}
                    )
                    emit(
                        {
                            "op": "message",
                            "id": conversation.id,
                            "version": conversation.version,
                            "count": len(conversation.messages),
                            "content": content,
                        }
                    )


def main() -> None:
    path, seed = Path(sys.argv[1]), int(sys.argv[2])
    emit({"op": "loaded"})
    if sys.stdin.readline().strip() != "go":
        return
    anyio.run(write_until_killed, path, seed, backend="trio" if seed % 2 else "asyncio")


if __name__ == "__main__":
    main()
