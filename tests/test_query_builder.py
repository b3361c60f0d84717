"""QueryBuilder: the issue's example, immutability, date ranges, JSON filters,
ordering and keyset pages.

Rows cannot be given a ``created_at`` through the API (it is always now()), so
tests that need a spread of creation times set it with one raw UPDATE.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import pytest
from helpers import PortalEngine, document_data, project_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project_architect_db import (
    DatabaseEngine,
    Document,
    DocumentRepository,
    InvalidQueryError,
    Project,
    ProjectRepository,
    Session,
)
from project_architect_db.queries.builder import QueryBuilder

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

BASE = datetime(2024, 5, 1, tzinfo=UTC)
FASTAPI = {"framework": "FastAPI"}


async def set_created_at(session: Session, moments: dict[int, datetime]) -> None:
    """Give rows chosen creation times (the API always stamps now())."""
    await session.execute(
        "UPDATE projects SET created_at = stamps.moment "
        "FROM (SELECT unnest($ids) AS id, unnest($moments) AS moment) AS stamps "
        "WHERE projects.id = stamps.id",
        {"ids": list(moments), "moments": list(moments.values())},
    )


def terms_of(ordering: Sequence[str]) -> list[tuple[str, bool]]:
    """``("-a", "b")`` -> ``[("a", True), ("b", False)]``, ending with id like the library."""
    terms = [(item.lstrip("-"), item.startswith("-")) for item in ordering]
    if "id" in [name for name, _ in terms]:
        return terms[: [name for name, _ in terms].index("id") + 1]
    return [*terms, ("id", False)]


def python_order(rows: Sequence[Any], ordering: Sequence[str]) -> list[Any]:
    """Rows sorted like ``ORDER BY f1, f2 ... , id`` with NULLS LAST in both directions."""
    ordered = list(rows)
    for name, descending in reversed(terms_of(ordering)):
        present = [row for row in ordered if getattr(row, name) is not None]
        missing = [row for row in ordered if getattr(row, name) is None]
        present.sort(key=lambda row, name=name: getattr(row, name), reverse=descending)
        ordered = present + missing
    return ordered


def ids(rows: Sequence[Any]) -> list[int]:
    return [row.id for row in rows]


async def all_pages(query: QueryBuilder[Any], size: int) -> tuple[list[Any], list[int]]:
    """Every row, page by page; and the size of each page."""
    items: list[Any] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(1000):
        page = await query.page(size, after=cursor)
        items.extend(page.items)
        sizes.append(len(page.items))
        cursor = page.next_cursor
        if cursor is None:
            return items, sizes
    raise AssertionError("paging did not end")


# -- the issue's example ------------------------------------------------------------------


async def test_issue_example_runs_as_written(session: Session) -> None:
    start_date, end_date = BASE, BASE + timedelta(days=31)
    specs: list[tuple[str, str, dict[str, Any] | None, datetime]] = [
        ("in-a", "active", FASTAPI, BASE + timedelta(days=3)),
        ("in-b", "active", FASTAPI, BASE + timedelta(days=10)),
        ("in-c", "active", {**FASTAPI, "complexity_score": 3}, BASE + timedelta(days=10)),
        ("at-start", "active", FASTAPI, start_date),  # start is inclusive
        ("latest", "active", FASTAPI, end_date - timedelta(microseconds=1)),
        ("at-end", "active", FASTAPI, end_date),  # end is exclusive
        ("before", "active", FASTAPI, start_date - timedelta(microseconds=1)),
        ("draft", "draft", FASTAPI, BASE + timedelta(days=5)),
        ("completed", "completed", FASTAPI, BASE + timedelta(days=5)),
        ("django", "active", {"framework": "Django"}, BASE + timedelta(days=5)),
        ("lowercase", "active", {"framework": "fastapi"}, BASE + timedelta(days=5)),
        ("no-architecture", "active", None, BASE + timedelta(days=5)),
        ("nested", "active", {"stack": FASTAPI}, BASE + timedelta(days=5)),
        ("in-a-list", "active", {"framework": ["FastAPI"]}, BASE + timedelta(days=5)),
        ("deleted", "active", FASTAPI, BASE + timedelta(days=6)),
    ]
    repo = ProjectRepository(session)
    created = await repo.bulk_create(
        [
            project_data(name=name, status=status, architecture=arch)
            for name, status, arch, _ in specs
        ]
    )
    await set_created_at(session, {p.id: spec[3] for p, spec in zip(created, specs, strict=True)})
    await repo.delete(created[-1].id)

    projects = await (
        QueryBuilder(Project, session)
        .filter(status="active")
        .filter_by_date_range("created_at", start_date, end_date)
        .filter_json("architecture", "$.framework", "FastAPI")
        .order_by("-created_at")
        .limit(50)
        .all()
    )

    # Newest first; in-b and in-c share a created_at, so the lower id comes first.
    assert [p.name for p in projects] == ["latest", "in-b", "in-c", "in-a", "at-start"]
    assert all(isinstance(p, Project) for p in projects)
    assert projects[0].created_at == end_date - timedelta(microseconds=1)
    limited = await (
        QueryBuilder(Project, session)
        .filter(status="active")
        .filter_by_date_range("created_at", start_date, end_date)
        .filter_json("architecture", "$.framework", "FastAPI")
        .order_by("-created_at")
        .limit(2)
        .all()
    )
    assert [p.name for p in limited] == ["latest", "in-b"]


async def test_issue_example_with_a_window_around_creation(session: Session) -> None:
    repo = ProjectRepository(session)
    await repo.create(project_data(name="too early", status="active"))
    await anyio.sleep(0.01)
    start_date = datetime.now(UTC)
    first = await repo.create(project_data(name="first", status="active"))
    await repo.create(project_data(name="inactive", status="draft"))
    await repo.create(
        project_data(name="other", status="active", architecture={"framework": "Flask"})
    )
    second = await repo.create(project_data(name="second", status="active"))
    await anyio.sleep(0.01)
    end_date = datetime.now(UTC)
    await anyio.sleep(0.01)
    await repo.create(project_data(name="too late", status="active"))

    projects = await (
        QueryBuilder(Project, session)
        .filter(status="active")
        .filter_by_date_range("created_at", start_date, end_date)
        .filter_json("architecture", "$.framework", "FastAPI")
        .order_by("-created_at")
        .limit(50)
        .all()
    )
    assert projects == [second, first]


# -- immutability ---------------------------------------------------------------------------


async def test_refinements_of_a_shared_base_are_independent(session: Session) -> None:
    repo = ProjectRepository(session)
    made = await repo.bulk_create(
        [
            project_data(name="Apollo", status="active"),
            project_data(name="Artemis", status="active", architecture={"framework": "Django"}),
            project_data(name="Borealis", status="active"),
            project_data(name="Aurora", status="draft"),
        ]
    )
    await repo.delete(made[2].id)
    base = QueryBuilder(Project, session).filter(status="active")
    before = await base.all()
    assert [p.name for p in before] == ["Apollo", "Artemis"]

    starts_a = base.filter(name__startswith="Ar")
    newest = base.order_by("-name").limit(1)
    deleted_too = base.include_deleted()
    fastapi = base.filter_json("architecture", "$.framework", "FastAPI")
    narrower = starts_a.filter(description__isnull=False)

    assert [p.name for p in await starts_a.all()] == ["Artemis"]
    assert [p.name for p in await newest.all()] == ["Artemis"]
    assert [p.name for p in await deleted_too.all()] == ["Apollo", "Artemis", "Borealis"]
    assert [p.name for p in await fastapi.all()] == ["Apollo"]
    assert await narrower.all() == []
    # Refining did not change the base, nor one refinement the other.
    assert await base.all() == before
    assert await base.count() == 2
    assert [p.name for p in await starts_a.all()] == ["Artemis"]
    for refined in (starts_a, newest, deleted_too, fastapi, narrower):
        assert refined is not base

    # Many conditions on one builder (parameters c0 .. c11 must not clash).
    many = base
    for _ in range(6):
        many = many.filter(name__ne="Zed").filter_json("architecture", "$.framework", "FastAPI")
    many = many.filter_by_date_range("created_at", None, datetime.now(UTC) + timedelta(days=1))
    assert [p.name for p in await many.all()] == ["Apollo"]
    assert await many.count() == 1


# -- repo.query() and the terminal methods -------------------------------------------------------


async def test_repository_query_is_a_query_builder_on_its_session(session: Session) -> None:
    repo = ProjectRepository(session)
    made = await repo.bulk_create(
        [
            project_data(name=f"p{i}", status="active" if i % 3 else "draft", description=None)
            for i in range(8)
        ]
    )
    await repo.delete(made[4].id)
    active = [p for p in made if p.status == "active" and p.id != made[4].id]

    query = repo.query()
    assert isinstance(query, QueryBuilder)
    assert await query.all() == await QueryBuilder(Project, session).all()
    by_hand = QueryBuilder(Project, session).filter(status="active").order_by("-name")
    from_repo = repo.query().filter(status="active").order_by("-name")
    assert await from_repo.all() == await by_hand.all()
    assert ids(await from_repo.all()) == ids(sorted(active, key=lambda p: p.name, reverse=True))

    assert await from_repo.first() == (await by_hand.all())[0]
    assert await from_repo.offset(2).first() == (await by_hand.all())[2]
    assert await repo.query().filter(name="nobody").first() is None

    paged = from_repo.limit(2).offset(1)
    assert ids(await paged.all()) == ids((await from_repo.all())[1:3])
    assert await paged.count() == len(active)  # limit and offset do not apply
    assert await from_repo.offset(3).all() == (await from_repo.all())[3:]
    assert await from_repo.offset(100).all() == []
    assert await from_repo.limit(0).all() == []

    assert await from_repo.exists() is True
    assert await from_repo.offset(100).exists() is True
    assert await repo.query().filter(name="nobody").exists() is False

    assert await paged.all_and_count() == (await paged.all(), await paged.count())
    empty = repo.query().filter(name="nobody")
    assert await empty.all_and_count() == ([], 0)

    assert made[4].id not in ids(await repo.query().all())
    with_deleted = repo.query().include_deleted()
    assert made[4].id in ids(await with_deleted.all())
    assert await with_deleted.count() == 8
    assert await repo.query().count() == 7
    assert await with_deleted.filter(name="p4").exists() is True
    assert await repo.query().filter(name="p4").exists() is False


async def test_query_builder_refuses_what_is_not_a_read_model(session: Session) -> None:
    for model in (ProjectRepository, dict, "Project", Project.__base__):
        with pytest.raises(InvalidQueryError):
            QueryBuilder(model, session)  # type: ignore[arg-type]
    documents = await QueryBuilder(Document, session).all()
    assert documents == []


async def test_list_and_count_is_list_and_count(session: Session) -> None:
    repo = ProjectRepository(session)
    made = await repo.bulk_create(
        [project_data(name=f"n{i % 4}", status="active" if i % 2 else "draft") for i in range(11)]
    )
    await repo.delete(made[1].id)
    for arguments, filters in [
        ({}, {}),
        ({"limit": 2, "offset": 1, "order_by": "-name"}, {"status": "active"}),
        ({"limit": 3, "order_by": ["name", "-id"]}, {"name__in": ["n1", "n2"]}),
        ({"offset": 50}, {}),
        ({"include_deleted": True, "limit": 4}, {"status": "active"}),
        ({"limit": 5}, {"name": "nobody"}),
    ]:
        include = {k: v for k, v in arguments.items() if k == "include_deleted"}
        items, total = await repo.list_and_count(**arguments, **filters)
        assert items == await repo.list(**arguments, **filters)
        assert total == await repo.count(**include, **filters)
    assert (await repo.list_and_count(status="active"))[1] == 4  # one active row is deleted
    assert (await repo.list_and_count(status="active", include_deleted=True))[1] == 5


# -- filter_by_date_range ---------------------------------------------------------------------


async def test_filter_by_date_range_is_inclusive_start_exclusive_end(session: Session) -> None:
    repo = ProjectRepository(session)
    made = await repo.bulk_create([project_data(name=f"t{i}") for i in range(5)])
    hours = [BASE + timedelta(hours=i) for i in range(5)]
    await set_created_at(session, {p.id: t for p, t in zip(made, hours, strict=True)})
    query = repo.query()

    async def names(start: datetime | None, end: datetime | None) -> list[str]:
        return [p.name for p in await query.filter_by_date_range("created_at", start, end).all()]

    assert await names(hours[1], hours[3]) == ["t1", "t2"]
    assert await names(hours[1] + timedelta(microseconds=1), hours[3]) == ["t2"]
    assert await names(hours[1], hours[3] + timedelta(microseconds=1)) == ["t1", "t2", "t3"]
    assert await names(None, hours[2]) == ["t0", "t1"]
    assert await names(hours[3], None) == ["t3", "t4"]
    assert await names(None, None) == ["t0", "t1", "t2", "t3", "t4"]
    assert await names(hours[2], hours[2]) == []  # an empty window is allowed

    # Naive bounds are UTC; aware ones in any zone mean the same instant.
    naive = (hours[1].replace(tzinfo=None), hours[3].replace(tzinfo=None))
    assert await names(*naive) == await names(hours[1], hours[3])
    assert await names(naive[0], None) == await names(hours[1], None)
    assert await names(None, naive[1]) == await names(None, hours[3])
    plus_five = timezone(timedelta(hours=5))
    assert await names(hours[1].astimezone(plus_five), hours[3].astimezone(plus_five)) == [
        "t1",
        "t2",
    ]
    # 2024-05-01 01:00 naive is 01:00 UTC, not 01:00 local time somewhere.
    assert await names(datetime(2024, 5, 1, 1), datetime(2024, 5, 1, 2)) == ["t1"]

    # Combined with other conditions, and on a nullable datetime column.
    assert [
        p.name
        for p in await query.filter(name__ne="t2")
        .filter_by_date_range("created_at", hours[1], hours[4])
        .all()
    ] == ["t1", "t3"]
    completed = await repo.update(made[0].id, {"status": "completed"})
    assert completed.completed_at is not None
    window = (completed.completed_at, completed.completed_at + timedelta(seconds=1))
    assert ids(await query.filter_by_date_range("completed_at", *window).all()) == [made[0].id]


async def test_filter_by_date_range_refuses_bad_input(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        query = ProjectRepository(session).query()
        await query.all()
        before = engine.stats().queries.get("list_projects")
        bad: list[tuple[str, Any, Any, str]] = [
            ("name", BASE, None, "'name'"),
            ("status", None, BASE, "'status'"),
            ("version", BASE, None, "'version'"),
            ("architecture", BASE, None, "architecture"),
            ("colour", BASE, None, "colour"),
            ("created_at", BASE, BASE - timedelta(microseconds=1), "before"),
            ("created_at", BASE, BASE.replace(tzinfo=None) - timedelta(days=1), "before"),
            ("created_at", "2024-05-01", None, "start"),
            ("created_at", None, 20240501, "end"),
        ]
        for field, start, end, message in bad:
            with pytest.raises(InvalidQueryError, match=message):
                query.filter_by_date_range(field, start, end)
        assert engine.stats().queries.get("list_projects") == before


# -- filter_json ------------------------------------------------------------------------------


async def test_filter_json_compares_json_scalars_by_type(session: Session) -> None:
    repo = ProjectRepository(session)
    architectures: dict[str, dict[str, Any] | None] = {
        "number": {
            "framework": "FastAPI",
            "n": 7,
            "stack": {"backend": "Go", "db": {"name": "duckdb"}},
            "tags": ["web", "api"],
        },
        "string": {"n": "7", "flag": True, "tags": ["api", "web"]},
        "fraction": {"n": 7.5, "stack": {"backend": "Rust"}},
        "one": {"n": 1, "flag": 1},
        "nulls": {"n": None, "flag": None, "stack": {"backend": None}},
        "missing": {"other": 1},
        "sql-null": None,
        "text-true": {"flag": "true", "n": "seven"},
        "false": {"flag": False, "n": 0},
        "nested-list": {"n": [7], "flag": [True]},
        "negative": {"n": -7},
        "object": {"n": {"value": 7}},
        "escapes": {"s": 'quote " back \\ slash', "u": "naïve 🚀", "q": "it's"},
    }
    made = await repo.bulk_create(
        [project_data(name=name, architecture=arch) for name, arch in architectures.items()]
    )
    by_name = {p.name: p.id for p in made}
    query = repo.query()

    async def names(path: str, value: Any, field: str = "architecture") -> list[str]:
        found = await query.filter_json(field, path, value).all()
        return [p.name for p in found]

    assert await names("$.n", 7) == ["number"]
    assert await names("$.n", "7") == ["string"]
    assert await names("$.n", 7.5) == ["fraction"]
    assert await names("$.n", -7) == ["negative"]
    assert await names("$.n", 0) == ["false"]
    assert await names("$.n", "seven") == ["text-true"]
    assert await names("$.flag", True) == ["string"]  # not the number 1, not "true"
    assert await names("$.flag", 1) == ["one"]  # not true
    assert await names("$.flag", False) == ["false"]  # not 0, not null
    assert await names("$.flag", "true") == ["text-true"]
    assert await names("$.n", None) == ["nulls"]  # JSON null, not a missing key or SQL NULL
    assert await names("$.flag", None) == ["nulls"]
    assert await names("$.stack.backend", "Go") == ["number"]
    assert await names("$.stack.backend", None) == ["nulls"]
    assert await names("$.stack.db.name", "duckdb") == ["number"]
    assert await names("$.tags[0]", "web") == ["number"]
    assert await names("$.tags[1]", "web") == ["string"]
    assert await names("$.tags[2]", "web") == []
    assert await names("$.n[0]", 7) == ["nested-list"]
    assert await names("$.flag[0]", True) == ["nested-list"]
    assert await names("$.n.value", 7) == ["object"]
    assert await names("$.framework", "fastapi") == []  # exact, case-sensitive
    assert await names("$.nowhere", None) == []
    assert await names("$.s", 'quote " back \\ slash') == ["escapes"]
    assert await names("$.u", "naïve 🚀") == ["escapes"]
    assert await names("$.q", "it's") == ["escapes"]
    assert await names("$.q", "it''s") == []

    # Two JSON conditions and a filter together.
    both = query.filter_json("architecture", "$.n", 7).filter_json(
        "architecture", "$.tags[1]", "api"
    )
    assert ids(await both.all()) == [by_name["number"]]
    assert await both.filter(name="string").all() == []

    # Another entity's JSON column.
    documents = DocumentRepository(session)
    doc = await documents.create(document_data(made[0].id, metadata={"lang": "en", "pages": 3}))
    await documents.create(document_data(made[0].id, metadata={"lang": "de", "pages": "3"}))
    assert ids(await documents.query().filter_json("metadata", "$.pages", 3).all()) == [doc.id]


async def test_filter_json_matches_large_integers_exactly(session: Session) -> None:
    """``7`` matches the number 7: so 2**53 + 1 must not match 2**53 (a double
    cannot tell them apart)."""
    repo = ProjectRepository(session)
    _low, high = await repo.bulk_create(
        [
            project_data(name="low", architecture={"n": 2**53}),
            project_data(name="high", architecture={"n": 2**53 + 1}),
        ]
    )
    found = await repo.query().filter_json("architecture", "$.n", 2**53 + 1).all()
    assert ids(found) == [high.id]


async def test_filter_json_refuses_bad_paths_fields_and_values(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        query = ProjectRepository(session).query()
        await query.all()
        before = engine.stats().queries.get("list_projects")
        for path in [
            "framework",
            "$..x",
            "$.a b",
            "$.a'; DROP TABLE projects; --",
            '$["x"]',
            "$." + "a" * 9_998,
            "$" + ".a" * 5_000,
            "",
            "$",
            "$.",
            "$.*",
            "$.tags[-1]",
            "$.tags[]",
            "$.1abc",
            "$.a\n",
            " $.a",
            None,
            7,
        ]:
            with pytest.raises(InvalidQueryError, match="JSON path"):
                query.filter_json("architecture", path, "x")  # type: ignore[arg-type]
        for field in ("name", "status", "colour", "created_at"):
            with pytest.raises(InvalidQueryError, match=field):
                query.filter_json(field, "$.a", "x")
        for value in ({"a": 1}, [1], (1,), {1}, b"7", datetime(2024, 1, 1), float("nan")):
            with pytest.raises(InvalidQueryError):
                query.filter_json("architecture", "$.a", value)  # type: ignore[arg-type]
        assert engine.stats().queries.get("list_projects") == before


# -- order_by ---------------------------------------------------------------------------------


async def make_sortable(session: Session) -> list[Project]:
    """Live projects with equal sort keys, NULL descriptions and updated_at,
    and mixed-case names (plus one soft-deleted project)."""
    repo = ProjectRepository(session)
    names = ["beta", "Alpha", "alpha", "beta", "Gamma", "delta", "alpha", "Beta", "b", "beta"]
    descriptions = [None, "x", "", None, "Y", "x", "a", None, "z", ""]
    statuses = ["active", "draft", "active", "archived", "draft"]
    made = await repo.bulk_create(
        [
            project_data(
                name=names[i % len(names)],
                description=descriptions[(i * 3) % len(descriptions)],
                status=statuses[i % len(statuses)],
            )
            for i in range(25)
        ]
    )
    await set_created_at(
        session, {p.id: BASE + timedelta(minutes=(i * 7) % 5) for i, p in enumerate(made)}
    )
    await repo.bulk_update([{"id": p.id, "description": "updated"} for p in made[3::4]])
    await repo.delete(made[5].id)
    rows = await repo.list(limit=10_000)
    assert len(rows) == 24
    return rows


ORDERINGS: list[tuple[str, ...]] = [
    (),
    ("id",),
    ("-id",),
    ("name",),
    ("-name",),
    ("description",),
    ("-description",),
    ("status",),
    ("-status",),
    ("-created_at",),
    ("created_at", "-name"),
    ("status", "-description", "name"),
    ("-updated_at",),
    ("updated_at", "description"),
    ("name", "id", "description"),
]


async def test_order_by_matches_python_with_ties_by_id_and_nulls_last(session: Session) -> None:
    rows = await make_sortable(session)
    query = ProjectRepository(session).query()
    for ordering in ORDERINGS:
        ordered = await query.order_by(*ordering).all()
        assert ids(ordered) == ids(python_order(rows, ordering)), ordering

    # Ties are broken by ascending id in either direction.
    for ordering in (("status",), ("-status",)):
        ordered = await query.order_by(*ordering).all()
        for status in {p.status for p in rows}:
            tied = [p.id for p in ordered if p.status == status]
            assert tied == sorted(tied), ordering
    # Equal names sort together, case-sensitively (binary order: "B" < "a").
    names = [p.name for p in await query.order_by("name").all()]
    assert names == sorted(names)
    assert names.index("Beta") < names.index("alpha")

    # NULL descriptions come last both ascending and descending.
    for ordering in (("description",), ("-description",)):
        ordered = await query.order_by(*ordering).all()
        nulls = sum(p.description is None for p in rows)
        assert nulls > 0
        assert all(p.description is None for p in ordered[-nulls:]), ordering
        values = [p.description for p in ordered[:-nulls]]
        assert values == sorted(values, reverse=ordering[0].startswith("-")), ordering
        assert ids(ordered[-nulls:]) == sorted(ids(ordered[-nulls:]))

    # order_by replaces an earlier order_by, and the repository's list agrees.
    repo = ProjectRepository(session)
    assert await query.order_by("name").order_by("-id").all() == await query.order_by("-id").all()
    assert (
        await repo.list(limit=100, order_by=["status", "-name"])
        == await query.order_by("status", "-name").all()
    )


async def test_order_by_refuses_unknown_or_repeated_fields(session: Session) -> None:
    query = ProjectRepository(session).query()
    for ordering in (
        ("colour",),
        ("-colour",),
        ("architecture",),
        ("-architecture",),
        ("name", "-name"),
        ("name", "name"),
        ("",),
        ("--name",),
        ("name DESC",),
        ("name; DROP TABLE projects",),
        ("messages",),
    ):
        with pytest.raises(InvalidQueryError):
            query.order_by(*ordering)
    with pytest.raises(InvalidQueryError):
        query.order_by(1)  # type: ignore[arg-type]
    assert await query.count() == 0


# -- keyset pagination ----------------------------------------------------------------------------


async def test_pages_concatenate_to_all_for_every_ordering(session: Session) -> None:
    rows = await make_sortable(session)
    repo = ProjectRepository(session)
    for ordering in ORDERINGS:
        query = repo.query().order_by(*ordering)
        everything = await query.all()
        assert ids(everything) == ids(python_order(rows, ordering)), ordering
        for size in (1, 2, 5, 23, 24, 25, 100):
            items, sizes = await all_pages(query, size)
            assert ids(items) == ids(everything), (ordering, size)
            assert len(set(ids(items))) == len(items)
            assert all(n == size for n in sizes[:-1]), (ordering, size)
            assert 0 <= sizes[-1] <= size

    # A filtered query, the last page's cursor, and limit/offset ignored.
    active = repo.query().filter(status="active").order_by("-description", "name")
    items, _ = await all_pages(active.limit(1).offset(3), 2)
    assert ids(items) == ids(await active.all())
    first = await active.page(100)
    assert first.next_cursor is None
    assert first.items == await active.all()
    deleted_too = repo.query().include_deleted().order_by("description")
    items, _ = await all_pages(deleted_too, 4)
    assert ids(items) == ids(await deleted_too.all())
    assert len(items) == 25
    nothing = await repo.query().filter(name="nobody").page(3)
    assert nothing.items == []
    assert nothing.next_cursor is None


async def make_pageable(engine: DatabaseEngine) -> list[Project]:
    async with engine.session() as session:
        return await make_sortable(session)


@pytest.fixture
def pageable_rows(portal_engine: PortalEngine) -> list[Project]:
    portal, engine = portal_engine
    return portal.call(make_pageable, engine)


ORDERABLE = ["id", "name", "description", "status", "created_at", "updated_at", "version"]
PAGE_FILTERS: list[dict[str, Any]] = [
    {},
    {"status": "active"},
    {"description__isnull": False},
    {"name__startswith": "b"},
    {"status__ne": "draft", "description__not_in": ["x"]},
]


async def page_through(
    engine: DatabaseEngine, ordering: list[str], filters: dict[str, Any], size: int
) -> tuple[list[int], list[int], list[int]]:
    async with engine.session() as session:
        query = ProjectRepository(session).query().filter(**filters).order_by(*ordering)
        items, sizes = await all_pages(query, size)
        return ids(items), sizes, ids(await query.all())


@PROPERTY
@given(
    ordering=st.lists(
        st.tuples(st.sampled_from(ORDERABLE), st.booleans()),
        min_size=1,
        max_size=3,
        unique_by=lambda t: t[0],
    ).map(lambda terms: [("-" if descending else "") + name for name, descending in terms]),
    filters=st.sampled_from(PAGE_FILTERS),
    size=st.integers(1, 9),
)
def test_pages_concatenate_to_all_property(
    portal_engine: PortalEngine,
    pageable_rows: list[Project],
    ordering: list[str],
    filters: dict[str, Any],
    size: int,
) -> None:
    portal, engine = portal_engine
    paged, sizes, everything = portal.call(page_through, engine, ordering, filters, size)
    assert paged == everything
    assert len(set(paged)) == len(paged)
    assert all(n == size for n in sizes[:-1])
    assert sizes[-1] <= size
    expected_rows = [
        row
        for row in pageable_rows
        if all(
            (
                (key == "status" and row.status == value)
                or (key == "description__isnull" and (row.description is None) is value)
                or (key == "name__startswith" and row.name.startswith(value))
                or (key == "status__ne" and row.status != value)
                or (
                    key == "description__not_in"
                    and (row.description is None or row.description not in value)
                )
            )
            for key, value in filters.items()
        )
    ]
    assert paged == ids(python_order(expected_rows, ordering))


@pytest.mark.parametrize("ordering", [("name",), ("-created_at",), ("description", "-name")])
async def test_rows_inserted_between_pages_neither_repeat_nor_skip(
    session: Session, ordering: tuple[str, ...]
) -> None:
    repo = ProjectRepository(session)
    originals = await repo.bulk_create(
        [
            project_data(name=f"b{2 * i:02d}", description=None if i % 3 == 0 else f"d{i % 4}")
            for i in range(12)
        ]
        + [project_data(name="b06", description="d2")]
    )
    await set_created_at(
        session, {p.id: BASE + timedelta(hours=i // 2) for i, p in enumerate(originals)}
    )
    query = repo.query().order_by(*ordering)
    seen: list[int] = []
    after: set[int] = set()  # inserted rows that sort after the cursor: must come
    before: set[int] = set()  # inserted rows that sort before it: must not
    cursor = None
    for round_number in range(100):
        page = await query.page(3, after=cursor)
        seen.extend(ids(page.items))
        cursor = page.next_cursor
        if cursor is None:
            break
        if round_number >= 3:
            continue
        last = page.items[-1]
        # Rows around the cursor row: equal keys (a larger id sorts after it),
        # smaller and larger names, older and newer creation times, NULLs.
        inserted = await repo.bulk_create(
            [
                project_data(name=last.name, description=last.description),
                project_data(name="a" + last.name, description="d0"),
                project_data(name=last.name + "x", description=None),
                project_data(name="b", description="d9"),
                project_data(name="z", description="a"),
            ]
        )
        await set_created_at(
            session,
            {
                inserted[0].id: last.created_at,
                inserted[1].id: last.created_at - timedelta(minutes=1),
                inserted[2].id: last.created_at + timedelta(minutes=1),
                inserted[3].id: last.created_at - timedelta(days=1),
            },
        )
        current = ids(python_order(await repo.list(limit=10_000), ordering))
        position = current.index(last.id)
        for row in inserted:
            (after if current.index(row.id) > position else before).add(row.id)
    else:
        raise AssertionError("paging did not end")

    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(ids(originals)) <= set(seen), "a row that existed from the start was skipped"
    assert after <= set(seen), "a row inserted after the cursor was skipped"
    assert not before & set(seen)
    assert after
    assert before
    final = ids(python_order(await repo.list(limit=10_000), ordering))
    assert seen == [i for i in final if i in set(seen)], "pages came out of order"


async def test_cursor_of_another_ordering_is_refused(session: Session) -> None:
    repo = ProjectRepository(session)
    await repo.bulk_create([project_data(name=f"c{i}") for i in range(5)])
    by_name = repo.query().order_by("name")
    cursor = (await by_name.page(2)).next_cursor
    assert cursor is not None
    assert ids((await by_name.page(2, after=cursor)).items) == ids((await by_name.all())[2:4])
    # Same ordering, other filters: the cursor is about the order, so it is fine.
    assert (await by_name.filter(name__ne="c0").page(2, after=cursor)).items
    for other in (
        repo.query(),
        repo.query().order_by("-name"),
        repo.query().order_by("name", "description"),
        repo.query().order_by("description"),
        repo.query().order_by("id"),
    ):
        with pytest.raises(InvalidQueryError, match="ordering"):
            await other.page(2, after=cursor)
    id_cursor = (await repo.query().page(1)).next_cursor
    assert id_cursor is not None
    with pytest.raises(InvalidQueryError, match="ordering"):
        await by_name.page(2, after=id_cursor)


def _encode(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


async def test_garbage_cursors_and_sizes_are_refused(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        repo = ProjectRepository(session)
        await repo.bulk_create([project_data(name=f"g{i}") for i in range(3)])
        query = repo.query()
        await query.all()
        before = engine.stats().queries.get("list_projects")
        signature = [["id", False]]
        garbage: list[Any] = [
            "abc",
            "",
            "!!!!",
            "é",
            "a b",
            _encode(b"\xff\xfe\xfd"),
            _encode(b"not json"),
            _encode(b"[]"),
            _encode(b"1"),
            _encode(b"null"),
            _encode(b'"text"'),
            _encode(b"{}"),
            _encode(json.dumps({"o": signature}).encode()),
            _encode(json.dumps({"o": signature, "k": []}).encode()),
            _encode(json.dumps({"o": signature, "k": [1, 2]}).encode()),
            _encode(json.dumps({"o": signature, "k": {"id": 1}}).encode()),
            _encode(json.dumps({"o": signature, "k": ["one"]}).encode()),
            _encode(json.dumps({"o": signature, "k": [[1]]}).encode()),
            _encode(json.dumps({"o": signature, "k": [1.5]}).encode()),
            _encode(b'{"o":[["id",false]],"k":[NaN]}'),
            _encode(json.dumps({"o": [["id", True]], "k": [1]}).encode()),
            _encode(json.dumps({"o": [["name", False], ["id", False]], "k": ["a", 1]}).encode()),
            5,
            b"abc",
            ["abc"],
        ]
        for cursor in garbage:
            with pytest.raises(InvalidQueryError):
                await query.page(2, after=cursor)
        for size in (0, -1, "2", 2.0, True, None):
            with pytest.raises(InvalidQueryError):
                await query.page(size)  # type: ignore[arg-type]
        assert engine.stats().queries.get("list_projects") == before
        # A forged but well-formed cursor is just a position.
        forged = _encode(json.dumps({"o": signature, "k": [0]}).encode())
        assert (await query.page(5, after=forged)).items == await query.all()


@PROPERTY
@given(payload=st.binary(max_size=64) | st.text(max_size=40).map(str.encode))
def test_random_base64_cursors_are_refused(portal_engine: PortalEngine, payload: bytes) -> None:
    portal, engine = portal_engine

    async def page_after(cursor: str) -> None:
        async with engine.session() as session:
            await ProjectRepository(session).query().page(2, after=cursor)

    for cursor in (_encode(payload), base64.b64encode(payload).decode()):
        with pytest.raises(InvalidQueryError):
            portal.call(page_after, cursor)


async def test_deeply_nested_garbage_cursor_is_refused(session: Session) -> None:
    """A cursor is caller input: any malformed one is an InvalidQueryError."""
    query = ProjectRepository(session).query()
    with pytest.raises(InvalidQueryError):
        await query.page(2, after=_encode(b"[" * 5_000))


async def test_open_date_range_still_leaves_out_null_dates(session: Session) -> None:
    projects = ProjectRepository(session)
    done = await projects.create(project_data(status="completed"))
    await projects.create(project_data())
    everything = projects.query().filter_by_date_range("completed_at", None, None)
    assert [p.id for p in await everything.all()] == [done.id]


async def test_integers_beyond_128_bits_are_refused_before_sql(session: Session) -> None:
    projects = ProjectRepository(session)
    with pytest.raises(InvalidQueryError, match="out of range"):
        await projects.list(id__lt=2**127)
    with pytest.raises(InvalidQueryError, match="out of range"):
        await projects.query().filter_json("architecture", "$.n", -(2**127)).all()
