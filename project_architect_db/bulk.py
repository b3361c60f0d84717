"""Set-based operations over many rows at once."""

from __future__ import annotations

from datetime import UTC, datetime

from .core.runner import StatementRunner
from .core.session import Session
from .repositories.analytics import compute_summaries

__all__ = ["BulkOperations"]


class BulkOperations:
    """Bulk work that spans entities. Every method takes the session to run on."""

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
