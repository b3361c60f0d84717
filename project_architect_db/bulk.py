"""Set-based operations over many rows at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .core.runner import StatementRunner
from .core.session import Session
from .repositories.analytics import compute_summaries
from .repositories.project import ProjectRepository
from .repositories.values import choice
from .schemas.project import ProjectCreate, ProjectStatus

__all__ = ["BulkOperations"]


class BulkOperations:
    """Bulk work that spans entities. Every method takes the session to run on."""

    @staticmethod
    async def bulk_insert_projects(
        session: Session, projects: Sequence[Mapping[str, Any] | ProjectCreate]
    ) -> int:
        """Validate and insert many projects through Arrow, with their audit
        entries and search terms, in one transaction (all or nothing); how many
        were written. ``ProjectRepository.bulk_create`` returns the rows too."""
        return await ProjectRepository(session).bulk_create(projects, returning=False)

    @staticmethod
    async def bulk_update_status(
        session: Session, project_ids: Sequence[int], status: ProjectStatus | str
    ) -> int:
        """Set the status of many live projects with one set-based UPDATE,
        audited, keeping ``completed_at`` right; how many changed. Unknown or
        deleted ids raise ``NotFoundError`` and nothing changes."""
        value = choice(ProjectStatus, status, "status")
        updates = [{"id": id, "status": value} for id in project_ids]
        return await ProjectRepository(session).bulk_update(updates)

    @staticmethod
    async def bulk_analytics_refresh(session: Session) -> datetime:
        """Recompute every analytics summary and store them in one transaction
        (DuckDB has no materialized views), so ``AnalyticsRepository`` methods
        called with ``use_summary=True`` answer in microseconds. Returns the
        moment the summaries describe."""
        now = datetime.now(UTC)

        def work(db: StatementRunner) -> datetime:
            with db.atomic():
                compute_summaries(db, now)
            return now

        return await session.run_in_worker(work, entity="analytics")
