"""Results of the analytics queries (``AnalyticsRepository``).

Every result has ``summary_built_at``: None when computed from live data, or
when the stored summary it was read from was built (``use_summary=True``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "GRANULARITIES",
    "METRICS",
    "ConversationFlowMetrics",
    "CrossEntityMetrics",
    "DocumentAccess",
    "DocumentUsageStats",
    "Granularity",
    "Metric",
    "PhaseTransition",
    "ProjectActivity",
    "ProjectMetrics",
    "RepositoryHealth",
    "RepositoryHealthMetrics",
    "TimeSeriesData",
    "TimeSeriesPoint",
]

Metric = Literal[
    "projects_created",
    "projects_completed",
    "conversations_started",
    "messages",
    "documents_created",
    "repositories_added",
]
METRICS: tuple[str, ...] = Metric.__args__  # type: ignore[attr-defined]
Granularity = Literal["hour", "day", "week", "month"]
GRANULARITIES: tuple[str, ...] = Granularity.__args__  # type: ignore[attr-defined]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    summary_built_at: datetime | None = None


class TimeSeriesPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: datetime
    value: int | float


class TimeSeriesData(_Result):
    metric: Metric
    granularity: Granularity
    points: list[TimeSeriesPoint] = Field(default_factory=list)


class ProjectMetrics(_Result):
    total_projects: int
    active_projects: int
    completed_projects: int
    average_completion_time: timedelta | None = None
    project_by_status: dict[str, int] = Field(default_factory=dict)
    complexity_distribution: dict[str, int] = Field(default_factory=dict)
    top_frameworks: list[tuple[str, int]] = Field(default_factory=list)


class PhaseTransition(BaseModel):
    model_config = ConfigDict(frozen=True)

    from_phase: str
    to_phase: str
    count: int


class ConversationFlowMetrics(_Result):
    total_conversations: int
    conversations_by_phase: dict[str, int] = Field(default_factory=dict)
    messages_by_role: dict[str, int] = Field(default_factory=dict)
    avg_messages_per_conversation: float | None = None
    median_messages_per_conversation: float | None = None
    median_response_time: timedelta | None = None
    phase_transitions: list[PhaseTransition] = Field(default_factory=list)
    bottleneck_phase: str | None = None


class DocumentAccess(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    title: str
    access_count: int


class DocumentUsageStats(_Result):
    total_documents: int
    documents_by_type: dict[str, int] = Field(default_factory=dict)
    total_accesses: int
    never_accessed: int
    most_accessed: list[DocumentAccess] = Field(default_factory=list)
    created_per_week: list[TimeSeriesPoint] = Field(default_factory=list)


class RepositoryHealth(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    score: float = Field(ge=0, le=100)


class RepositoryHealthMetrics(_Result):
    total_repositories: int
    by_provider: dict[str, int] = Field(default_factory=dict)
    by_language: dict[str, int] = Field(default_factory=dict)
    stale_repositories: int
    avg_open_issues: float | None = None
    health_scores: list[RepositoryHealth] = Field(default_factory=list)
    score_distribution: dict[str, int] = Field(default_factory=dict)


class ProjectActivity(BaseModel):
    model_config = ConfigDict(frozen=True)

    project_id: int
    name: str
    conversations: int
    documents: int
    repositories: int
    messages: int


class CrossEntityMetrics(_Result):
    projects: list[ProjectActivity] = Field(default_factory=list)
    projects_without_conversations: int
    most_active: list[ProjectActivity] = Field(default_factory=list)
    avg_documents_per_project_by_status: dict[str, float] = Field(default_factory=dict)
