"""Analytics over all entities: one trip to the database per method.

The SQL lives in ``sql/analytics/*.sql``, one commented file per question; this
module validates arguments, runs the query in one worker-thread hop and maps
its single result row to a model (one function per model, below).
Soft-deleted rows never count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from ..core import statements as sql
from ..core.runner import Row, StatementRunner
from ..core.session import Session
from ..core.statements import Statement
from ..errors import InvalidQueryError, NotFoundError
from ..schemas.analytics import (
    GRANULARITIES,
    METRICS,
    ConversationFlowMetrics,
    CrossEntityMetrics,
    DocumentAccess,
    DocumentUsageStats,
    PhaseTransition,
    ProjectActivity,
    ProjectMetrics,
    RepositoryHealth,
    RepositoryHealthMetrics,
    TimeSeriesData,
    TimeSeriesPoint,
)
from ..schemas.common import to_utc

__all__ = ["AnalyticsRepository", "DateRange", "compute_summaries"]

DateRange = tuple[datetime | None, datetime | None]
ResultT = TypeVar("ResultT", bound=BaseModel)


def _utc(value: datetime | None, label: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidQueryError(f"date_range {label} must be a datetime or None, not {value!r}")
    return to_utc(value)


def check_date_range(date_range: DateRange | None) -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` in UTC (naive taken as UTC), or a clear InvalidQueryError."""
    if date_range is None:
        return None, None
    if not isinstance(date_range, Sequence) or isinstance(date_range, str) or len(date_range) != 2:
        raise InvalidQueryError(f"date_range must be a (start, end) pair, not {date_range!r}")
    start, end = _utc(date_range[0], "start"), _utc(date_range[1], "end")
    if start is not None and end is not None and end < start:
        raise InvalidQueryError(f"date_range end {end} is before its start {start}")
    return start, end


def _counts(items: list[dict[str, Any]] | None, key: str) -> dict[str, int]:
    return {str(item[key]): int(item["n"]) for item in items or []}


def _microseconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(microseconds=float(value))


def complexity_key(raw: str | None) -> str:
    """The distribution key of one stored complexity_score (JSON text): a whole
    number's integer text ('7' for 7 or 7.0), else 'unknown'."""
    if raw is None:
        return "unknown"
    value = json.loads(raw)
    if isinstance(value, bool):
        return "unknown"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return "unknown"


def _complexity(items: list[dict[str, Any]] | None) -> dict[str, int]:
    distribution: dict[str, int] = {}
    for item in items or []:
        key = complexity_key(item["raw"])
        distribution[key] = distribution.get(key, 0) + int(item["n"])
    return dict(sorted(distribution.items()))


# -- one function per result model ------------------------------------------------


def project_metrics_from(row: Row) -> ProjectMetrics:
    return ProjectMetrics(
        total_projects=row["total_projects"],
        active_projects=row["active_projects"],
        completed_projects=row["completed_projects"],
        average_completion_time=_microseconds(row["avg_completion_us"]),
        project_by_status=_counts(row["by_status"], "status"),
        complexity_distribution=_complexity(row["complexity"]),
        top_frameworks=[(item["framework"], int(item["n"])) for item in row["frameworks"] or []],
    )


def conversation_flow_from(row: Row) -> ConversationFlowMetrics:
    return ConversationFlowMetrics(
        total_conversations=row["total_conversations"],
        conversations_by_phase=_counts(row["by_phase"], "phase"),
        messages_by_role=_counts(row["by_role"], "role"),
        avg_messages_per_conversation=row["avg_messages"],
        median_messages_per_conversation=row["median_messages"],
        median_response_time=_microseconds(row["median_response_us"]),
        phase_transitions=[
            PhaseTransition(from_phase=t["from_phase"], to_phase=t["to_phase"], count=t["n"])
            for t in row["transitions"] or []
        ],
        bottleneck_phase=row["bottleneck_phase"],
    )


def time_series_points(rows: list[Row]) -> list[TimeSeriesPoint]:
    return [TimeSeriesPoint(bucket=row["bucket"], value=int(row["value"])) for row in rows]


def document_usage_from(row: Row, per_week: list[Row]) -> DocumentUsageStats:
    return DocumentUsageStats(
        total_documents=row["total_documents"],
        documents_by_type=_counts(row["by_type"], "doc_type"),
        total_accesses=int(row["total_accesses"]),
        never_accessed=row["never_accessed"],
        most_accessed=[DocumentAccess(**item) for item in row["most_accessed"] or []],
        created_per_week=time_series_points(per_week),
    )


def repository_health_from(row: Row) -> RepositoryHealthMetrics:
    return RepositoryHealthMetrics(
        total_repositories=row["total_repositories"],
        by_provider=_counts(row["by_provider"], "provider"),
        by_language=_counts(row["by_language"], "language"),
        stale_repositories=row["stale_repositories"],
        avg_open_issues=row["avg_open_issues"],
        health_scores=[RepositoryHealth(**item) for item in row["health_scores"] or []],
        score_distribution=_counts(row["score_bands"], "band"),
    )


def cross_entity_from(row: Row) -> CrossEntityMetrics:
    return CrossEntityMetrics(
        projects=[ProjectActivity(**item) for item in row["projects"] or []],
        projects_without_conversations=row["projects_without_conversations"],
        most_active=[ProjectActivity(**item) for item in row["most_active"] or []],
        avg_documents_per_project_by_status={
            item["status"]: float(item["avg"]) for item in row["avg_documents_by_status"] or []
        },
    )


# -- the queries, as functions of a StatementRunner (so a refresh can run them all in one hop)


def _single(db: StatementRunner, query: Statement, **params: Any) -> Row:
    row = db.one(query, **params)
    assert row is not None  # aggregate queries always return one row
    return row


def compute_project_metrics(
    db: StatementRunner, start: datetime | None, end: datetime | None
) -> ProjectMetrics:
    return project_metrics_from(_single(db, sql.PROJECT_METRICS, start=start, end=end))


def compute_conversation_flow(db: StatementRunner) -> ConversationFlowMetrics:
    return conversation_flow_from(_single(db, sql.CONVERSATION_FLOW))


def compute_document_usage(db: StatementRunner) -> DocumentUsageStats:
    row = _single(db, sql.DOCUMENT_USAGE)
    per_week = db.rows(
        sql.TIME_SERIES, metric="documents_created", granularity="week", start=None, end=None
    )
    return document_usage_from(row, per_week)


def compute_repository_health(db: StatementRunner, now: datetime) -> RepositoryHealthMetrics:
    return repository_health_from(_single(db, sql.REPOSITORY_HEALTH, now=now))


def compute_cross_entity(db: StatementRunner, now: datetime) -> CrossEntityMetrics:
    return cross_entity_from(_single(db, sql.CROSS_ENTITY, now=now))


#: Stored summaries: name -> (result model, how to compute it at refresh time).
SUMMARIES: dict[str, tuple[type[BaseModel], Callable[[StatementRunner, datetime], BaseModel]]] = {
    "project_metrics": (ProjectMetrics, lambda db, now: compute_project_metrics(db, None, None)),
    "conversation_flow": (ConversationFlowMetrics, lambda db, now: compute_conversation_flow(db)),
    "document_usage": (DocumentUsageStats, lambda db, now: compute_document_usage(db)),
    "repository_health": (RepositoryHealthMetrics, compute_repository_health),
    "cross_entity": (CrossEntityMetrics, compute_cross_entity),
}


def compute_summaries(db: StatementRunner, now: datetime) -> list[str]:
    """Recompute and store every summary (inside the caller's transaction)."""
    db.run(sql.CLEAR_ANALYTICS_SUMMARIES)
    for name, (_, compute) in SUMMARIES.items():
        db.run(sql.STORE_ANALYTICS_SUMMARY, name=name, payload=compute(db, now).model_dump_json())
    return list(SUMMARIES)


def _now(now: datetime | None) -> datetime:
    checked = _utc(now, "now") if now is not None else None
    return checked if checked is not None else datetime.now(UTC)


class AnalyticsRepository:
    """Read-only analytics over projects, conversations, documents and
    repositories. Each method is one trip to the database; ``use_summary=True``
    reads the result stored by ``BulkOperations.bulk_analytics_refresh``
    instead (its ``summary_built_at`` says when it was built)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def project_metrics(
        self, date_range: DateRange | None = None, *, use_summary: bool = False
    ) -> ProjectMetrics:
        """Counts by status, mean time to completion, complexity and framework
        mix of live projects created in ``[start, end)``."""
        start, end = check_date_range(date_range)
        if use_summary:
            if date_range is not None:
                raise InvalidQueryError(
                    "the stored summary covers all projects; drop date_range or use_summary"
                )
            return await self._summary("project_metrics", ProjectMetrics)
        return await self._run(lambda db: compute_project_metrics(db, start, end))

    async def conversation_flow_analysis(
        self, *, use_summary: bool = False
    ) -> ConversationFlowMetrics:
        """Phases, message counts, assistant response time, phase transitions
        from the audit trail, and the bottleneck phase."""
        if use_summary:
            return await self._summary("conversation_flow", ConversationFlowMetrics)
        return await self._run(compute_conversation_flow)

    async def document_usage_stats(self, *, use_summary: bool = False) -> DocumentUsageStats:
        """Document counts by type, reads, the most read, and creations per week."""
        if use_summary:
            return await self._summary("document_usage", DocumentUsageStats)
        return await self._run(compute_document_usage)

    async def repository_health_metrics(
        self, *, use_summary: bool = False, now: datetime | None = None
    ) -> RepositoryHealthMetrics:
        """Providers, languages, staleness and health scores (formula in
        ``sql/analytics/repository_health.sql``) as of ``now`` (default: now)."""
        if use_summary:
            return await self._summary("repository_health", RepositoryHealthMetrics)
        moment = _now(now)
        return await self._run(lambda db: compute_repository_health(db, moment))

    async def cross_entity_analytics(
        self, *, use_summary: bool = False, now: datetime | None = None
    ) -> CrossEntityMetrics:
        """Per-project counts of conversations, documents, repositories and
        messages; the busiest projects of the 30 days before ``now``."""
        if use_summary:
            return await self._summary("cross_entity", CrossEntityMetrics)
        moment = _now(now)
        return await self._run(lambda db: compute_cross_entity(db, moment))

    async def time_series_analysis(
        self, metric: str, granularity: str = "day", date_range: DateRange | None = None
    ) -> TimeSeriesData:
        """Events per hour/day/week/month (UTC, weeks from Monday), every bucket
        of the range present; with no range, from the first to the last event."""
        if metric not in METRICS:
            raise InvalidQueryError(f"metric {metric!r} is not one of: {', '.join(METRICS)}")
        if granularity not in GRANULARITIES:
            raise InvalidQueryError(
                f"granularity {granularity!r} is not one of: {', '.join(GRANULARITIES)}"
            )
        start, end = check_date_range(date_range)

        def work(db: StatementRunner) -> TimeSeriesData:
            rows = db.rows(
                sql.TIME_SERIES, metric=metric, granularity=granularity, start=start, end=end
            )
            return TimeSeriesData(
                metric=metric,
                granularity=granularity,
                points=time_series_points(rows),
            )

        return await self._run(work)

    async def _run(self, work: Callable[[StatementRunner], ResultT]) -> ResultT:
        return await self.session.run_in_worker(work, entity="analytics")

    async def _summary(self, name: str, model: type[ResultT]) -> ResultT:
        def work(db: StatementRunner) -> ResultT:
            row = db.one(sql.GET_ANALYTICS_SUMMARY, name=name)
            if row is None:
                raise NotFoundError(
                    "analytics summary",
                    name,
                    "none has been built yet; run BulkOperations.bulk_analytics_refresh(session)",
                )
            result = model.model_validate_json(row["payload"])
            return result.model_copy(update={"summary_built_at": row["built_at"]})

        return await self._run(work)
