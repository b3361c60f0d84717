"""The ``report`` command's HTML page: every analytics result of one database in
one self-contained file (inline CSS and SVG charts, nothing fetched, no script to
run), for people who would rather look at a dashboard than query one.

Command-line only: the package root does not import it, and the library never
needs it. ``build_report`` runs the analytics on a session and renders them;
``render_report`` renders results already at hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..core.session import Session
from ..repositories.analytics import AnalyticsRepository
from ..repositories.repository import RepositoryRepository
from ..schemas.analytics import TimeSeriesData
from ..schemas.common import to_utc
from ..schemas.repository import Repository
from .page import DAILY_LIMIT, LIST_LIMIT, STALE_DAYS, ReportData, render_report

__all__ = ["ReportData", "build_report", "collect_report_data", "render_report"]

Range = tuple[datetime | None, datetime | None]


async def build_report(
    session: Session, *, date_range: Range = (None, None), now: datetime, source: str = ""
) -> str:
    """The HTML page of the database behind ``session`` (``source`` names it in the title)."""
    data = await collect_report_data(session, date_range=date_range, now=now, source=source)
    return render_report(data)


async def collect_report_data(
    session: Session, *, date_range: Range = (None, None), now: datetime, source: str = ""
) -> ReportData:
    """Every analytics result the page shows. ``date_range`` (``[start, end)``,
    naive = UTC) narrows the project metrics and the projects-created series;
    ``now`` fixes repository health and the activity window."""
    start, end = (None if moment is None else to_utc(moment) for moment in date_range)
    moment = to_utc(now)
    analytics = AnalyticsRepository(session)
    return ReportData(
        source=source,
        start=start,
        end=end,
        now=moment,
        projects=await analytics.project_metrics((start, end)),
        projects_created=await _projects_created(analytics, start, end),
        conversations=await analytics.conversation_flow_analysis(),
        documents=await analytics.document_usage_stats(),
        repositories=await analytics.repository_health_metrics(now=moment),
        stale=await _stale(RepositoryRepository(session), moment),
        activity=await analytics.cross_entity_analytics(now=moment),
    )


async def _projects_created(
    analytics: AnalyticsRepository, start: datetime | None, end: datetime | None
) -> TimeSeriesData:
    """Projects created per day, or per week when that would take more than
    ``DAILY_LIMIT`` points. A known span longer than that skips the daily query
    (it could be millions of empty days)."""
    if start is None or end is None or end - start <= timedelta(days=DAILY_LIMIT):
        daily = await analytics.time_series_analysis("projects_created", "day", (start, end))
        if len(daily.points) <= DAILY_LIMIT:
            return daily
    return await analytics.time_series_analysis("projects_created", "week", (start, end))


async def _stale(repositories: RepositoryRepository, now: datetime) -> list[Repository]:
    """The first ``LIST_LIMIT`` stale repositories as of ``now`` (no commit in the
    ``STALE_DAYS`` days before it, as the health metrics count them): never
    committed first, then oldest commit first."""
    never = await repositories.list(LIST_LIMIT, last_commit_at__isnull=True)
    old = await repositories.list(
        LIST_LIMIT - len(never),
        last_commit_at__lt=now - timedelta(days=STALE_DAYS),
        order_by="last_commit_at",
    )
    return never + old
