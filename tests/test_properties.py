"""Property tests of the repositories, through a BlockingPortal (asyncio and trio).

Each property runs for projects and for the two child entities with JSON and
timestamp columns (documents, code repositories), whose rows need a live parent
project. The database file lives for the whole test function, so every property
is stated relative to what was there before the example ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import STORABLE, PortalEngine, json_as_stored, project_data, run_in_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from project_architect_db import (
    BaseRepository,
    DocumentCreate,
    DocumentRepository,
    DocumentType,
    ProjectCreate,
    ProjectRepository,
    ProjectStatus,
    RepositoryCreate,
    RepositoryProvider,
    RepositoryRepository,
    Session,
)

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies ----------------------------------------------------------------------


def texts(min_size: int, max_size: int | None = None, *, cap: int = 24) -> st.SearchStrategy[str]:
    """Strings of ``min_size``..``max_size`` characters: mostly short ones, and
    sometimes exactly ``max_size`` (the documented bound), built cheaply by
    repeating a short random string."""
    short = st.text(STORABLE, min_size=min_size, max_size=max(min_size, cap))
    if max_size is None:
        return short
    if max_size <= cap:
        return st.text(STORABLE, min_size=min_size, max_size=max_size)
    exact = st.builds(
        lambda seed: (seed * max_size)[:max_size], st.text(STORABLE, min_size=1, max_size=8)
    )
    return st.one_of(short, exact)


def of_length(low: int, high: int) -> st.SearchStrategy[str]:
    """Strings whose length is drawn from ``low``..``high``, cheap when long."""
    return st.builds(
        lambda seed, n: (seed * n)[:n],
        st.text(STORABLE, min_size=1, max_size=8),
        st.integers(low, high),
    )


JSON_KEYS = st.text(STORABLE, max_size=8)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(STORABLE, max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=3),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=4)

PROJECT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": texts(1, 255),
    "description": st.none() | texts(0, 5000),
    "project_idea": texts(10, 10000, cap=40),
    "architecture": st.none() | JSON_OBJECTS,
    "status": st.sampled_from([s.value for s in ProjectStatus]),
}

DOCUMENT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "title": texts(1, 255),
    "doc_type": st.sampled_from([t.value for t in DocumentType]),
    "content": texts(0, cap=60),
    "metadata": st.none() | JSON_OBJECTS,
}

_HOSTS = st.from_regex(r"[a-z][a-z0-9]{0,9}(\.[a-z][a-z0-9]{0,9}){0,2}\.[a-z]{2,6}", fullmatch=True)
_PATHS = st.from_regex(r"(/[A-Za-z0-9._~-]{1,12}){0,3}", fullmatch=True)
URLS = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}{path}",
    st.sampled_from(["http", "https"]),
    _HOSTS,
    _PATHS,
)
#: Fixed UTC offsets; None gives a naive datetime (which the library reads as UTC).
_ZONES = st.none() | st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-(23 * 60 + 59), 23 * 60 + 59)
)
COMMIT_TIMES = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=_ZONES
)
BIGINT = st.integers(0, 2**63 - 1)

REPOSITORY_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": texts(1, 255),
    "url": URLS,
    "provider": st.sampled_from([p.value for p in RepositoryProvider]),
    "default_branch": texts(1, 255),
    "primary_language": st.none() | texts(1, 100),
    "stars": BIGINT,
    "open_issues": BIGINT,
    "last_commit_at": st.none() | COMMIT_TIMES,
    "metadata": st.none() | JSON_OBJECTS,
}


@dataclass(frozen=True)
class Kind:
    """One entity under test: its repository and how to make valid and invalid input."""

    name: str
    repository: type[BaseRepository[Any]]
    create_schema: type[BaseModel]
    required: tuple[str, ...]
    fields: dict[str, st.SearchStrategy[Any]]
    #: Fields ``update`` may not set to None.
    not_null: frozenset[str]
    #: (field, value) pairs that make an otherwise valid create item invalid.
    breakers: tuple[tuple[str, Any], ...]
    has_parent: bool
    json_fields: frozenset[str]

    def creates(self) -> st.SearchStrategy[dict[str, Any]]:
        """Valid create input (without project_id): required fields, and any of the others."""
        return st.fixed_dictionaries(
            {f: self.fields[f] for f in self.required},
            optional={f: s for f, s in self.fields.items() if f not in self.required},
        )

    def updates(self) -> st.SearchStrategy[dict[str, Any]]:
        """A non-empty random subset of the updatable fields, with valid values."""
        values = {
            f: (s.filter(lambda v: v is not None) if f in self.not_null else s)
            for f, s in self.fields.items()
        }
        return st.fixed_dictionaries({}, optional=values).filter(bool)


PROJECTS = Kind(
    name="project",
    repository=ProjectRepository,
    create_schema=ProjectCreate,
    required=("name", "project_idea"),
    fields=PROJECT_FIELDS,
    not_null=frozenset({"name", "project_idea", "status"}),
    breakers=(
        ("name", ""),
        ("name", "n" * 256),
        ("project_idea", "too short"),
        ("status", "paused"),
        ("description", "d" * 5001),
        ("architecture", ["not", "an", "object"]),
    ),
    has_parent=False,
    json_fields=frozenset({"architecture"}),
)
DOCUMENTS = Kind(
    name="document",
    repository=DocumentRepository,
    create_schema=DocumentCreate,
    required=("title", "doc_type"),
    fields=DOCUMENT_FIELDS,
    not_null=frozenset({"title", "doc_type", "content"}),
    breakers=(
        ("title", ""),
        ("title", "t" * 256),
        ("doc_type", "memo"),
        ("content", "nul\x00inside"),
        ("metadata", 42),
    ),
    has_parent=True,
    json_fields=frozenset({"metadata"}),
)
REPOSITORIES = Kind(
    name="repository",
    repository=RepositoryRepository,
    create_schema=RepositoryCreate,
    required=("name", "url", "provider"),
    fields=REPOSITORY_FIELDS,
    not_null=frozenset({"name", "url", "provider", "default_branch", "stars", "open_issues"}),
    breakers=(
        ("name", ""),
        ("url", "not a url"),
        ("url", "ftp://example.com/repo"),
        ("provider", "svn"),
        ("stars", -1),
        ("default_branch", ""),
    ),
    has_parent=True,
    json_fields=frozenset({"metadata"}),
)
KINDS = pytest.mark.parametrize("kind", [PROJECTS, DOCUMENTS, REPOSITORIES], ids=lambda k: k.name)

# -- helpers -------------------------------------------------------------------------


def audit_rows(pe: PortalEngine) -> int:
    portal, engine = pe

    async def count() -> int:
        rows = await engine.execute_raw("SELECT count(*) AS n FROM audit_log")
        return int(rows[0]["n"])

    return portal.call(count)


def with_parent(pe: PortalEngine, kind: Kind, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as create input: children get a fresh live parent project."""
    if not kind.has_parent:
        return data
    parent = run_in_session(pe, lambda s: ProjectRepository(s).create(project_data()))
    return {"project_id": parent.id, **data}


def as_stored(value: Any, backend: str = "duckdb") -> Any:
    """What a value written through the library reads back as (naive = UTC; JSON
    numbers as the backend keeps them, see ``helpers.json_as_stored``)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return json_as_stored(value, backend)


def assert_written(row: BaseModel, data: dict[str, Any], kind: Kind, backend: str) -> None:
    """Every field of the create input (defaults included) is in the row."""
    for field, value in data.items():
        assert getattr(row, field) == as_stored(value, backend), field
    validated = kind.create_schema.model_validate(data)
    for field in type(validated).model_fields:
        assert getattr(row, field) == as_stored(getattr(validated, field), backend), field
    assert row.version == 1  # type: ignore[attr-defined]
    assert row.updated_at is None  # type: ignore[attr-defined]
    assert row.deleted_at is None  # type: ignore[attr-defined]


# -- create, then get ----------------------------------------------------------------


@KINDS
@PROPERTY
@given(data=st.data())
def test_create_then_get_returns_what_was_written(
    portal_engine: PortalEngine, kind: Kind, data: st.DataObject
) -> None:
    item = with_parent(portal_engine, kind, data.draw(kind.creates(), label="create"))

    async def work(session: Session) -> tuple[Any, Any]:
        repo = kind.repository(session)
        created = await repo.create(item)
        return created, await repo.get_by_id(created.id)

    created, fetched = run_in_session(portal_engine, work)
    assert fetched == created
    assert_written(fetched, item, kind, portal_engine[1].config.backend)
    if kind is PROJECTS:
        assert (fetched.completed_at is not None) == (fetched.status == "completed")


# -- update ----------------------------------------------------------------------------


@KINDS
@PROPERTY
@given(data=st.data())
def test_update_changes_exactly_the_given_fields(
    portal_engine: PortalEngine, kind: Kind, data: st.DataObject
) -> None:
    item = with_parent(portal_engine, kind, data.draw(kind.creates(), label="create"))
    changes = data.draw(kind.updates(), label="changes")
    check_version = data.draw(st.booleans(), label="expected_version given")

    async def work(session: Session) -> tuple[Any, Any, Any, list[Any]]:
        repo = kind.repository(session)
        before = await repo.create(item)
        expected = before.version if check_version else None
        returned = await repo.update(before.id, changes, expected_version=expected)
        after = await repo.get_by_id(before.id)
        return before, returned, after, await repo.history(before.id)

    before, returned, after, history = run_in_session(portal_engine, work)
    assert returned == after
    for field, value in changes.items():
        assert getattr(after, field) == as_stored(value, portal_engine[1].config.backend), field
    derived = {"version", "updated_at", "completed_at"}
    for field in type(after).model_fields:
        if field not in changes and field not in derived:
            assert getattr(after, field) == getattr(before, field), field
    assert after.version == before.version + 1
    assert after.updated_at is not None
    assert after.updated_at >= after.created_at
    if kind is PROJECTS:
        if after.status == "completed":
            assert after.completed_at is not None
            if before.status == "completed":
                assert after.completed_at == before.completed_at
        else:
            assert after.completed_at is None

    assert [entry.action for entry in history] == ["create", "update"]
    audited = history[-1].changes
    assert set(audited) == set(changes)
    for field in changes:
        assert audited[field]["new"] == to_jsonable_python(getattr(after, field)), field
        assert audited[field]["old"] == to_jsonable_python(getattr(before, field)), field


def test_update_audits_the_old_value_of_a_json_column_as_json_not_as_text(
    portal_engine: PortalEngine,
) -> None:
    """An update's audit entry records a JSON column's old value as JSON, like
    its new value, so the two can be compared."""

    async def work(session: Session) -> Any:
        projects = ProjectRepository(session)
        project = await projects.create(project_data(architecture={"framework": "FastAPI"}))
        await projects.update(project.id, {"architecture": {"framework": "Django"}})
        return (await projects.history(project.id))[-1].changes["architecture"]

    audited = run_in_session(portal_engine, work)
    assert audited["new"] == {"framework": "Django"}
    assert audited["old"] == {"framework": "FastAPI"}


# -- soft delete and restore -----------------------------------------------------------


@KINDS
@PROPERTY
@given(data=st.data())
def test_soft_delete_hides_and_restore_brings_back(
    portal_engine: PortalEngine, kind: Kind, data: st.DataObject
) -> None:
    item = with_parent(portal_engine, kind, data.draw(kind.creates(), label="create"))
    original = run_in_session(portal_engine, lambda s: kind.repository(s).create(item))

    async def counts(session: Session) -> tuple[int, int]:
        repo = kind.repository(session)
        return await repo.count(), await repo.count(include_deleted=True)

    live_before, all_before = run_in_session(portal_engine, counts)

    async def delete(session: Session) -> dict[str, Any]:
        repo = kind.repository(session)
        return {
            "deleted": await repo.delete(original.id),
            "get": await repo.get_by_id(original.id),
            "get_deleted": await repo.get_by_id(original.id, include_deleted=True),
            "live_ids": [row.id for row in await repo.list(limit=100_000)],
            "all_ids": [row.id for row in await repo.list(limit=100_000, include_deleted=True)],
            "count": await repo.count(),
            "count_deleted": await repo.count(include_deleted=True),
            "count_id": await repo.count(id=original.id),
            "again": await repo.delete(original.id),
        }

    seen = run_in_session(portal_engine, delete)
    assert seen["deleted"] is True
    assert seen["get"] is None
    hidden = seen["get_deleted"]
    assert hidden is not None
    assert hidden.deleted_at is not None
    assert hidden.model_copy(update={"deleted_at": None}) == original
    assert original.id not in seen["live_ids"]
    assert original.id in seen["all_ids"]
    assert seen["count"] == live_before - 1
    assert seen["count_deleted"] == all_before
    assert seen["count_id"] == 0
    assert seen["again"] is False  # no live row left to delete

    async def restore(session: Session) -> tuple[Any, Any, int, list[Any]]:
        repo = kind.repository(session)
        restored = await repo.restore(original.id)
        return (
            restored,
            await repo.get_by_id(original.id),
            await repo.count(),
            await repo.history(original.id),
        )

    restored, fetched, live_after, history = run_in_session(portal_engine, restore)
    assert restored == original
    assert fetched == original
    assert live_after == live_before
    assert [entry.action for entry in history] == ["create", "delete", "restore"]


# -- bulk create -----------------------------------------------------------------------


@KINDS
@PROPERTY
@given(data=st.data())
def test_bulk_create_writes_every_item_in_input_order(
    portal_engine: PortalEngine, kind: Kind, data: st.DataObject
) -> None:
    drawn = data.draw(st.lists(kind.creates(), max_size=30), label="items")
    parent = with_parent(portal_engine, kind, {})
    items = [{**parent, **item} for item in drawn]
    count_before = run_in_session(portal_engine, lambda s: kind.repository(s).count())
    audit_before = audit_rows(portal_engine)

    async def work(session: Session) -> tuple[list[Any], list[Any], list[Any], int]:
        repo = kind.repository(session)
        created = await repo.bulk_create(items)
        fetched = [await repo.get_by_id(row.id) for row in created]
        histories = [await repo.history(row.id) for row in created]
        return created, fetched, histories, await repo.count()

    created, fetched, histories, count_after = run_in_session(portal_engine, work)
    assert len(created) == len(items)
    assert count_after == count_before + len(items)
    assert audit_rows(portal_engine) == audit_before + len(items)
    ids = [row.id for row in created]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert fetched == created
    for row, item, history in zip(created, items, histories, strict=True):
        assert_written(row, item, kind, portal_engine[1].config.backend)
        assert [entry.action for entry in history] == ["create"]


@KINDS
@PROPERTY
@given(data=st.data())
def test_bulk_create_with_one_invalid_item_writes_nothing(
    portal_engine: PortalEngine, kind: Kind, data: st.DataObject
) -> None:
    drawn = data.draw(st.lists(kind.creates(), max_size=30), label="valid items")
    parent = with_parent(portal_engine, kind, {})
    items = [{**parent, **item} for item in drawn]
    position = data.draw(st.integers(0, len(items)), label="position")
    field, bad = data.draw(st.sampled_from(kind.breakers), label="breaker")
    base = data.draw(kind.creates(), label="base of the invalid item")
    items.insert(position, {**parent, **base, field: bad})
    count_before = run_in_session(
        portal_engine, lambda s: kind.repository(s).count(include_deleted=True)
    )
    audit_before = audit_rows(portal_engine)

    with pytest.raises(ValidationError) as caught:
        run_in_session(portal_engine, lambda s: kind.repository(s).bulk_create(items))

    assert caught.value.errors()[0]["loc"][:2] == (position, field)
    count_after = run_in_session(
        portal_engine, lambda s: kind.repository(s).count(include_deleted=True)
    )
    assert count_after == count_before
    assert audit_rows(portal_engine) == audit_before


# -- validation ------------------------------------------------------------------------

INVALID_PROJECT_FIELDS = st.one_of(
    st.tuples(st.just("name"), st.just("") | of_length(256, 600)),
    st.tuples(st.just("project_idea"), texts(0, 9)),
    st.tuples(
        st.just("status"),
        st.text(STORABLE, max_size=12).filter(lambda s: s not in {p.value for p in ProjectStatus}),
    ),
)


@PROPERTY
@given(base=PROJECTS.creates(), invalid=INVALID_PROJECT_FIELDS)
def test_invalid_project_input_is_refused_naming_the_field(
    portal_engine: PortalEngine, base: dict[str, Any], invalid: tuple[str, Any]
) -> None:
    field, value = invalid
    count_before = run_in_session(
        portal_engine, lambda s: ProjectRepository(s).count(include_deleted=True)
    )
    audit_before = audit_rows(portal_engine)

    with pytest.raises(ValidationError) as caught:
        run_in_session(portal_engine, lambda s: ProjectRepository(s).create({**base, field: value}))

    errors = caught.value.errors()
    assert errors[0]["loc"] == (field,)
    assert {error["loc"] for error in errors} == {(field,)}
    after = run_in_session(
        portal_engine, lambda s: ProjectRepository(s).count(include_deleted=True)
    )
    assert after == count_before
    assert audit_rows(portal_engine) == audit_before
