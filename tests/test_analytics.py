"""Analytics: every ``AnalyticsRepository`` method (and the two repository
shortcuts to it) against a plain-Python reading of the contract written at the
top of each ``sql/analytics/*.sql`` file.

Each method is checked on a fixed dataset whose results are worked out by hand
below, and on hypothesis-generated datasets against the Python oracle (the
``expected_*`` functions), which is itself checked against the hand-worked
numbers of the fixed dataset. Datasets are built through the public API; the
timestamps the database sets (created_at, completed_at and the audit entries'
"at") are then moved to chosen moments with raw SQL. Every dataset holds
soft-deleted rows, which must never count.

Floats are compared within 1e-9 relative; durations within 1e-9 relative or one
microsecond (the resolution of ``timedelta``).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import (
    GRANULARITIES,
    METRICS,
    PortalEngine,
    conversation_data,
    document_data,
    project_data,
    repository_data,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from project_architect_db import (
    AnalyticsRepository,
    BulkOperations,
    ConversationFlowMetrics,
    ConversationPhase,
    ConversationRepository,
    CrossEntityMetrics,
    DatabaseEngine,
    DocumentAccess,
    DocumentRepository,
    DocumentType,
    DocumentUsageStats,
    InvalidQueryError,
    MessageRole,
    NotFoundError,
    PhaseTransition,
    ProjectActivity,
    ProjectMetrics,
    ProjectRepository,
    ProjectStatus,
    RepositoryHealth,
    RepositoryHealthMetrics,
    RepositoryProvider,
    RepositoryRepository,
    Session,
    TimeSeriesData,
    TimeSeriesPoint,
)

Row = dict[str, Any]

STATUSES = [s.value for s in ProjectStatus]
PHASES = [p.value for p in ConversationPhase]
ROLES = [r.value for r in MessageRole]
DOC_TYPES = [t.value for t in DocumentType]
PROVIDERS = [p.value for p in RepositoryProvider]
BIGINT_MAX = 2**63 - 1

PROPERTY = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def utc(text: str) -> datetime:
    """An ISO date or time, in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- datasets, built through the public API -------------------------------------------


@dataclass
class ProjectSpec:
    name: str
    status: str
    created: datetime
    architecture: dict[str, Any] | None = None
    #: A status to move to with ``update`` after creating it.
    new_status: str | None = None
    #: completed_at - created_at, if the project ends up completed.
    completion: timedelta = timedelta(hours=1)
    deleted: bool = False


@dataclass
class ConversationSpec:
    project: int  # index into World.projects
    created: datetime
    phase: str = "discovery"
    messages: list[tuple[str, datetime]] = field(default_factory=list)
    #: How many of the last messages are appended with add_message (the rest
    #: come with the create).
    appended: int = 0
    #: Updates in order: a phase (None: a title-only update) and how long after
    #: the previous step (or the creation) it happens.
    steps: list[tuple[str | None, timedelta]] = field(default_factory=list)
    deleted: bool = False
    hard_deleted: bool = False


@dataclass
class DocumentSpec:
    project: int
    title: str
    doc_type: str
    created: datetime
    accesses: int = 0
    deleted: bool = False


@dataclass
class RepositorySpec:
    project: int
    name: str
    provider: str
    created: datetime
    language: str | None = None
    stars: int = 0
    open_issues: int = 0
    last_commit: datetime | None = None
    deleted: bool = False


@dataclass
class World:
    projects: list[ProjectSpec] = field(default_factory=list)
    conversations: list[ConversationSpec] = field(default_factory=list)
    documents: list[DocumentSpec] = field(default_factory=list)
    repositories: list[RepositorySpec] = field(default_factory=list)


@dataclass
class Built:
    """The ids of what ``build`` created, in the order of the World's lists."""

    projects: list[int]
    conversations: list[int]
    documents: list[int]
    repositories: list[int]


STAMP_LAST_AUDIT = """
UPDATE audit_log SET "at" = $at
WHERE id = (SELECT max(id) FROM audit_log WHERE entity = 'conversation' AND entity_id = $id)
"""
TABLES = (
    "audit_log",
    "search_terms",
    "analytics_summaries",
    "messages",
    "conversations",
    "documents",
    "repositories",
    "projects",
)


async def set_column(
    session: Session, table: str, column: str, row_id: int, value: datetime
) -> None:
    await session.execute(
        f"UPDATE {table} SET {column} = $value WHERE id = $id", {"value": value, "id": row_id}
    )


def message(role: str, at: datetime) -> dict[str, Any]:
    return {"role": role, "content": f"{role} at {at.isoformat()}", "created_at": at}


async def build(session: Session, world: World) -> Built:
    """Create the world through the repositories; deletions come last (children
    first, then projects, which cascade)."""
    projects = ProjectRepository(session)
    conversations = ConversationRepository(session)
    documents = DocumentRepository(session)
    repositories = RepositoryRepository(session)
    built = Built([], [], [], [])

    for p in world.projects:
        project = await projects.create(
            project_data(name=p.name, status=p.status, architecture=p.architecture)
        )
        if p.new_status is not None:
            project = await projects.update(project.id, {"status": p.new_status})
        await set_column(session, "projects", "created_at", project.id, p.created)
        if project.status is ProjectStatus.COMPLETED:
            await set_column(
                session, "projects", "completed_at", project.id, p.created + p.completion
            )
        built.projects.append(project.id)

    for c in world.conversations:
        split = len(c.messages) - c.appended
        conversation = await conversations.create(
            conversation_data(
                built.projects[c.project],
                phase=c.phase,
                messages=[message(role, at) for role, at in c.messages[:split]],
            )
        )
        await set_column(session, "conversations", "created_at", conversation.id, c.created)
        for role, at in c.messages[split:]:
            await conversations.add_message(conversation.id, message(role, at))
        moment = c.created
        for phase, delay in c.steps:
            moment += delay
            change = {"title": "Renamed"} if phase is None else {"phase": phase}
            await conversations.update(conversation.id, change)
            await session.execute(STAMP_LAST_AUDIT, {"at": moment, "id": conversation.id})
        built.conversations.append(conversation.id)

    for d in world.documents:
        document = await documents.create(
            document_data(built.projects[d.project], title=d.title, doc_type=d.doc_type)
        )
        await set_column(session, "documents", "created_at", document.id, d.created)
        for _ in range(d.accesses):
            await documents.record_access(document.id)
        built.documents.append(document.id)

    for r in world.repositories:
        repository = await repositories.create(
            repository_data(
                built.projects[r.project],
                name=r.name,
                provider=r.provider,
                primary_language=r.language,
                stars=r.stars,
                open_issues=r.open_issues,
                last_commit_at=r.last_commit,
            )
        )
        await set_column(session, "repositories", "created_at", repository.id, r.created)
        built.repositories.append(repository.id)

    for c, conversation_id in zip(world.conversations, built.conversations, strict=True):
        if c.hard_deleted:
            assert await conversations.delete(conversation_id, hard=True)
        elif c.deleted:
            assert await conversations.delete(conversation_id)
    for d, document_id in zip(world.documents, built.documents, strict=True):
        if d.deleted:
            assert await documents.delete(document_id)
    for r, repository_id in zip(world.repositories, built.repositories, strict=True):
        if r.deleted:
            assert await repositories.delete(repository_id)
    for p, project_id in zip(world.projects, built.projects, strict=True):
        if p.deleted:
            assert await projects.delete(project_id)
    return built


async def wipe(session: Session) -> None:
    """A fresh database for the next hypothesis example (ids keep counting up).
    One transaction: PostgreSQL checks its foreign keys when it commits."""
    async with session.begin():
        for table in TABLES:
            await session.execute(f"DELETE FROM {table}")


# -- reading the rows back -----------------------------------------------------------


@dataclass
class Snapshot:
    """Every stored row, deleted or not, as raw SQL reads it."""

    projects: list[Row]
    conversations: list[Row]
    documents: list[Row]
    repositories: list[Row]
    audit: list[Row]

    def live(self, table: str) -> list[Row]:
        return [row for row in getattr(self, table) if row["deleted_at"] is None]


async def read_back(session: Session) -> Snapshot:
    projects = await session.execute("SELECT * FROM projects ORDER BY id")
    for row in projects:
        if row["architecture"] is not None:
            row["architecture"] = json.loads(row["architecture"])
    audit = await session.execute("SELECT * FROM audit_log ORDER BY id")
    for row in audit:
        row["changes"] = json.loads(row["changes"])
    conversations = await session.execute("SELECT * FROM conversations ORDER BY id")
    messages = await session.execute("SELECT * FROM messages ORDER BY conversation_id, position")
    for conversation in conversations:
        conversation["messages"] = [
            m for m in messages if m["conversation_id"] == conversation["id"]
        ]
    return Snapshot(
        projects=projects,
        conversations=conversations,
        documents=await session.execute("SELECT * FROM documents ORDER BY id"),
        repositories=await session.execute("SELECT * FROM repositories ORDER BY id"),
        audit=audit,
    )


# -- the oracle: the SQL header comments, in plain Python ------------------------------


def micros(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def complexity_key(architecture: Any) -> str:
    score = architecture.get("complexity_score") if isinstance(architecture, dict) else None
    if isinstance(score, bool):
        return "unknown"
    if isinstance(score, int):
        return str(score)
    if isinstance(score, float) and score.is_integer():
        return str(int(score))
    return "unknown"


def expected_project_metrics(
    snap: Snapshot, start: datetime | None = None, end: datetime | None = None
) -> ProjectMetrics:
    start, end = as_utc(start), as_utc(end)
    scope = [
        p
        for p in snap.live("projects")
        if (start is None or p["created_at"] >= start) and (end is None or p["created_at"] < end)
    ]
    durations = [
        micros(p["completed_at"] - p["created_at"])
        for p in scope
        if p["status"] == "completed" and p["completed_at"] is not None
    ]
    frameworks = Counter(
        p["architecture"]["framework"]
        for p in scope
        if isinstance(p["architecture"], dict)
        and isinstance(p["architecture"].get("framework"), str)
    )
    return ProjectMetrics(
        total_projects=len(scope),
        active_projects=sum(p["status"] == "active" for p in scope),
        completed_projects=sum(p["status"] == "completed" for p in scope),
        average_completion_time=(
            timedelta(microseconds=sum(durations) / len(durations)) if durations else None
        ),
        project_by_status=dict(Counter(p["status"] for p in scope)),
        complexity_distribution=dict(Counter(complexity_key(p["architecture"]) for p in scope)),
        top_frameworks=sorted(frameworks.items(), key=lambda item: (-item[1], item[0]))[:10],
    )


def expected_conversation_flow(snap: Snapshot) -> ConversationFlowMetrics:
    live = snap.live("conversations")
    lengths = [len(c["messages"]) for c in live]
    responses: list[int] = []
    for c in live:
        messages = c["messages"]
        for i, asked in enumerate(messages):
            if asked["role"] != "user":
                continue
            answer = next((m for m in messages[i + 1 :] if m["role"] == "assistant"), None)
            if answer is not None:
                responses.append(micros(answer["created_at"] - asked["created_at"]))

    live_ids = {c["id"] for c in live}
    changes = [
        a
        for a in snap.audit  # in id order
        if a["entity"] == "conversation"
        and a["action"] == "update"
        and a["entity_id"] in live_ids
        and "phase" in a["changes"]
        and a["changes"]["phase"]["old"] != a["changes"]["phase"]["new"]
    ]
    transitions = Counter(
        (a["changes"]["phase"]["old"], a["changes"]["phase"]["new"]) for a in changes
    )
    entered = {c["id"]: c["created_at"] for c in live}
    time_in: dict[str, list[int]] = defaultdict(list)
    for a in changes:
        time_in[a["changes"]["phase"]["old"]].append(micros(a["at"] - entered[a["entity_id"]]))
        entered[a["entity_id"]] = a["at"]
    bottleneck = min(
        time_in, key=lambda phase: (-statistics.median(time_in[phase]), phase), default=None
    )
    return ConversationFlowMetrics(
        total_conversations=len(live),
        conversations_by_phase=dict(Counter(c["phase"] for c in live)),
        messages_by_role=dict(Counter(m["role"] for c in live for m in c["messages"])),
        avg_messages_per_conversation=sum(lengths) / len(lengths) if lengths else None,
        median_messages_per_conversation=float(statistics.median(lengths)) if lengths else None,
        median_response_time=(
            timedelta(microseconds=statistics.median(responses)) if responses else None
        ),
        phase_transitions=[
            PhaseTransition(from_phase=old, to_phase=new, count=n)
            for (old, new), n in sorted(
                transitions.items(), key=lambda item: (-item[1], item[0][0], item[0][1])
            )
        ],
        bottleneck_phase=bottleneck,
    )


def expected_document_usage(snap: Snapshot) -> DocumentUsageStats:
    live = snap.live("documents")
    read = sorted(
        (d for d in live if d["access_count"] > 0), key=lambda d: (-d["access_count"], d["id"])
    )
    return DocumentUsageStats(
        total_documents=len(live),
        documents_by_type=dict(Counter(d["doc_type"] for d in live)),
        total_accesses=sum(d["access_count"] for d in live),
        never_accessed=sum(d["access_count"] == 0 for d in live),
        most_accessed=[
            DocumentAccess(id=d["id"], title=d["title"], access_count=d["access_count"])
            for d in read[:10]
        ],
        created_per_week=expected_series(events(snap, "documents_created"), "week"),
    )


def health_score(repo: Row, now: datetime) -> float:
    last = repo["last_commit_at"]
    if last is None:
        recency = 0.0
    else:
        days = (now - last).total_seconds() / 86400.0
        recency = 50.0 if days <= 7 else 0.0 if days >= 90 else 50.0 * (90 - days) / 83
    issues = 30.0 * 10 / (10 + repo["open_issues"])
    popularity = 20.0 * min(1.0, math.log(1 + repo["stars"]) / math.log(1001))
    return float(recency + issues + popularity)


def band(score: float) -> str:
    for bound, name in ((20, "0-19"), (40, "20-39"), (60, "40-59"), (80, "60-79")):
        if score < bound:
            return name
    return "80-100"


def expected_repository_health(snap: Snapshot, when: datetime) -> RepositoryHealthMetrics:
    now = as_utc(when)
    assert now is not None
    live = snap.live("repositories")
    scores = sorted(
        ((health_score(r, now), r) for r in live), key=lambda item: (-item[0], item[1]["id"])
    )
    stale = [
        r
        for r in live
        if r["last_commit_at"] is None or r["last_commit_at"] < now - timedelta(days=30)
    ]
    return RepositoryHealthMetrics(
        total_repositories=len(live),
        by_provider=dict(Counter(r["provider"] for r in live)),
        by_language=dict(Counter(r["primary_language"] or "unknown" for r in live)),
        stale_repositories=len(stale),
        avg_open_issues=sum(r["open_issues"] for r in live) / len(live) if live else None,
        health_scores=[RepositoryHealth(id=r["id"], name=r["name"], score=s) for s, r in scores],
        score_distribution=dict(Counter(band(s) for s, _ in scores)),
    )


def expected_cross_entity(snap: Snapshot, when: datetime) -> CrossEntityMetrics:
    now = as_utc(when)
    assert now is not None
    since = now - timedelta(days=30)
    activity: list[tuple[ProjectActivity, int, str]] = []
    for p in sorted(snap.live("projects"), key=lambda p: p["id"]):
        talk = [c for c in snap.live("conversations") if c["project_id"] == p["id"]]
        entry = ProjectActivity(
            project_id=p["id"],
            name=p["name"],
            conversations=len(talk),
            documents=sum(d["project_id"] == p["id"] for d in snap.live("documents")),
            repositories=sum(r["project_id"] == p["id"] for r in snap.live("repositories")),
            messages=sum(len(c["messages"]) for c in talk),
        )
        recent = sum(since <= m["created_at"] <= now for c in talk for m in c["messages"])
        activity.append((entry, recent, p["status"]))
    busiest = sorted(
        (item for item in activity if item[1] > 0), key=lambda item: (-item[1], item[0].project_id)
    )
    documents_by_status: dict[str, list[int]] = defaultdict(list)
    for entry, _, status in activity:
        documents_by_status[status].append(entry.documents)
    return CrossEntityMetrics(
        projects=[entry for entry, _, _ in activity],
        projects_without_conversations=sum(entry.conversations == 0 for entry, _, _ in activity),
        most_active=[entry for entry, _, _ in busiest[:10]],
        avg_documents_per_project_by_status={
            status: sum(counts) / len(counts) for status, counts in documents_by_status.items()
        },
    )


def events(snap: Snapshot, metric: str) -> list[datetime]:
    """The moments the metric counts (soft-deleted rows never count)."""
    if metric == "projects_created":
        return [p["created_at"] for p in snap.live("projects")]
    if metric == "projects_completed":
        return [p["completed_at"] for p in snap.live("projects") if p["completed_at"] is not None]
    if metric == "conversations_started":
        return [c["created_at"] for c in snap.live("conversations")]
    if metric == "messages":
        return [m["created_at"] for c in snap.live("conversations") for m in c["messages"]]
    if metric == "documents_created":
        return [d["created_at"] for d in snap.live("documents")]
    assert metric == "repositories_added"
    return [r["created_at"] for r in snap.live("repositories")]


def truncate(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC)
    if granularity == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())  # Monday
    assert granularity == "month"
    return day.replace(day=1)


def next_bucket(bucket: datetime, granularity: str) -> datetime:
    if granularity == "month":
        year, month = divmod(bucket.month, 12)
        return bucket.replace(year=bucket.year + year, month=month + 1)
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
    return bucket + step[granularity]


def filled(
    first: datetime, last: datetime, granularity: str, counts: dict[datetime, int]
) -> list[TimeSeriesPoint]:
    points = []
    bucket = first
    while bucket <= last:
        points.append(TimeSeriesPoint(bucket=bucket, value=counts.get(bucket, 0)))
        bucket = next_bucket(bucket, granularity)
    return points


def expected_series(
    moments: list[datetime],
    granularity: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[TimeSeriesPoint]:
    """Buckets of the UTC range [start, end) (an open side: the first or last
    event in range), every one present; an empty range has none."""
    start, end = as_utc(start), as_utc(end)
    if start is not None and end is not None and start >= end:
        return []
    chosen = [m for m in moments if (start is None or m >= start) and (end is None or m < end)]
    if (start is None or end is None) and not chosen:
        return []
    first = truncate(start if start is not None else min(chosen), granularity)
    last = truncate(
        end - timedelta(microseconds=1) if end is not None else max(chosen), granularity
    )
    return filled(first, last, granularity, Counter(truncate(m, granularity) for m in chosen))


def expected_time_series(
    snap: Snapshot,
    metric: str,
    granularity: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> TimeSeriesData:
    return TimeSeriesData(
        metric=metric,
        granularity=granularity,
        points=expected_series(events(snap, metric), granularity, start, end),
    )


# -- comparing results ---------------------------------------------------------------


def assert_matches(actual: Any, expected: Any, where: str = "result") -> None:
    """Field by field: exact, but floats within 1e-9 relative and durations
    within 1e-9 relative or 1 µs."""
    if isinstance(expected, BaseModel):
        assert type(actual) is type(expected), f"{where}: {type(actual)} is not {type(expected)}"
        for name in type(expected).model_fields:
            assert_matches(getattr(actual, name), getattr(expected, name), f"{where}.{name}")
    elif expected is None or isinstance(expected, bool | str | datetime):
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
        if isinstance(expected, datetime):
            assert actual.tzinfo is not None, f"{where}: {actual!r} is naive"
    elif isinstance(expected, int):
        assert type(actual) is int, f"{where}: {actual!r} is not an int"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, float):
        assert isinstance(actual, float), f"{where}: {actual!r} is not a float"
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), (
            f"{where}: {actual!r} != {expected!r}"
        )
    elif isinstance(expected, timedelta):
        assert isinstance(actual, timedelta), f"{where}: {actual!r} is not a timedelta"
        error = abs((actual - expected).total_seconds())
        assert error <= max(1e-9 * abs(expected.total_seconds()), 1e-6), (
            f"{where}: {actual!r} != {expected!r}"
        )
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not a dict"
        assert actual.keys() == expected.keys(), f"{where}: {actual!r} != {expected!r}"
        for key, value in expected.items():
            assert_matches(actual[key], value, f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert type(actual) is type(expected), f"{where}: {actual!r} != {expected!r}"
        assert len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_matches(a, e, f"{where}[{i}]")
    else:
        raise AssertionError(f"{where}: no rule to compare {expected!r}")


def without_built_at(result: BaseModel) -> dict[str, Any]:
    return result.model_dump(exclude={"summary_built_at"})


# -- the fixed dataset -----------------------------------------------------------------

#: The moment repository health is measured at, and the one for cross-entity activity.
HEALTH_NOW = utc("2024-04-01 12:00")
ACTIVITY_NOW = utc("2024-04-05 00:00")

FIXED = World(
    projects=[
        # P1: created completed, then moved back to active (completed_at cleared).
        ProjectSpec(
            "Atlas",
            "completed",
            utc("2024-03-04 09:00"),
            {"framework": "FastAPI", "complexity_score": 7},
            new_status="active",
        ),
        # P2: completed by an update, two days after creation.
        ProjectSpec(
            "Borealis",
            "active",
            utc("2024-03-05 10:00"),
            {"framework": "Django", "complexity_score": 7.0},
            new_status="completed",
            completion=timedelta(days=2),
        ),
        ProjectSpec(
            "Cygnus",
            "completed",
            utc("2024-03-11 00:00"),
            {"framework": "FastAPI", "complexity_score": 3},
            completion=timedelta(hours=6),
        ),
        # A framework that is not a JSON string, a score that is not a number.
        ProjectSpec(
            "Draco", "draft", utc("2024-03-31 23:30"), {"framework": 42, "complexity_score": "high"}
        ),
        ProjectSpec("Eridanus", "archived", utc("2024-04-01 00:00"), None),
        ProjectSpec(
            "Fornax",
            "active",
            utc("2024-04-02 12:00"),
            {"framework": "Flask", "complexity_score": 7.5},
        ),
        # P7: deleted (with all its children, by cascade).
        ProjectSpec(
            "Ghost",
            "completed",
            utc("2024-02-01 00:00"),
            {"framework": "Rails", "complexity_score": 99},
            deleted=True,
        ),
    ],
    conversations=[
        # C1
        ConversationSpec(
            0,
            utc("2024-03-04 10:00"),
            messages=[
                ("user", utc("2024-03-04 10:00:00")),
                ("assistant", utc("2024-03-04 10:00:30")),
                ("user", utc("2024-03-04 10:01:00")),
                ("system", utc("2024-03-04 10:01:10")),
                ("assistant", utc("2024-03-04 10:02:00")),
                ("user", utc("2024-03-04 10:05:00")),
                ("system", utc("2024-03-06 00:00:00")),
            ],
            appended=1,
            steps=[
                ("requirements", timedelta(hours=1)),  # 11:00
                (None, timedelta(minutes=30)),  # 11:30, title only
                ("design", timedelta(minutes=90)),  # 13:00
                ("design", timedelta(minutes=30)),  # 13:30, old == new: no change
                ("implementation", timedelta(minutes=90)),  # 15:00
            ],
        ),
        # C2: every message through add_message.
        ConversationSpec(
            1,
            utc("2024-03-05 12:00"),
            phase="design",
            messages=[
                ("user", utc("2024-03-05 12:00")),
                ("user", utc("2024-03-05 12:10")),
                ("assistant", utc("2024-03-05 12:20")),
                ("assistant", utc("2024-03-05 12:25")),
                ("user", utc("2024-04-05 00:00:00")),
                ("assistant", utc("2024-04-05 00:00:01")),
            ],
            appended=6,
            steps=[("review", timedelta(hours=2)), ("design", timedelta(hours=1))],
        ),
        # C3
        ConversationSpec(
            2, utc("2024-03-11 08:00"), steps=[("requirements", timedelta(minutes=30))]
        ),
        # C4: deleted on its own.
        ConversationSpec(
            0,
            utc("2024-02-20 00:00"),
            messages=[("user", utc("2024-02-20 00:00")), ("assistant", utc("2024-02-21 00:00"))],
            steps=[("review", timedelta(days=5))],
            deleted=True,
        ),
        # C5: on the deleted project.
        ConversationSpec(
            6,
            utc("2024-02-01 00:00"),
            messages=[("user", utc("2024-02-01 00:00")), ("assistant", utc("2024-02-01 00:10"))],
            steps=[("design", timedelta(days=27))],
        ),
        # C6: the assistant answers "before" the question (list order counts).
        ConversationSpec(
            2,
            utc("2024-03-11 08:30"),
            messages=[
                ("user", utc("2024-03-11 09:00")),
                ("assistant", utc("2024-03-11 08:59")),
                ("system", utc("2024-03-11 09:01")),
            ],
        ),
        # C7: hard-deleted; its audit entries stay behind.
        ConversationSpec(
            0,
            utc("2024-02-10 00:00"),
            messages=[("user", utc("2024-02-10 00:00")), ("assistant", utc("2024-02-10 00:00:05"))],
            steps=[("requirements", timedelta(days=20))],
            hard_deleted=True,
        ),
    ],
    documents=[
        DocumentSpec(0, "Requirements", "requirements", utc("2024-03-04 12:00"), accesses=3),
        DocumentSpec(0, "ADR-1", "adr", utc("2024-03-10 23:59:59"), accesses=5),
        DocumentSpec(1, "API", "api", utc("2024-03-18 00:00")),
        DocumentSpec(0, "Guide", "guide", utc("2024-03-25 00:00"), accesses=3),
        DocumentSpec(0, "Old notes", "other", utc("2024-05-01 00:00"), accesses=4, deleted=True),
        DocumentSpec(6, "Ghost plan", "architecture", utc("2024-02-01 00:00"), accesses=2),
    ],
    repositories=[
        RepositorySpec(
            0,
            "atlas-api",
            "github",
            utc("2024-03-04 13:00"),
            "Python",
            last_commit=HEALTH_NOW - timedelta(days=2),
        ),
        RepositorySpec(
            0,
            "atlas-web",
            "gitlab",
            utc("2024-03-05 13:00"),
            "TypeScript",
            stars=1000,
            open_issues=10,
            last_commit=HEALTH_NOW - timedelta(days=48, hours=12),
        ),
        RepositorySpec(1, "borealis", "github", utc("2024-03-06 00:00"), stars=9, open_issues=5),
        RepositorySpec(
            2,
            "cygnus",
            "bitbucket",
            utc("2024-03-12 00:00"),
            "Python",
            stars=999_999,
            open_issues=290,
            last_commit=HEALTH_NOW - timedelta(days=30),  # exactly 30 days: not stale
        ),
        RepositorySpec(
            2,
            "cygnus-old",
            "other",
            utc("2024-03-12 00:00"),
            "Go",
            open_issues=20,
            last_commit=HEALTH_NOW - timedelta(days=120),
        ),
        RepositorySpec(
            0,
            "atlas-legacy",
            "github",
            utc("2024-02-15 00:00"),
            "Rust",
            stars=5000,
            last_commit=HEALTH_NOW - timedelta(days=1),
            deleted=True,
        ),
        RepositorySpec(6, "ghost", "github", utc("2024-02-01 00:00"), "Python", stars=10),
    ],
)

FIXED_PROJECT_METRICS = ProjectMetrics(
    total_projects=6,
    active_projects=2,
    completed_projects=2,
    average_completion_time=timedelta(seconds=(2 * 86400 + 6 * 3600) / 2),
    project_by_status={"active": 2, "completed": 2, "draft": 1, "archived": 1},
    complexity_distribution={"7": 2, "3": 1, "unknown": 3},
    top_frameworks=[("FastAPI", 2), ("Django", 1), ("Flask", 1)],
)

#: (date_range, expected) pairs over the fixed dataset.
FIXED_PROJECT_RANGES: list[tuple[tuple[datetime | None, datetime | None], ProjectMetrics]] = [
    (
        # Borealis is created exactly at the (inclusive) start; Eridanus exactly
        # at the (exclusive) end. The end is given at +02:00.
        (
            utc("2024-03-05 10:00"),
            datetime(2024, 4, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
        ),
        ProjectMetrics(
            total_projects=3,
            active_projects=0,
            completed_projects=2,
            average_completion_time=timedelta(hours=27),
            project_by_status={"completed": 2, "draft": 1},
            complexity_distribution={"7": 1, "3": 1, "unknown": 1},
            top_frameworks=[("Django", 1), ("FastAPI", 1)],
        ),
    ),
    (
        (None, datetime(2024, 3, 5, 10, 0)),  # naive: UTC
        ProjectMetrics(
            total_projects=1,
            active_projects=1,
            completed_projects=0,
            average_completion_time=None,
            project_by_status={"active": 1},
            complexity_distribution={"7": 1},
            top_frameworks=[("FastAPI", 1)],
        ),
    ),
    (
        (utc("2024-04-01 00:00"), None),
        ProjectMetrics(
            total_projects=2,
            active_projects=1,
            completed_projects=0,
            project_by_status={"archived": 1, "active": 1},
            complexity_distribution={"unknown": 2},
            top_frameworks=[("Flask", 1)],
        ),
    ),
    (
        (utc("2024-01-01"), utc("2024-02-28")),  # only the deleted project
        ProjectMetrics(total_projects=0, active_projects=0, completed_projects=0),
    ),
    ((None, None), FIXED_PROJECT_METRICS),
]

FIXED_CONVERSATION_FLOW = ConversationFlowMetrics(
    total_conversations=4,
    conversations_by_phase={"implementation": 1, "design": 1, "requirements": 1, "discovery": 1},
    messages_by_role={"user": 7, "assistant": 6, "system": 3},
    avg_messages_per_conversation=4.0,  # 7, 6, 0, 3
    median_messages_per_conversation=4.5,
    # answers after 30, 60 (C1), 1200, 600, 1 (C2), -60 (C6) seconds
    median_response_time=timedelta(seconds=45),
    phase_transitions=[
        PhaseTransition(from_phase="discovery", to_phase="requirements", count=2),
        PhaseTransition(from_phase="design", to_phase="implementation", count=1),
        PhaseTransition(from_phase="design", to_phase="review", count=1),
        PhaseTransition(from_phase="requirements", to_phase="design", count=1),
        PhaseTransition(from_phase="review", to_phase="design", count=1),
    ],
    # time in phase: discovery 3600, 1800; requirements 7200; design 7200, 7200;
    # review 3600 -> design and requirements tie at 7200 s: by name.
    bottleneck_phase="design",
)

FIXED_DOCUMENT_USAGE = DocumentUsageStats(
    total_documents=4,
    documents_by_type={"requirements": 1, "adr": 1, "api": 1, "guide": 1},
    total_accesses=11,
    never_accessed=1,
    most_accessed=[],  # ids filled in by the test
    created_per_week=[
        TimeSeriesPoint(bucket=utc("2024-03-04"), value=2),
        TimeSeriesPoint(bucket=utc("2024-03-11"), value=0),
        TimeSeriesPoint(bucket=utc("2024-03-18"), value=1),
        TimeSeriesPoint(bucket=utc("2024-03-25"), value=1),
    ],
)

#: Health scores (recency + issues + popularity) of the live fixed repositories.
FIXED_SCORES = {
    "atlas-api": 50.0 + 30.0 + 0.0,  # exactly 80: band 80-100
    "atlas-web": 25.0 + 15.0 + 20.0,  # 48.5 days: 50 * 41.5 / 83 = 25; exactly 60
    "borealis": 0.0 + 20.0 + 20.0 * math.log(10) / math.log(1001),
    "cygnus": 50.0 * 60 / 83 + 1.0 + 20.0,
    "cygnus-old": 0.0 + 10.0 + 0.0,
}

FIXED_ACTIVITY = {
    # name: conversations, documents, repositories, messages
    "Atlas": (1, 3, 2, 7),
    "Borealis": (1, 1, 1, 6),
    "Cygnus": (2, 0, 2, 3),
    "Draco": (0, 0, 0, 0),
    "Eridanus": (0, 0, 0, 0),
    "Fornax": (0, 0, 0, 0),
}

#: metric -> granularity -> (first bucket, last bucket, non-zero buckets).
FIXED_SERIES: dict[str, dict[str, tuple[str, str, dict[str, int]]]] = {
    "projects_created": {
        "hour": (
            "2024-03-04 09:00",
            "2024-04-02 12:00",
            {
                "2024-03-04 09:00": 1,
                "2024-03-05 10:00": 1,
                "2024-03-11 00:00": 1,
                "2024-03-31 23:00": 1,
                "2024-04-01 00:00": 1,
                "2024-04-02 12:00": 1,
            },
        ),
        "day": (
            "2024-03-04",
            "2024-04-02",
            {
                "2024-03-04": 1,
                "2024-03-05": 1,
                "2024-03-11": 1,
                "2024-03-31": 1,
                "2024-04-01": 1,
                "2024-04-02": 1,
            },
        ),
        "week": (
            "2024-03-04",
            "2024-04-01",
            {"2024-03-04": 2, "2024-03-11": 1, "2024-03-25": 1, "2024-04-01": 2},
        ),
        "month": ("2024-03-01", "2024-04-01", {"2024-03-01": 4, "2024-04-01": 2}),
    },
    "projects_completed": {
        "hour": (
            "2024-03-07 10:00",
            "2024-03-11 06:00",
            {"2024-03-07 10:00": 1, "2024-03-11 06:00": 1},
        ),
        "day": ("2024-03-07", "2024-03-11", {"2024-03-07": 1, "2024-03-11": 1}),
        "week": ("2024-03-04", "2024-03-11", {"2024-03-04": 1, "2024-03-11": 1}),
        "month": ("2024-03-01", "2024-03-01", {"2024-03-01": 2}),
    },
    "conversations_started": {
        "hour": (
            "2024-03-04 10:00",
            "2024-03-11 08:00",
            {"2024-03-04 10:00": 1, "2024-03-05 12:00": 1, "2024-03-11 08:00": 2},
        ),
        "day": ("2024-03-04", "2024-03-11", {"2024-03-04": 1, "2024-03-05": 1, "2024-03-11": 2}),
        "week": ("2024-03-04", "2024-03-11", {"2024-03-04": 2, "2024-03-11": 2}),
        "month": ("2024-03-01", "2024-03-01", {"2024-03-01": 4}),
    },
    "messages": {
        "hour": (
            "2024-03-04 10:00",
            "2024-04-05 00:00",
            {
                "2024-03-04 10:00": 6,
                "2024-03-05 12:00": 4,
                "2024-03-06 00:00": 1,
                "2024-03-11 08:00": 1,
                "2024-03-11 09:00": 2,
                "2024-04-05 00:00": 2,
            },
        ),
        "day": (
            "2024-03-04",
            "2024-04-05",
            {"2024-03-04": 6, "2024-03-05": 4, "2024-03-06": 1, "2024-03-11": 3, "2024-04-05": 2},
        ),
        "week": ("2024-03-04", "2024-04-01", {"2024-03-04": 11, "2024-03-11": 3, "2024-04-01": 2}),
        "month": ("2024-03-01", "2024-04-01", {"2024-03-01": 14, "2024-04-01": 2}),
    },
    "documents_created": {
        "hour": (
            "2024-03-04 12:00",
            "2024-03-25 00:00",
            {
                "2024-03-04 12:00": 1,
                "2024-03-10 23:00": 1,
                "2024-03-18 00:00": 1,
                "2024-03-25 00:00": 1,
            },
        ),
        "day": (
            "2024-03-04",
            "2024-03-25",
            {"2024-03-04": 1, "2024-03-10": 1, "2024-03-18": 1, "2024-03-25": 1},
        ),
        "week": ("2024-03-04", "2024-03-25", {"2024-03-04": 2, "2024-03-18": 1, "2024-03-25": 1}),
        "month": ("2024-03-01", "2024-03-01", {"2024-03-01": 4}),
    },
    "repositories_added": {
        "hour": (
            "2024-03-04 13:00",
            "2024-03-12 00:00",
            {
                "2024-03-04 13:00": 1,
                "2024-03-05 13:00": 1,
                "2024-03-06 00:00": 1,
                "2024-03-12 00:00": 2,
            },
        ),
        "day": (
            "2024-03-04",
            "2024-03-12",
            {"2024-03-04": 1, "2024-03-05": 1, "2024-03-06": 1, "2024-03-12": 2},
        ),
        "week": ("2024-03-04", "2024-03-11", {"2024-03-04": 3, "2024-03-11": 2}),
        "month": ("2024-03-01", "2024-03-01", {"2024-03-01": 5}),
    },
}


def fixed_series(metric: str, granularity: str) -> TimeSeriesData:
    first, last, nonzero = FIXED_SERIES[metric][granularity]
    counts = {utc(bucket): n for bucket, n in nonzero.items()}
    return TimeSeriesData(
        metric=metric,
        granularity=granularity,
        points=filled(utc(first), utc(last), granularity, counts),
    )


#: (metric, granularity, date_range, first bucket, last bucket, non-zero buckets).
FIXED_SERIES_RANGES: list[
    tuple[str, str, tuple[datetime | None, datetime | None], str, str, dict[str, int]]
] = [
    # Naive start (UTC); the end at +01:00 is 09:00 UTC: only the 08:59 message of
    # 2024-03-11 is before it.
    (
        "messages",
        "day",
        (
            datetime(2024, 3, 5, 12, 10),
            datetime(2024, 3, 11, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        ),
        "2024-03-05",
        "2024-03-11",
        {"2024-03-05": 3, "2024-03-06": 1, "2024-03-11": 1},
    ),
    # The deleted project of February never counts; April is the last bucket.
    (
        "projects_created",
        "month",
        (utc("2024-02-15"), utc("2024-05-01")),
        "2024-02-01",
        "2024-04-01",
        {"2024-03-01": 4, "2024-04-01": 2},
    ),
    # Start only (a Tuesday): the end is the last event.
    (
        "documents_created",
        "week",
        (utc("2024-03-12"), None),
        "2024-03-11",
        "2024-03-25",
        {"2024-03-18": 1, "2024-03-25": 1},
    ),
    # End only, exclusive: C3's start at exactly 08:00 is left out.
    (
        "conversations_started",
        "hour",
        (None, utc("2024-03-11 08:00")),
        "2024-03-04 10:00",
        "2024-03-11 07:00",
        {"2024-03-04 10:00": 1, "2024-03-05 12:00": 1},
    ),
    # A range without events: every bucket, all zero.
    (
        "repositories_added",
        "day",
        (utc("2025-01-01"), utc("2025-01-03")),
        "2025-01-01",
        "2025-01-02",
        {},
    ),
    # Projects completed in a range ending exactly at Cygnus's completion.
    (
        "projects_completed",
        "hour",
        (utc("2024-03-07 10:30"), utc("2024-03-11 06:00")),
        "2024-03-07 10:00",
        "2024-03-11 05:00",
        {},
    ),
]


# -- fixed-dataset tests ---------------------------------------------------------------


async def test_project_metrics_of_the_fixed_dataset(session: Session) -> None:
    await build(session, FIXED)
    snap = await read_back(session)
    analytics = AnalyticsRepository(session)
    projects = ProjectRepository(session)

    assert_matches(expected_project_metrics(snap), FIXED_PROJECT_METRICS)  # the oracle agrees
    result = await analytics.project_metrics()
    assert_matches(result, FIXED_PROJECT_METRICS)
    assert result.summary_built_at is None
    assert_matches(await projects.analytics_summary(), FIXED_PROJECT_METRICS)

    for date_range, expected in FIXED_PROJECT_RANGES:
        assert_matches(expected_project_metrics(snap, *date_range), expected)
        assert_matches(await analytics.project_metrics(date_range), expected)
        assert_matches(await projects.analytics_summary(date_range), expected)
    # Any (start, end) sequence will do.
    pair = list(FIXED_PROJECT_RANGES[0][0])
    assert_matches(
        await analytics.project_metrics(pair),  # type: ignore[arg-type]
        FIXED_PROJECT_RANGES[0][1],
    )


async def test_top_frameworks_are_the_ten_most_common_ties_by_name(session: Session) -> None:
    projects = ProjectRepository(session)
    names = ["Zed"] * 3 + ["Alpha"] * 2 + [f"F{i:02}" for i in range(11, -1, -1)]
    for i, name in enumerate(names):
        await projects.create(project_data(name=f"P{i}", architecture={"framework": name}))
    gone = await projects.create(project_data(name="gone", architecture={"framework": "F99"}))
    for _ in range(3):
        await projects.create(project_data(name="gone too", architecture={"framework": "Aardvark"}))
    for project in await projects.list(name="gone too"):
        await projects.delete(project.id)
    await projects.delete(gone.id)

    result = await AnalyticsRepository(session).project_metrics()
    expected = [("Zed", 3), ("Alpha", 2)] + [(f"F{i:02}", 1) for i in range(8)]
    assert result.top_frameworks == expected
    assert result.complexity_distribution == {"unknown": len(names)}
    assert_matches(expected_project_metrics(await read_back(session)), result)


async def test_complexity_scores_as_integer_text_or_unknown(session: Session) -> None:
    projects = ProjectRepository(session)
    scores: list[Any] = [7, 7.0, -3, -0.0, 2**63, 2**64 - 1, -(2**63), 1e20, 7.5, True, "7", None]
    for score in scores:
        await projects.create(project_data(architecture={"complexity_score": score}))
    await projects.create(project_data(architecture={"framework": "no score"}))
    await projects.create(project_data(architecture=None))

    result = await AnalyticsRepository(session).project_metrics()
    assert result.complexity_distribution == {
        "7": 2,
        "-3": 1,
        "0": 1,
        str(2**63): 1,
        str(2**64 - 1): 1,
        str(-(2**63)): 1,
        "100000000000000000000": 1,
        "unknown": 6,
    }
    assert_matches(expected_project_metrics(await read_back(session)), result)


async def test_conversation_flow_of_the_fixed_dataset(session: Session) -> None:
    await build(session, FIXED)
    snap = await read_back(session)
    assert_matches(expected_conversation_flow(snap), FIXED_CONVERSATION_FLOW)
    result = await AnalyticsRepository(session).conversation_flow_analysis()
    assert_matches(result, FIXED_CONVERSATION_FLOW)
    assert result.summary_built_at is None
    assert_matches(
        await ConversationRepository(session).conversation_analytics(), FIXED_CONVERSATION_FLOW
    )


async def test_document_usage_of_the_fixed_dataset(session: Session) -> None:
    built = await build(session, FIXED)
    ids = built.documents
    expected = FIXED_DOCUMENT_USAGE.model_copy(
        update={
            "most_accessed": [
                DocumentAccess(id=ids[1], title="ADR-1", access_count=5),
                DocumentAccess(id=ids[0], title="Requirements", access_count=3),
                DocumentAccess(id=ids[3], title="Guide", access_count=3),
            ]
        }
    )
    assert_matches(expected_document_usage(await read_back(session)), expected)
    result = await AnalyticsRepository(session).document_usage_stats()
    assert_matches(result, expected)
    assert result.summary_built_at is None


async def test_most_accessed_is_the_ten_most_read_ties_by_id(session: Session) -> None:
    project = await ProjectRepository(session).create(project_data())
    documents = DocumentRepository(session)
    ids = []
    for i, reads in enumerate([1] * 11 + [2]):
        document = await documents.create(document_data(project.id, title=f"D{i}"))
        for _ in range(reads):
            await documents.record_access(document.id)
        ids.append(document.id)
    deleted = await documents.create(document_data(project.id, title="deleted"))
    for _ in range(3):
        await documents.record_access(deleted.id)
    await documents.delete(deleted.id)

    result = await AnalyticsRepository(session).document_usage_stats()
    assert [d.id for d in result.most_accessed] == [ids[11], *ids[:9]]
    assert [d.access_count for d in result.most_accessed] == [2] + [1] * 9
    assert (result.total_documents, result.total_accesses, result.never_accessed) == (12, 13, 0)
    assert_matches(expected_document_usage(await read_back(session)), result)


async def test_repository_health_of_the_fixed_dataset(session: Session) -> None:
    built = await build(session, FIXED)
    ids = dict(zip([r.name for r in FIXED.repositories], built.repositories, strict=True))
    order = ["atlas-api", "atlas-web", "cygnus", "borealis", "cygnus-old"]
    expected = RepositoryHealthMetrics(
        total_repositories=5,
        by_provider={"github": 2, "gitlab": 1, "bitbucket": 1, "other": 1},
        by_language={"Python": 2, "TypeScript": 1, "unknown": 1, "Go": 1},
        stale_repositories=3,  # atlas-web, borealis (no commit), cygnus-old
        avg_open_issues=(0 + 10 + 5 + 290 + 20) / 5,
        health_scores=[
            RepositoryHealth(id=ids[name], name=name, score=FIXED_SCORES[name]) for name in order
        ],
        score_distribution={"80-100": 1, "60-79": 1, "40-59": 1, "20-39": 1, "0-19": 1},
    )
    assert_matches(expected_repository_health(await read_back(session), HEALTH_NOW), expected)
    analytics = AnalyticsRepository(session)
    result = await analytics.repository_health_metrics(now=HEALTH_NOW)
    assert_matches(result, expected)
    assert result.summary_built_at is None
    # ``now`` may be naive (UTC) or in any zone.
    naive = await analytics.repository_health_metrics(now=HEALTH_NOW.replace(tzinfo=None))
    zoned = await analytics.repository_health_metrics(
        now=HEALTH_NOW.astimezone(timezone(timedelta(hours=-7)))
    )
    assert naive == result
    assert zoned == result
    # A day later cygnus's last commit is 31 days old: stale.
    later = await analytics.repository_health_metrics(now=HEALTH_NOW + timedelta(days=1))
    assert later.stale_repositories == 4
    assert_matches(
        later, expected_repository_health(await read_back(session), HEALTH_NOW + timedelta(days=1))
    )


async def test_cross_entity_of_the_fixed_dataset(session: Session) -> None:
    built = await build(session, FIXED)
    ids = dict(zip([p.name for p in FIXED.projects], built.projects, strict=True))

    def activity(name: str) -> ProjectActivity:
        conversations, documents, repositories, messages = FIXED_ACTIVITY[name]
        return ProjectActivity(
            project_id=ids[name],
            name=name,
            conversations=conversations,
            documents=documents,
            repositories=repositories,
            messages=messages,
        )

    expected = CrossEntityMetrics(
        projects=[activity(name) for name in FIXED_ACTIVITY],
        projects_without_conversations=3,
        # Messages in [now - 30 days, now]: Cygnus 3; Atlas 1 (at the start, exactly);
        # Borealis 1 (at now, exactly; the one a second later is out). Ties by id.
        most_active=[activity("Cygnus"), activity("Atlas"), activity("Borealis")],
        avg_documents_per_project_by_status={
            "active": 1.5,
            "completed": 0.5,
            "draft": 0.0,
            "archived": 0.0,
        },
    )
    assert_matches(expected_cross_entity(await read_back(session), ACTIVITY_NOW), expected)
    result = await AnalyticsRepository(session).cross_entity_analytics(now=ACTIVITY_NOW)
    assert_matches(result, expected)
    assert result.summary_built_at is None
    # One microsecond later, Atlas's message leaves the window.
    later = await AnalyticsRepository(session).cross_entity_analytics(
        now=ACTIVITY_NOW + timedelta(microseconds=1)
    )
    assert [a.name for a in later.most_active] == ["Cygnus", "Borealis"]


async def test_most_active_is_the_ten_busiest_ties_by_id(session: Session) -> None:
    projects = ProjectRepository(session)
    conversations = ConversationRepository(session)
    recent = ACTIVITY_NOW - timedelta(days=1)
    ids = []
    for i, n in enumerate([1] * 11 + [3]):
        project = await projects.create(project_data(name=f"P{i}"))
        await conversations.create(
            conversation_data(project.id, messages=[message("user", recent)] * n)
        )
        ids.append(project.id)
    old = await projects.create(project_data(name="old"))
    await conversations.create(
        conversation_data(old.id, messages=[message("user", ACTIVITY_NOW - timedelta(days=31))])
    )
    deleted = await projects.create(project_data(name="deleted"))
    await conversations.create(
        conversation_data(deleted.id, messages=[message("user", recent)] * 5)
    )
    await projects.delete(deleted.id)

    result = await AnalyticsRepository(session).cross_entity_analytics(now=ACTIVITY_NOW)
    assert [a.project_id for a in result.most_active] == [ids[11], *ids[:9]]
    assert len(result.projects) == 13
    assert_matches(expected_cross_entity(await read_back(session), ACTIVITY_NOW), result)


async def test_time_series_of_the_fixed_dataset(session: Session) -> None:
    await build(session, FIXED)
    snap = await read_back(session)
    analytics = AnalyticsRepository(session)
    for metric, granularity in itertools.product(METRICS, GRANULARITIES):
        expected = fixed_series(metric, granularity)
        assert_matches(expected_time_series(snap, metric, granularity), expected)
        result = await analytics.time_series_analysis(metric, granularity)
        assert_matches(result, expected)
        assert result.summary_built_at is None
        assert_matches(
            await analytics.time_series_analysis(metric, granularity, (None, None)), expected
        )


async def test_time_series_of_the_fixed_dataset_over_ranges(session: Session) -> None:
    await build(session, FIXED)
    snap = await read_back(session)
    analytics = AnalyticsRepository(session)
    for metric, granularity, date_range, first, last, nonzero in FIXED_SERIES_RANGES:
        counts = {utc(bucket): n for bucket, n in nonzero.items()}
        expected = TimeSeriesData(
            metric=metric,
            granularity=granularity,
            points=filled(utc(first), utc(last), granularity, counts),
        )
        assert_matches(expected_time_series(snap, metric, granularity, *date_range), expected)
        assert_matches(
            await analytics.time_series_analysis(metric, granularity, date_range), expected
        )
    # Default granularity is day.
    assert_matches(
        await analytics.time_series_analysis("messages"), fixed_series("messages", "day")
    )
    # A start with no event after it (and no end) gives no buckets.
    for metric in METRICS:
        result = await analytics.time_series_analysis(metric, "day", (utc("2025-01-01"), None))
        assert result.points == []


async def test_every_method_on_an_empty_database(session: Session) -> None:
    analytics = AnalyticsRepository(session)
    empty = World(
        projects=[ProjectSpec("Gone", "completed", utc("2024-03-01"), deleted=True)],
        conversations=[
            ConversationSpec(
                0,
                utc("2024-03-01"),
                messages=[("user", utc("2024-03-01"))],
                steps=[("design", timedelta(1))],
            )
        ],
        documents=[DocumentSpec(0, "Gone", "guide", utc("2024-03-01"), accesses=1)],
        repositories=[RepositorySpec(0, "gone", "github", utc("2024-03-01"))],
    )
    await build(session, empty)  # everything in it is deleted
    snap = await read_back(session)

    expected_projects = ProjectMetrics(total_projects=0, active_projects=0, completed_projects=0)
    assert_matches(await analytics.project_metrics(), expected_projects)
    assert_matches(expected_project_metrics(snap), expected_projects)
    expected_flow = ConversationFlowMetrics(total_conversations=0)
    assert_matches(await analytics.conversation_flow_analysis(), expected_flow)
    assert_matches(expected_conversation_flow(snap), expected_flow)
    expected_documents = DocumentUsageStats(total_documents=0, total_accesses=0, never_accessed=0)
    assert_matches(await analytics.document_usage_stats(), expected_documents)
    assert_matches(expected_document_usage(snap), expected_documents)
    expected_health = RepositoryHealthMetrics(total_repositories=0, stale_repositories=0)
    assert_matches(await analytics.repository_health_metrics(now=HEALTH_NOW), expected_health)
    assert_matches(expected_repository_health(snap, HEALTH_NOW), expected_health)
    expected_cross = CrossEntityMetrics(projects_without_conversations=0)
    assert_matches(await analytics.cross_entity_analytics(now=ACTIVITY_NOW), expected_cross)
    assert_matches(expected_cross_entity(snap, ACTIVITY_NOW), expected_cross)
    for metric in METRICS:
        for granularity in GRANULARITIES:
            result = await analytics.time_series_analysis(metric, granularity)
            assert result == TimeSeriesData(metric=metric, granularity=granularity, points=[])


# -- summaries -------------------------------------------------------------------------


def summarised(analytics: AnalyticsRepository, now: datetime | None = None) -> dict[str, Any]:
    """The five summarised methods, as callables taking only use_summary."""
    return {
        "project_metrics": lambda use_summary=False: analytics.project_metrics(
            use_summary=use_summary
        ),
        "conversation_flow": lambda use_summary=False: analytics.conversation_flow_analysis(
            use_summary=use_summary
        ),
        "document_usage": lambda use_summary=False: analytics.document_usage_stats(
            use_summary=use_summary
        ),
        "repository_health": lambda use_summary=False: analytics.repository_health_metrics(
            use_summary=use_summary, now=now
        ),
        "cross_entity": lambda use_summary=False: analytics.cross_entity_analytics(
            use_summary=use_summary, now=now
        ),
    }


async def test_summaries_match_live_results_until_the_data_changes(session: Session) -> None:
    analytics = AnalyticsRepository(session)
    for call in summarised(analytics).values():
        with pytest.raises(NotFoundError, match="bulk_analytics_refresh"):
            await call(use_summary=True)

    built = await build(session, FIXED)
    refreshed = await BulkOperations.bulk_analytics_refresh(session)
    assert refreshed.tzinfo is not None
    methods = summarised(analytics, refreshed)
    first: dict[str, Any] = {}
    for name, call in methods.items():
        live = await call()
        stored = await call(use_summary=True)
        assert live.summary_built_at is None, name
        assert stored.summary_built_at is not None, name
        assert abs(stored.summary_built_at - refreshed) < timedelta(minutes=1), name
        assert without_built_at(stored) == without_built_at(live), name
        first[name] = stored
    # The summaries hold the hand-worked results of the fixed dataset.
    assert_matches(
        first["project_metrics"].model_copy(update={"summary_built_at": None}),
        FIXED_PROJECT_METRICS,
    )
    assert_matches(
        first["conversation_flow"].model_copy(update={"summary_built_at": None}),
        FIXED_CONVERSATION_FLOW,
    )

    with pytest.raises(InvalidQueryError, match="use_summary"):
        await analytics.project_metrics((utc("2024-01-01"), None), use_summary=True)
    with pytest.raises(InvalidQueryError, match="use_summary"):
        await analytics.project_metrics((None, None), use_summary=True)

    # Change something every summary covers.
    project = await ProjectRepository(session).create(project_data(name="Late", status="active"))
    await ConversationRepository(session).create(
        conversation_data(project.id, messages=[message("user", refreshed)])
    )
    await DocumentRepository(session).record_access(built.documents[2])
    await RepositoryRepository(session).create(repository_data(project.id, name="late", stars=7))
    for name, call in methods.items():
        stored = await call(use_summary=True)
        assert stored == first[name], name  # unchanged, built_at included
        assert without_built_at(await call()) != without_built_at(stored), name

    again = await BulkOperations.bulk_analytics_refresh(session)
    assert again >= refreshed
    for name, call in summarised(analytics, again).items():
        stored = await call(use_summary=True)
        assert stored.summary_built_at is not None
        assert stored.summary_built_at >= first[name].summary_built_at
        assert without_built_at(stored) == without_built_at(await call()), name
        assert without_built_at(stored) != without_built_at(first[name]), name


# -- one trip per call -------------------------------------------------------------------


async def test_each_analytics_call_is_one_worker_trip_and_one_named_query(
    engine: DatabaseEngine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = World(
        projects=[ProjectSpec("A", "active", utc("2024-03-04"))],
        conversations=[
            ConversationSpec(
                0,
                utc("2024-03-04"),
                messages=[("user", utc("2024-03-04")), ("assistant", utc("2024-03-04 00:01"))],
                steps=[("design", timedelta(hours=1))],
            )
        ],
        documents=[DocumentSpec(0, "D", "api", utc("2024-03-04"), accesses=1)],
        repositories=[RepositorySpec(0, "r", "github", utc("2024-03-04"))],
    )
    await build(session, small)
    analytics = AnalyticsRepository(session)
    trips: list[str | None] = []
    hop = session.run_in_worker

    async def counted(work: Any, **kwargs: Any) -> Any:
        trips.append(kwargs.get("entity"))
        return await hop(work, **kwargs)

    monkeypatch.setattr(session, "run_in_worker", counted)

    async def check(call: Any, queries: dict[str, int]) -> Any:
        before = engine.stats().queries
        trips.clear()
        result = await call()
        after = engine.stats().queries
        ran = {
            name: stats.calls - (before[name].calls if name in before else 0)
            for name, stats in after.items()
        }
        assert {name: n for name, n in ran.items() if n} == queries
        assert trips == ["analytics"]
        return result

    span = (utc("2024-03-01"), utc("2024-03-08"))
    await check(lambda: analytics.project_metrics(), {"project_metrics": 1})
    await check(lambda: analytics.project_metrics(span), {"project_metrics": 1})
    await check(lambda: ProjectRepository(session).analytics_summary(span), {"project_metrics": 1})
    await check(lambda: analytics.conversation_flow_analysis(), {"conversation_flow": 1})
    await check(
        lambda: ConversationRepository(session).conversation_analytics(), {"conversation_flow": 1}
    )
    await check(lambda: analytics.document_usage_stats(), {"document_usage": 1, "time_series": 1})
    await check(
        lambda: analytics.repository_health_metrics(now=HEALTH_NOW), {"repository_health": 1}
    )
    await check(lambda: analytics.repository_health_metrics(), {"repository_health": 1})
    await check(lambda: analytics.cross_entity_analytics(now=ACTIVITY_NOW), {"cross_entity": 1})
    await check(lambda: analytics.cross_entity_analytics(), {"cross_entity": 1})
    for metric in METRICS:
        for granularity in GRANULARITIES:
            result = await check(
                lambda m=metric, g=granularity: analytics.time_series_analysis(m, g, span),
                {"time_series": 1},
            )
            assert len(result.points) > 0

    await check(
        lambda: BulkOperations.bulk_analytics_refresh(session),
        {
            "clear_analytics_summaries": 1,
            "store_analytics_summary": 5,
            "project_metrics": 1,
            "conversation_flow": 1,
            "document_usage": 1,
            "time_series": 1,
            "repository_health": 1,
            "cross_entity": 1,
        },
    )
    for call in summarised(analytics).values():
        await check(lambda c=call: c(use_summary=True), {"get_analytics_summary": 1})


# -- invalid arguments -------------------------------------------------------------------

BAD_RANGES: dict[str, Any] = {
    "end before start": (utc("2024-03-02"), utc("2024-03-01")),
    # 10:00 UTC (naive), then 10:30+01:00 = 09:30 UTC
    "end before start across zones": (
        datetime(2024, 3, 1, 10, 0),
        datetime(2024, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))),
    ),
    "one item": (utc("2024-03-01"),),
    "three items": (utc("2024-03-01"), utc("2024-03-02"), utc("2024-03-03")),
    "a datetime": utc("2024-03-01"),
    "a string": "2024-03-01/2024-03-02",
    "a two-letter string": "ab",
    "a dict": {"start": None, "end": None},
    "a string start": ("2024-03-01", None),
    "a date end": (None, date(2024, 3, 2)),
    "numbers": (1, 2),
}


async def refused(call: Any, match: str, case: str) -> None:
    """``call()`` raises InvalidQueryError mentioning ``match``."""
    try:
        with pytest.raises(InvalidQueryError, match=match):
            await call()
    except pytest.fail.Exception as failure:
        pytest.fail(f"{case}: {failure}")


async def test_invalid_date_ranges_are_refused_before_any_query(
    engine: DatabaseEngine, session: Session
) -> None:
    analytics = AnalyticsRepository(session)
    projects = ProjectRepository(session)
    before = engine.stats().queries
    for case, bad in BAD_RANGES.items():
        await refused(lambda r=bad: analytics.project_metrics(r), "date_range", case)
        await refused(
            lambda r=bad: analytics.project_metrics(r, use_summary=True), "date_range", case
        )
        await refused(lambda r=bad: projects.analytics_summary(r), "date_range", case)
        for granularity in GRANULARITIES:
            await refused(
                lambda r=bad, g=granularity: analytics.time_series_analysis("messages", g, r),
                "date_range",
                case,
            )
    assert engine.stats().queries == before  # nothing reached the database


async def test_unknown_metrics_and_granularities_are_refused(
    engine: DatabaseEngine, session: Session
) -> None:
    analytics = AnalyticsRepository(session)
    before = engine.stats().queries
    for metric in ["message", "MESSAGES", "", None, "projects", "messages "]:
        await refused(
            lambda m=metric: analytics.time_series_analysis(m, "day"), "metric", repr(metric)
        )
    for granularity in ["year", "Day", "", None, "minute", "quarter"]:
        await refused(
            lambda g=granularity: analytics.time_series_analysis("messages", g),
            "granularity",
            repr(granularity),
        )
    assert engine.stats().queries == before


async def test_a_now_that_is_not_a_datetime_is_refused(
    engine: DatabaseEngine, session: Session
) -> None:
    analytics = AnalyticsRepository(session)
    before = engine.stats().queries
    for now in ["2024-04-01", date(2024, 4, 1), 1711972800]:
        await refused(lambda n=now: analytics.repository_health_metrics(now=n), "now", repr(now))
        await refused(lambda n=now: analytics.cross_entity_analytics(now=n), "now", repr(now))
    assert engine.stats().queries == before


# -- library bugs (each test fails until the bug is fixed) --------------------------------


async def test_complexity_score_beyond_64_bits_keeps_its_integer_text(session: Session) -> None:
    # project_metrics.sql sends JSON integers outside [-2**63, 2**64) through DOUBLE.
    await ProjectRepository(session).create(project_data(architecture={"complexity_score": 10**30}))
    result = await AnalyticsRepository(session).project_metrics()
    assert result.complexity_distribution == {str(10**30): 1}


async def test_a_huge_whole_complexity_score_does_not_break_project_metrics(
    session: Session,
) -> None:
    # CAST(1e300 AS HUGEINT) overflows: the whole query fails.
    created = await ProjectRepository(session).create(
        project_data(architecture={"complexity_score": 1e300})
    )
    result = await AnalyticsRepository(session).project_metrics()
    # The whole number the database kept: DuckDB keeps the JSON text, so the float's
    # exact value (1e300 is 1.0000000000000000525...e300); PostgreSQL's jsonb keeps
    # the number as a decimal, 10**300, and gives it back as that integer.
    [stored] = created.architecture.values() if created.architecture else [None]
    assert result.complexity_distribution == {str(int(stored)): 1}


async def test_repository_health_with_counts_at_the_bigint_maximum(session: Session) -> None:
    # The schema accepts stars and open_issues up to 2**63 - 1, but the score's
    # 1 + stars and 10 + open_issues overflow BIGINT.
    project = await ProjectRepository(session).create(project_data())
    repositories = RepositoryRepository(session)
    await repositories.create(repository_data(project.id, name="popular", stars=BIGINT_MAX))
    await repositories.create(repository_data(project.id, name="swamped", open_issues=BIGINT_MAX))
    result = await AnalyticsRepository(session).repository_health_metrics(now=HEALTH_NOW)
    assert_matches(result, expected_repository_health(await read_back(session), HEALTH_NOW))


async def test_bottleneck_ties_between_microsecond_timestamps_go_by_name(
    session: Session,
) -> None:
    # Both conversations spend exactly 69.162996 s in their first phase, but
    # conversation_flow.sql subtracts epoch() doubles, which are only good to
    # about 2e-7 s at these magnitudes, so the tie is not seen as one.
    spent = timedelta(microseconds=69_162_996)
    world = World(
        projects=[ProjectSpec("A", "active", utc("2024-07-01"))],
        conversations=[
            ConversationSpec(
                0,
                utc("2024-07-25 09:56:13.927719"),
                phase="design",
                steps=[("review", spent)],
            ),
            ConversationSpec(0, utc("2024-07-15 23:07:08.586663"), steps=[("requirements", spent)]),
        ],
    )
    await build(session, world)
    assert expected_conversation_flow(await read_back(session)).bottleneck_phase == "design"
    result = await AnalyticsRepository(session).conversation_flow_analysis()
    assert result.bottleneck_phase == "design"


async def test_time_series_of_an_empty_range_has_no_buckets(session: Session) -> None:
    # [start, start) holds no instant, so no bucket; time_series.sql gives the
    # bucket holding start unless start is on a bucket boundary.
    project = await ProjectRepository(session).create(project_data())
    await set_column(session, "projects", "created_at", project.id, utc("2024-03-04 10:15"))
    analytics = AnalyticsRepository(session)
    aligned = utc("2024-03-04 10:00")
    result = await analytics.time_series_analysis("projects_created", "hour", (aligned, aligned))
    assert result.points == []
    inside = utc("2024-03-04 10:30")
    result = await analytics.time_series_analysis("projects_created", "hour", (inside, inside))
    assert result.points == []


# -- hypothesis: generated datasets against the oracle -------------------------------------

SPAN_START = utc("2024-01-29")  # a Monday, two days before a month ends; 2024 is a leap year
ZONES = [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]


def moments(quarters: int = 72 * 96) -> st.SearchStrategy[datetime]:
    """Times on a 15-minute grid from SPAN_START (so events and bounds often
    coincide), sometimes a microsecond after a grid point or just before the next second."""
    return st.builds(
        lambda q, us: SPAN_START + timedelta(minutes=15 * q, microseconds=us),
        st.integers(0, quarters),
        st.sampled_from([0, 0, 0, 1, 999_999]),
    )


def as_input(moment: datetime | None, zone: Any) -> datetime | None:
    """The same instant as a caller may give it: naive (UTC) or in some zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None) if zone is None else moment.astimezone(zone)


@st.composite
def date_ranges(draw: st.DrawFn, *, allow_empty: bool) -> tuple[datetime | None, datetime | None]:
    start, end = sorted([draw(moments()), draw(moments())])
    if start == end and not allow_empty:
        end += timedelta(minutes=draw(st.sampled_from([1, 15, 600])))
    sides = draw(st.sampled_from(["both", "both", "start", "end"]))
    return (
        as_input(start if sides != "end" else None, draw(st.sampled_from(ZONES))),
        as_input(end if sides != "start" else None, draw(st.sampled_from(ZONES))),
    )


FRAMEWORKS = ["FastAPI", "fastapi", "Django", "Flask", "Rails", "Élan", "zeta", "Axum"]
# Integers within 64 bits and whole doubles within HUGEINT: the bugs beyond
# those ranges have their own tests above.
SCORES = (
    st.integers(-(2**63), 2**64 - 1)
    | st.integers(-3, 12)
    | st.floats(min_value=-1e30, max_value=1e30, allow_nan=False)
    | st.sampled_from([7.0, -0.0, 2.5, 1e20])
    | st.text(max_size=2)
    | st.booleans()
    | st.none()
)
ARCHITECTURES = st.one_of(
    st.none(),
    st.fixed_dictionaries({"framework": st.sampled_from(FRAMEWORKS), "complexity_score": SCORES}),
    st.fixed_dictionaries(
        {"framework": st.sampled_from(FRAMEWORKS[:4]), "complexity_score": st.integers(1, 4)}
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "framework": st.sampled_from(FRAMEWORKS)
            | st.integers(0, 3)
            | st.booleans()
            | st.none()
            | st.lists(st.sampled_from(FRAMEWORKS), max_size=2),
            "complexity_score": SCORES,
            "notes": st.text(max_size=3),
        },
    ),
)
MAYBE_DELETED = st.sampled_from([False, False, False, True])


def project_specs(count: int) -> st.SearchStrategy[list[ProjectSpec]]:
    one = st.builds(
        ProjectSpec,
        name=st.sampled_from(["Atlas", "Borealis", "Cygnus"]),
        status=st.sampled_from([*STATUSES, "completed"]),
        created=moments(),
        architecture=ARCHITECTURES,
        new_status=st.none() | st.sampled_from(STATUSES),
        completion=st.builds(
            lambda s, us: timedelta(seconds=s, microseconds=us),
            st.integers(0, 30 * 86400),
            st.sampled_from([0, 1, 500_000]),
        ),
        deleted=MAYBE_DELETED,
    )
    return st.lists(one, min_size=2, max_size=count)


def parents() -> st.SearchStrategy[list[ProjectSpec]]:
    """Two parent projects; the second is sometimes deleted (cascading to its children)."""
    return st.builds(
        lambda deleted: [
            ProjectSpec("Atlas", "active", SPAN_START),
            ProjectSpec("Borealis", "draft", SPAN_START, deleted=deleted),
        ],
        MAYBE_DELETED,
    )


#: Mostly questions and answers.
CHATTY_ROLES = st.sampled_from(["user", "assistant", "user", "assistant", "system"])


@st.composite
def conversation_worlds(draw: st.DrawFn) -> World:
    # Whole seconds only: microsecond timestamps break ties (see the bottleneck bug test).
    conversations = []
    minutes = st.integers(-2, 10)
    for _ in range(draw(st.integers(2, 4))):
        created = SPAN_START + timedelta(hours=draw(st.integers(0, 48)))
        # Some messages in any order, then question-and-answer turns.
        said = draw(st.lists(st.tuples(CHATTY_ROLES, minutes), max_size=2))
        for asked, answered, noted in draw(
            st.lists(st.tuples(minutes, st.none() | minutes, st.none() | minutes), max_size=2)
        ):
            said.append(("user", asked))
            if answered is not None:
                said.append(("assistant", answered))
            if noted is not None:
                said.append(("system", noted))
        steps = draw(
            st.lists(
                st.tuples(st.sampled_from([*PHASES, *PHASES, None]), st.integers(0, 3)), max_size=3
            )
        )
        conversations.append(
            ConversationSpec(
                project=draw(st.integers(0, 1)),
                created=created,
                phase=draw(st.sampled_from(PHASES)),
                messages=[(role, created + timedelta(minutes=m)) for role, m in said],
                appended=draw(st.integers(0, min(2, len(said)))),
                steps=[(phase, timedelta(minutes=30 * k)) for phase, k in steps],
                deleted=draw(MAYBE_DELETED),
                hard_deleted=draw(st.sampled_from([False] * 7 + [True])),
            )
        )
    return World(projects=draw(parents()), conversations=conversations)


DOCUMENTS = st.builds(
    DocumentSpec,
    project=st.integers(0, 1),
    title=st.sampled_from(["Spec", "Plan", "Ünïcode notes"]),
    doc_type=st.sampled_from(DOC_TYPES),
    created=moments(),
    accesses=st.integers(0, 3),
    deleted=MAYBE_DELETED,
)

_DAY = 86400


def commit_times(now: datetime) -> st.SearchStrategy[datetime | None]:
    """No commit, a commit on the 7/30/90-day edges (or a microsecond off them),
    or any time from 200 days before ``now`` to 10 days after it."""
    edge = st.builds(
        lambda days, us: now - timedelta(days=days, microseconds=us),
        st.sampled_from([0, 7, 30, 90]),
        st.sampled_from([-1, 0, 1]),
    )
    anywhere = st.builds(
        lambda s, us: now - timedelta(seconds=s, microseconds=us),
        st.integers(-10 * _DAY, 200 * _DAY),
        st.integers(0, 999_999),
    )
    return st.none() | edge | anywhere


def repository_specs(now: datetime) -> st.SearchStrategy[RepositorySpec]:
    return st.builds(
        RepositorySpec,
        project=st.integers(0, 1),
        name=st.sampled_from(["api", "web", "infra"]),
        provider=st.sampled_from(PROVIDERS),
        created=moments(),
        language=st.none() | st.sampled_from(["Python", "Go", "unknown"]),
        stars=st.integers(0, 2000) | st.sampled_from([999, 1000, 1001]) | st.integers(0, 2**62),
        open_issues=st.integers(0, 40) | st.integers(0, 2**62),
        last_commit=commit_times(now),
        deleted=MAYBE_DELETED,
    )


def recent_moments(now: datetime) -> st.SearchStrategy[datetime]:
    """Message times around the last 30 days before ``now``, often on its edges."""
    edges = st.sampled_from(
        [
            now,
            now + timedelta(microseconds=1),
            now - timedelta(days=30),
            now - timedelta(days=30, microseconds=1),
        ]
    )
    inside = st.builds(lambda s: now - timedelta(seconds=s), st.integers(0, 30 * _DAY))
    around = st.builds(lambda s: now - timedelta(seconds=s), st.integers(-2 * _DAY, 40 * _DAY))
    return edges | inside | around


@st.composite
def mixed_worlds(
    draw: st.DrawFn,
    *,
    conversations: tuple[int, int],
    roles: st.SearchStrategy[str],
    said_at: st.SearchStrategy[datetime],
    max_messages: int,
    may_append: bool,
    max_documents: int,
    doc_type: str,
    provider: str,
) -> World:
    """Projects with conversations (messages said at ``said_at``), documents and
    repositories spread over them, any of them possibly soft-deleted."""
    projects = draw(project_specs(4))
    parent = st.integers(0, len(projects) - 1)
    talks = []
    for _ in range(draw(st.integers(*conversations))):
        said = draw(st.lists(st.tuples(roles, said_at), min_size=1, max_size=max_messages))
        talks.append(
            ConversationSpec(
                project=draw(parent),
                created=draw(moments()),
                messages=said,
                appended=draw(st.integers(0, min(1, len(said)))) if may_append else 0,
                deleted=draw(MAYBE_DELETED),
            )
        )
    documents = [
        DocumentSpec(draw(parent), "Doc", doc_type, draw(moments()), 0, draw(MAYBE_DELETED))
        for _ in range(draw(st.integers(0, max_documents)))
    ]
    repositories = [
        RepositorySpec(draw(parent), "repo", provider, draw(moments()), deleted=draw(MAYBE_DELETED))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return World(projects, talks, documents, repositories)


def activity_worlds() -> st.SearchStrategy[World]:
    """Messages from every role inside and around the 30 days before ACTIVITY_NOW."""
    return mixed_worlds(
        conversations=(2, 5),
        roles=st.sampled_from(ROLES),
        said_at=recent_moments(ACTIVITY_NOW),
        max_messages=3,
        may_append=False,
        max_documents=4,
        doc_type="api",
        provider="github",
    )


def event_worlds() -> st.SearchStrategy[World]:
    """Events anywhere in the span, some messages appended after the create."""
    return mixed_worlds(
        conversations=(1, 3),
        roles=st.just("user"),
        said_at=moments(),
        max_messages=4,
        may_append=True,
        max_documents=3,
        doc_type="adr",
        provider="gitlab",
    )


async def fresh(session: Session, world: World) -> Snapshot:
    await wipe(session)
    await build(session, world)
    return await read_back(session)


async def check_summary(session: Session, name: str, live: Any) -> None:
    """After a refresh, the stored summary equals the live result (live here
    meaning computed with the refresh's ``now``)."""
    refreshed = await BulkOperations.bulk_analytics_refresh(session)
    call = summarised(AnalyticsRepository(session), refreshed)[name]
    if name in ("repository_health", "cross_entity"):
        live = await call()
    stored = await call(use_summary=True)
    assert stored.summary_built_at is not None
    assert live.summary_built_at is None
    assert without_built_at(stored) == without_built_at(live)


@PROPERTY
@given(
    world=project_specs(8).map(lambda projects: World(projects=projects)),
    ranges=st.lists(date_ranges(allow_empty=True), min_size=1, max_size=3),
)
def test_project_metrics_of_generated_datasets(
    portal_engine: PortalEngine, world: World, ranges: list[tuple[datetime | None, datetime | None]]
) -> None:
    portal, engine = portal_engine

    async def scenario() -> None:
        async with engine.session() as session:
            snap = await fresh(session, world)
            analytics = AnalyticsRepository(session)
            live = await analytics.project_metrics()
            assert_matches(live, expected_project_metrics(snap))
            assert_matches(await ProjectRepository(session).analytics_summary(), live)
            for date_range in ranges:
                expected = expected_project_metrics(snap, *date_range)
                assert_matches(await analytics.project_metrics(date_range), expected)
                assert_matches(
                    await ProjectRepository(session).analytics_summary(date_range), expected
                )
            await check_summary(session, "project_metrics", live)

    portal.call(scenario)


@PROPERTY
@given(world=conversation_worlds())
def test_conversation_flow_of_generated_datasets(portal_engine: PortalEngine, world: World) -> None:
    portal, engine = portal_engine

    async def scenario() -> None:
        async with engine.session() as session:
            snap = await fresh(session, world)
            expected = expected_conversation_flow(snap)
            live = await AnalyticsRepository(session).conversation_flow_analysis()
            assert_matches(live, expected)
            assert_matches(await ConversationRepository(session).conversation_analytics(), expected)
            await check_summary(session, "conversation_flow", live)

    portal.call(scenario)


@PROPERTY
@given(documents=st.lists(DOCUMENTS, max_size=7), projects=parents())
def test_document_usage_of_generated_datasets(
    portal_engine: PortalEngine, documents: list[DocumentSpec], projects: list[ProjectSpec]
) -> None:
    portal, engine = portal_engine
    world = World(projects=projects, documents=documents)

    async def scenario() -> None:
        async with engine.session() as session:
            snap = await fresh(session, world)
            live = await AnalyticsRepository(session).document_usage_stats()
            assert_matches(live, expected_document_usage(snap))
            await check_summary(session, "document_usage", live)

    portal.call(scenario)


@PROPERTY
@given(
    repos=st.lists(repository_specs(HEALTH_NOW), max_size=7),
    projects=parents(),
    zone=st.sampled_from(ZONES),
)
def test_repository_health_of_generated_datasets(
    portal_engine: PortalEngine, repos: list[RepositorySpec], projects: list[ProjectSpec], zone: Any
) -> None:
    portal, engine = portal_engine
    world = World(projects=projects, repositories=repos)

    async def scenario() -> None:
        async with engine.session() as session:
            snap = await fresh(session, world)
            now = as_input(HEALTH_NOW, zone)
            live = await AnalyticsRepository(session).repository_health_metrics(now=now)
            assert_matches(live, expected_repository_health(snap, HEALTH_NOW))
            await check_summary(session, "repository_health", live)

    portal.call(scenario)


@PROPERTY
@given(world=activity_worlds(), zone=st.sampled_from(ZONES))
def test_cross_entity_of_generated_datasets(
    portal_engine: PortalEngine, world: World, zone: Any
) -> None:
    portal, engine = portal_engine

    async def scenario() -> None:
        async with engine.session() as session:
            snap = await fresh(session, world)
            now = as_input(ACTIVITY_NOW, zone)
            live = await AnalyticsRepository(session).cross_entity_analytics(now=now)
            assert_matches(live, expected_cross_entity(snap, ACTIVITY_NOW))
            await check_summary(session, "cross_entity", live)

    portal.call(scenario)


@PROPERTY
@given(
    world=event_worlds(),
    date_range=date_ranges(allow_empty=False),
    ranged=st.lists(st.sampled_from(GRANULARITIES), min_size=len(METRICS), max_size=len(METRICS)),
)
def test_time_series_of_generated_datasets(
    portal_engine: PortalEngine,
    world: World,
    date_range: tuple[datetime | None, datetime | None],
    ranged: list[str],
) -> None:
    """Every metric at every granularity without a range, and every metric over
    the drawn range at a drawn granularity."""
    portal, engine = portal_engine

    async def scenario() -> None:
        async with engine.session() as session:
            snap = await fresh(session, world)
            analytics = AnalyticsRepository(session)
            for metric, granularity in itertools.product(METRICS, GRANULARITIES):
                assert_matches(
                    await analytics.time_series_analysis(metric, granularity),
                    expected_time_series(snap, metric, granularity),
                )
            for metric, granularity in zip(METRICS, ranged, strict=True):
                assert_matches(
                    await analytics.time_series_analysis(metric, granularity, date_range),
                    expected_time_series(snap, metric, granularity, *date_range),
                )

    portal.call(scenario)
