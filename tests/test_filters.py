"""Keyword filters of ``list``/``count``/``exists`` against a plain-Python model
of the lookups documented in ``project_architect_db.queries.filters``.

The property tests run through a BlockingPortal (asyncio and trio). Each test
writes one varied data set (NULLs, duplicates, mixed case, shared prefixes) with
``bulk_create``, reads it back, and hypothesis then draws filters over it: the
rows the database returns must be exactly the rows the Python model keeps.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import PortalEngine, project_data, repository_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project_architect_db import (
    BaseRepository,
    DatabaseEngine,
    InvalidQueryError,
    ProjectRepository,
    ProjectStatus,
    RepositoryProvider,
    RepositoryRepository,
    Session,
)

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

ALL_LOOKUPS = (
    "exact",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "contains",
    "startswith",
    "isnull",
)
TEXT_ONLY = frozenset({"contains", "startswith"})
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}

#: ASCII only, so Python's str.lower() and DuckDB's lower() agree; '%' and '_'
#: would be wildcards if a lookup were (wrongly) built on LIKE.
ALPHABET = "abcABCxyzXYZ _%"

# -- the Python model of the lookups --------------------------------------------------


def _as_utc(value: Any) -> Any:
    """Filter values as the library takes them: a naive datetime is UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def split_key(key: str) -> tuple[str, str]:
    if "__" not in key:
        return key, "exact"
    field, _, lookup = key.rpartition("__")
    return field, lookup


def matches(stored: Any, lookup: str, value: Any) -> bool:
    """Whether a stored value passes ``lookup=value``, per the filters docstring."""
    if lookup == "exact":
        return stored is None if value is None else stored is not None and stored == _as_utc(value)
    if lookup == "ne":
        return stored is not None if value is None else stored is None or stored != _as_utc(value)
    if lookup in COMPARISONS:
        return stored is not None and COMPARISONS[lookup](stored, _as_utc(value))
    if lookup == "in":
        return stored is not None and any(stored == _as_utc(item) for item in value)
    if lookup == "not_in":
        return stored is None or all(stored != _as_utc(item) for item in value)
    if lookup == "contains":
        return stored is not None and value.lower() in stored.lower()
    if lookup == "startswith":
        return stored is not None and stored.startswith(value)
    if lookup == "isnull":
        return (stored is None) is value
    raise AssertionError(f"no model for lookup {lookup!r}")


def python_filter(rows: Sequence[Any], filters: dict[str, Any]) -> list[int]:
    """Ids of the rows every filter keeps (AND), in id order like ``list()``."""
    kept = []
    for row in rows:
        if all(
            matches(getattr(row, split_key(key)[0]), split_key(key)[1], value)
            for key, value in filters.items()
        ):
            kept.append(row.id)
    return kept


# -- data sets ------------------------------------------------------------------------

BASE_TIME = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)

PROJECT_NAMES = [
    "alpha",
    "Alpha",
    "ALPHA",
    "alphabet",
    "alp",
    "Alpaca",
    "beta",
    "Beta",
    "b",
    "gamma ray",
    "al_pha",
    "100%",
    "alpha",
    "x",
]
DESCRIPTIONS = [None, "", "Fast API", "fast api service", "FAST", "api", "An API for Alpha", None]
IDEAS = [
    "Map every service",
    "map every SERVICE",
    "Track every build",
    "track builds fast",
    "Mapping things out",
]
STATUSES = [status.value for status in ProjectStatus]


async def make_projects(engine: DatabaseEngine) -> list[Any]:
    """36 live projects (and one soft-deleted one the filters must never return)."""
    async with engine.session() as session:
        projects = ProjectRepository(session)
        created = await projects.bulk_create(
            [
                project_data(
                    name=PROJECT_NAMES[i % len(PROJECT_NAMES)],
                    description=DESCRIPTIONS[(i * 5) % len(DESCRIPTIONS)],
                    project_idea=IDEAS[(i * 3) % len(IDEAS)],
                    status=STATUSES[(i * 7 // 3) % len(STATUSES)],
                )
                for i in range(37)
            ]
        )
        # Shared and distinct creation times (one a microsecond off another), set
        # in one statement; the API itself always stamps now().
        moments = [
            BASE_TIME + timedelta(hours=i % 9, microseconds=1 if i % 11 == 0 else 0)
            for i in range(len(created))
        ]
        await session.execute(
            "UPDATE projects SET created_at = stamps.moment "
            "FROM (SELECT unnest($ids) AS id, unnest($moments) AS moment) AS stamps "
            "WHERE projects.id = stamps.id",
            {"ids": [project.id for project in created], "moments": moments},
        )
        # Sets updated_at (and completed_at for those not completed yet).
        await projects.bulk_update([{"id": p.id, "status": "completed"} for p in created[::4]])
        await projects.delete(created[-1].id)
        rows = await projects.list(limit=10_000)
    assert len(rows) == 36
    assert {row.description for row in rows} >= {None, ""}
    assert any(row.updated_at is None for row in rows)
    assert any(row.updated_at is not None for row in rows)
    assert any(row.completed_at is not None for row in rows)
    return rows


REPO_NAMES = ["atlas-api", "Atlas-API", "atlas", "atlas-web", "beacon", "Beacon", "b_c", "50%"]
LANGUAGES = [None, "Python", "python", "PYTHON", "Py", "Rust", None, "TypeScript", "Type", "Go"]
STARS = [0, 1, 1, 7, 42, 42, 1000, 2**63 - 1]
ISSUES = [0, 0, 3, 5, 12, 5]
COMMITS: list[datetime | None] = [
    None,
    BASE_TIME,
    BASE_TIME,
    BASE_TIME + timedelta(microseconds=1),
    datetime(2024, 3, 1, 15, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2023, 12, 31, 23, 59, 59),  # naive: stored as UTC
    None,
    BASE_TIME - timedelta(days=400),
]
PROVIDERS = [provider.value for provider in RepositoryProvider]


async def make_repositories(engine: DatabaseEngine) -> list[Any]:
    """32 live code repositories over two projects (plus one soft-deleted)."""
    async with engine.session() as session:
        parents = await ProjectRepository(session).bulk_create(
            [project_data(name="one"), project_data(name="two")]
        )
        repositories = RepositoryRepository(session)
        created = await repositories.bulk_create(
            [
                repository_data(
                    parents[i % 2].id,
                    name=REPO_NAMES[i % len(REPO_NAMES)],
                    url=f"https://github.com/example/{REPO_NAMES[(i * 3) % len(REPO_NAMES)]}",
                    provider=PROVIDERS[(i * 5 // 2) % len(PROVIDERS)],
                    default_branch=["main", "Main", "master", "dev"][i % 4],
                    primary_language=LANGUAGES[(i * 3) % len(LANGUAGES)],
                    stars=STARS[(i * 5) % len(STARS)],
                    open_issues=ISSUES[i % len(ISSUES)],
                    last_commit_at=COMMITS[(i * 3) % len(COMMITS)],
                )
                for i in range(33)
            ]
        )
        await repositories.bulk_update([{"id": r.id, "open_issues": 5} for r in created[::5]])
        await repositories.delete(created[-1].id)
        rows = await repositories.list(limit=10_000)
    assert len(rows) == 32
    assert any(row.primary_language is None for row in rows)
    assert any(row.last_commit_at is None for row in rows)
    return rows


@pytest.fixture
def project_rows(portal_engine: PortalEngine) -> list[Any]:
    portal, engine = portal_engine
    return portal.call(make_projects, engine)


@pytest.fixture
def repository_rows(portal_engine: PortalEngine) -> list[Any]:
    portal, engine = portal_engine
    return portal.call(make_repositories, engine)


# -- filter strategies ------------------------------------------------------------------

#: field -> kind, for every filterable column of each read model.
PROJECT_FIELDS = {
    "id": "int",
    "version": "int",
    "name": "text",
    "description": "text",
    "project_idea": "text",
    "status": "enum",
    "created_at": "datetime",
    "updated_at": "datetime",
    "completed_at": "datetime",
    "deleted_at": "datetime",
}
REPOSITORY_FIELDS = {
    "id": "int",
    "project_id": "int",
    "name": "text",
    "url": "text",
    "provider": "enum",
    "default_branch": "text",
    "primary_language": "text",
    "stars": "int",
    "open_issues": "int",
    "last_commit_at": "datetime",
    "created_at": "datetime",
    "updated_at": "datetime",
}
ENUM_CHOICES = {"status": STATUSES, "provider": PROVIDERS}
ZONES = [
    None,  # naive: the library reads it as UTC
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-8)),
]
SHIFTS = [
    timedelta(0),
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(microseconds=-1),
    timedelta(hours=1),
    timedelta(days=-1),
]


def _slice(text: str, start: int, length: int, swap: bool) -> str:
    piece = text[start : start + length]
    return piece.swapcase() if swap else piece


def _shifted(moment: datetime, shift: timedelta, zone: Any) -> datetime:
    moved = (moment + shift).astimezone(UTC)
    return moved.replace(tzinfo=None) if zone is None else moved.astimezone(zone)


def present(rows: Sequence[Any], field: str) -> list[Any]:
    return sorted({getattr(row, field) for row in rows} - {None}, key=repr)


def text_values(rows: Sequence[Any], field: str) -> st.SearchStrategy[str]:
    stored = present(rows, field) or ["a"]
    return st.one_of(
        st.sampled_from(stored),
        st.builds(
            _slice, st.sampled_from(stored), st.integers(0, 6), st.integers(0, 6), st.booleans()
        ),
        st.text(ALPHABET, max_size=5),
    )


def scalar_values(kind: str, rows: Sequence[Any], field: str) -> st.SearchStrategy[Any]:
    """A value of the column's type, often one that is stored (or next to one)."""
    stored = present(rows, field)
    if kind == "int":
        near = st.builds(operator.add, st.sampled_from(stored), st.integers(-1, 1))
        edges = st.sampled_from([-1, 0, 2**63 - 1, 2**63, 2**64, -(2**63)])
        return st.one_of(st.sampled_from(stored), near, st.integers(-3, 1100), edges)
    if kind == "enum":
        return st.sampled_from(ENUM_CHOICES[field])
    if kind == "text":
        return text_values(rows, field)
    moments = stored or [BASE_TIME]
    return st.builds(
        _shifted, st.sampled_from(moments), st.sampled_from(SHIFTS), st.sampled_from(ZONES)
    )


def lookups_of(kind: str) -> list[str]:
    return [lookup for lookup in ALL_LOOKUPS if lookup not in TEXT_ONLY or kind in ("text", "enum")]


@st.composite
def one_filter(
    draw: st.DrawFn, spec: dict[str, str], rows: Sequence[Any], field: str, lookup: str
) -> tuple[str, Any]:
    kind = spec[field]
    if lookup == "isnull":
        return f"{field}__isnull", draw(st.booleans())
    if lookup in TEXT_ONLY:
        return f"{field}__{lookup}", draw(text_values(rows, field))
    scalar = scalar_values(kind, rows, field)
    if lookup in ("in", "not_in"):
        items = draw(st.lists(scalar, max_size=4))
        as_tuple = draw(st.booleans())
        return f"{field}__{lookup}", tuple(items) if as_tuple else items
    if lookup == "exact":
        key = draw(st.sampled_from([field, f"{field}__exact"]))
        return key, draw(st.none() | scalar)
    if lookup == "ne":
        return f"{field}__ne", draw(st.none() | scalar)
    return f"{field}__{lookup}", draw(scalar)


@st.composite
def filter_sets(
    draw: st.DrawFn,
    spec: dict[str, str],
    rows: Sequence[Any],
    *,
    lookup: str | None = None,
    size: tuple[int, int] = (1, 1),
) -> dict[str, Any]:
    pairs = [
        (field, each)
        for field, kind in spec.items()
        for each in lookups_of(kind)
        if lookup is None or each == lookup
    ]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=size[0], max_size=size[1], unique=True))
    return dict(draw(one_filter(spec, rows, field, each)) for field, each in chosen)


# -- running filters ----------------------------------------------------------------------


async def run_filters(
    engine: DatabaseEngine,
    repository: type[BaseRepository[Any]],
    filter_list: list[dict[str, Any]],
) -> list[tuple[list[int], int, bool]]:
    """For each set of filters: the ids ``list`` returns, ``count`` and ``exists``."""
    results = []
    async with engine.session() as session:
        repo = repository(session)
        for filters in filter_list:
            listed = [row.id for row in await repo.list(limit=10_000, **filters)]
            results.append((listed, await repo.count(**filters), await repo.exists(**filters)))
    return results


def check_against_python(
    portal_engine: PortalEngine,
    repository: type[BaseRepository[Any]],
    rows: Sequence[Any],
    filter_list: list[dict[str, Any]],
) -> None:
    portal, engine = portal_engine
    results = portal.call(run_filters, engine, repository, filter_list)
    for filters, (listed, counted, found) in zip(filter_list, results, strict=True):
        expected = python_filter(rows, filters)
        assert listed == expected, filters
        assert counted == len(expected), filters
        assert found is bool(expected), filters


# -- property tests -------------------------------------------------------------------------
#
# Each example draws one filter for every lookup (so all of them are exercised in
# every example) and runs them one by one.


@PROPERTY
@given(data=st.data())
def test_every_project_lookup_matches_python(
    portal_engine: PortalEngine, project_rows: list[Any], data: st.DataObject
) -> None:
    drawn = [
        data.draw(filter_sets(PROJECT_FIELDS, project_rows, lookup=lookup), label=lookup)
        for lookup in ALL_LOOKUPS
    ]
    check_against_python(portal_engine, ProjectRepository, project_rows, drawn)


@PROPERTY
@given(data=st.data())
def test_every_repository_lookup_matches_python(
    portal_engine: PortalEngine, repository_rows: list[Any], data: st.DataObject
) -> None:
    drawn = [
        data.draw(filter_sets(REPOSITORY_FIELDS, repository_rows, lookup=lookup), label=lookup)
        for lookup in ALL_LOOKUPS
    ]
    check_against_python(portal_engine, RepositoryRepository, repository_rows, drawn)


@PROPERTY
@given(data=st.data())
def test_combined_project_filters_are_anded(
    portal_engine: PortalEngine, project_rows: list[Any], data: st.DataObject
) -> None:
    drawn = [data.draw(filter_sets(PROJECT_FIELDS, project_rows, size=(2, 3))) for _ in range(3)]
    assert all(len(filters) >= 2 for filters in drawn)
    check_against_python(portal_engine, ProjectRepository, project_rows, drawn)


@PROPERTY
@given(data=st.data())
def test_combined_repository_filters_are_anded(
    portal_engine: PortalEngine, repository_rows: list[Any], data: st.DataObject
) -> None:
    drawn = [
        data.draw(filter_sets(REPOSITORY_FIELDS, repository_rows, size=(2, 3))) for _ in range(3)
    ]
    assert all(len(filters) >= 2 for filters in drawn)
    check_against_python(portal_engine, RepositoryRepository, repository_rows, drawn)


# -- documented semantics, spelled out ------------------------------------------------------


async def test_null_handling_of_each_lookup(session: Session) -> None:
    projects = ProjectRepository(session)
    with_null, empty, fast, upper = await projects.bulk_create(
        [
            project_data(name="n", description=None),
            project_data(name="e", description=""),
            project_data(name="f", description="Fast API"),
            project_data(name="u", description="FAST"),
        ]
    )

    async def names(**filters: Any) -> list[str]:
        return [row.name for row in await projects.list(**filters)]

    assert await names(description=None) == ["n"]
    assert await names(description__exact="") == ["e"]
    assert await names(description__ne=None) == ["e", "f", "u"]
    assert await names(description__ne="FAST") == ["n", "e", "f"]  # NULL differs from everything
    assert await names(description__lt="G") == ["e", "f", "u"]  # NULL never compares
    assert await names(description__gte="") == ["e", "f", "u"]
    assert await names(description__in=["", "FAST"]) == ["e", "u"]
    assert await names(description__in=[]) == []
    assert await names(description__in={"", "FAST"}) == ["e", "u"]  # any collection
    assert await names(description__in=("Fast API",)) == ["f"]
    assert await names(description__not_in=["FAST"]) == ["n", "e", "f"]
    assert await names(description__not_in=[]) == ["n", "e", "f", "u"]
    assert await names(description__contains="fast") == ["f", "u"]  # ignores case
    assert await names(description__contains="") == ["e", "f", "u"]  # NULL contains nothing
    assert await names(description__startswith="Fast") == ["f"]  # case-sensitive
    assert await names(description__startswith="fast") == []
    assert await names(description__isnull=True) == ["n"]
    assert await names(description__isnull=False) == ["e", "f", "u"]
    assert {with_null.id, empty.id, fast.id, upper.id} == {p.id for p in await projects.list()}


# -- refused before any SQL runs ------------------------------------------------------------

BAD_FILTERS = [
    pytest.param(ProjectRepository, {"colour": "red"}, ["colour"], id="unknown-field"),
    pytest.param(ProjectRepository, {"name__like": "a%"}, ["like", "name__like"], id="lookup"),
    pytest.param(ProjectRepository, {"name__": "a"}, ["name__"], id="empty-lookup"),
    pytest.param(RepositoryRepository, {"stars__gt": [1, 2]}, ["stars__gt"], id="list-for-gt"),
    pytest.param(ProjectRepository, {"name": ["alpha"]}, ["name"], id="list-for-exact"),
    pytest.param(ProjectRepository, {"name__in": "alpha"}, ["name__in"], id="scalar-for-in"),
    pytest.param(RepositoryRepository, {"stars__not_in": 5}, ["stars__not_in"], id="int-not-in"),
    pytest.param(ProjectRepository, {"name__in": ["a", None]}, ["name__in"], id="none-in-list"),
    pytest.param(
        ProjectRepository, {"description__isnull": "yes"}, ["description__isnull"], id="isnull"
    ),
    pytest.param(RepositoryRepository, {"stars__contains": "1"}, ["stars"], id="contains-int"),
    pytest.param(RepositoryRepository, {"stars__startswith": "1"}, ["stars"], id="startswith-int"),
    pytest.param(ProjectRepository, {"name__contains": 5}, ["name__contains"], id="contains-int-v"),
    pytest.param(
        RepositoryRepository, {"stars__gt": "many"}, ["stars__gt", "many"], id="wrong-type"
    ),
    pytest.param(
        RepositoryRepository,
        {"last_commit_at__gte": "not a date"},
        ["last_commit_at__gte"],
        id="wrong-datetime",
    ),
    pytest.param(ProjectRepository, {"name__gt": None}, ["name__gt"], id="compare-none"),
    pytest.param(ProjectRepository, {"status": "paused"}, ["status", "paused"], id="bad-enum"),
    pytest.param(
        ProjectRepository, {"architecture": {"framework": "x"}}, ["architecture"], id="json"
    ),
    pytest.param(
        ProjectRepository, {"architecture__isnull": True}, ["architecture"], id="json-isnull"
    ),
    pytest.param(
        ProjectRepository,
        {"name": "alpha", "colour__in": ["red"]},
        ["colour"],
        id="second-filter-bad",
    ),
]


async def test_bad_filters_raise_invalid_query_error_before_sql(engine: DatabaseEngine) -> None:
    # One engine for every case (a parametrized test would open one per case).
    async with engine.session() as session:
        for case in BAD_FILTERS:
            repository, filters, names = case.values
            label = f"list_{repository.table}"
            repo = repository(session)
            await repo.list()  # so the stats have an entry to compare with
            before = engine.stats().queries.get(label)
            assert before is not None
            calls: list[Callable[[], Any]] = [
                lambda repo=repo, filters=filters: repo.list(**filters),
                lambda repo=repo, filters=filters: repo.count(**filters),
                lambda repo=repo, filters=filters: repo.exists(**filters),
                lambda repo=repo, filters=filters: repo.list_and_count(**filters),
                lambda repo=repo, filters=filters: repo.query().filter(**filters).all(),
            ]
            for call in calls:
                with pytest.raises(InvalidQueryError) as caught:
                    await call()
                assert isinstance(caught.value, ValueError), case.id
                for name in names:
                    assert name in str(caught.value), (case.id, str(caught.value))
            assert engine.stats().queries.get(label) == before, case.id


# -- hostile values are only ever values ------------------------------------------------------

HOSTILE = [
    "'",
    "''",
    '"',
    "%",
    "_",
    "%_%",
    "\\",
    "\\%",
    "\\_",
    "a%c",
    "a_c",
    "'; DROP TABLE projects; --",
    "' OR '1'='1",
    "x' UNION SELECT * FROM projects --",
    "UNION SELECT",
    "union select 1",
    "$1",
    "$f0",
    ":name",
    "?",
    "line\nbreak\ttab",
    "😀",
    "rocket 🚀 LAUNCH",
    "a" * 10_000,
]


async def test_hostile_strings_are_matched_as_plain_values(session: Session) -> None:
    projects = ProjectRepository(session)
    stored = ["abc", "ABC", "a-c", "x UNION SELECT y", "Rocket 🚀 launch", "a" * 255, *HOSTILE]
    await projects.bulk_create(
        [
            project_data(
                name=text[:255] or "empty",
                description=text[:5000],
                project_idea=(text + " is the idea of it")[:10_000],
            )
            for text in stored
        ]
    )
    await projects.create(project_data(name="plain", description=None))
    table_count = await session.execute("SELECT count(*) AS n FROM projects")
    rows = await projects.list(limit=10_000)
    assert len(rows) == len(stored) + 1

    checked = 0
    for value in HOSTILE:
        for field in ("name", "description", "project_idea"):
            for lookup in ("contains", "startswith", "exact"):
                filters = {f"{field}__{lookup}": value}
                listed = [row.id for row in await projects.list(limit=10_000, **filters)]
                assert listed == python_filter(rows, filters), filters
                checked += bool(listed)
    assert checked > len(HOSTILE)  # the values did find rows, not just nothing
    in_list = {"name__in": HOSTILE}
    assert [row.id for row in await projects.list(limit=10_000, **in_list)] == python_filter(
        rows, in_list
    )
    not_in = {"description__not_in": HOSTILE}
    assert await projects.count(**not_in) == len(python_filter(rows, not_in))

    assert await session.execute("SELECT count(*) AS n FROM projects") == table_count
    assert await projects.count() == len(rows)
