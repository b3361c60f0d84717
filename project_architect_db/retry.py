"""Re-running read-modify-write work that lost an optimistic-locking race."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from .errors import ConflictError

__all__ = ["retry_on_conflict"]

T = TypeVar("T")


async def retry_on_conflict(
    operation: Callable[[], Awaitable[T]],
    *,
    attempts: int = 10,
    backoff: float = 0.005,
    max_backoff: float = 0.25,
) -> T:
    """Await ``operation()``; when it raises :class:`ConflictError`, wait and
    call it again, up to ``attempts`` calls in all. Its result, or the last
    ``ConflictError`` once every attempt has lost.

    ``operation`` must do the whole read-modify-write itself (open its session
    or transaction, read the row, write with ``expected_version``), so each
    attempt starts from fresh data::

        async def rename() -> Project:
            async with engine.transaction() as session:
                projects = ProjectRepository(session)
                project = await projects.get_by_id(project_id)
                return await projects.update(
                    project_id, {"name": project.name + "!"}, expected_version=project.version
                )

        renamed = await retry_on_conflict(rename)

    Waits grow from ``backoff`` seconds, doubling up to ``max_backoff``, each
    with random jitter so that tasks that collided do not collide again in step.
    Other exceptions, and cancellation, pass through at once.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    if backoff < 0 or max_backoff < 0:
        raise ValueError("backoff and max_backoff must be zero or more seconds")
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except ConflictError:
            if attempt == attempts:
                raise
        delay = min(max_backoff, backoff * 2 ** (attempt - 1))
        await anyio.sleep(random.uniform(0, delay))
    raise AssertionError("unreachable")  # pragma: no cover
