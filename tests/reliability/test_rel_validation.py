"""Input validation: every Create/Update model refuses bad values, naming the field.

For each model and each of its fields, hypothesis draws invalid values from the
field's domain (wrong types, numbers out of range, text too short or too long,
NUL characters, unknown enum values, JSON that is not an object or holds NaN,
datetimes that do not exist or overflow in UTC, malformed URLs and messages)
and checks that the ``ValidationError`` locates that field; it also draws valid
values and checks that they are accepted unchanged. Through the repositories,
``create``/``update``/``add_message``/``bulk_*`` with a bad value raise the same
error and write nothing.

The model tests need no database; the repository tests run on asyncio and trio.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import PortalEngine, conversation_data, document_data, project_data, repository_data
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from project_architect_db import (
    BaseRepository,
    ConversationCreate,
    ConversationPhase,
    ConversationRepository,
    ConversationUpdate,
    DocumentCreate,
    DocumentRepository,
    DocumentType,
    DocumentUpdate,
    MessageCreate,
    MessageRole,
    ProjectCreate,
    ProjectRepository,
    ProjectStatus,
    ProjectUpdate,
    RepositoryCreate,
    RepositoryProvider,
    RepositoryRepository,
    RepositoryUpdate,
    Session,
)

MODEL_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
DB_PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BIGINT_MAX = 2**63 - 1

# -- value domains ------------------------------------------------------------------------

#: Characters a text column can hold: anything but NUL and lone surrogates.
CHARS = st.characters(codec="utf-8", exclude_characters="\x00")

NOT_TEXT = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NOT_A_NUMBER = st.one_of(
    st.sampled_from(["", "one", "1.5", "0x10", "1e3", "12abc", "--1"]),
    st.floats().filter(lambda f: not (math.isfinite(f) and f.is_integer())),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


def repeat_to(seed: str, n: int) -> str:
    return (seed * n)[:n]


def with_nul(text: str, position: int) -> str:
    position = min(position, len(text))
    return text[:position] + "\x00" + text[position:]


@dataclass(frozen=True)
class FieldSpec:
    """The domain of one input field: valid values, invalid ones, and fixed
    invalid examples every run checks."""

    valid: st.SearchStrategy[Any]
    invalid: st.SearchStrategy[Any]
    examples: tuple[Any, ...]
    #: None is a valid value (of a Create model; in an Update model unless the
    #: field is one that cannot be set to null).
    nullable: bool = False
    #: "text", "json" or "" (anything else).
    kind: str = ""


def text_field(low: int, high: int | None, *, nullable: bool = False) -> FieldSpec:
    """Text of ``low``..``high`` characters without NUL."""
    valid_parts: list[st.SearchStrategy[Any]] = [st.text(CHARS, min_size=low, max_size=low + 20)]
    edges = sorted(n for n in {max(low, 1), high} if n is not None)
    valid_parts.append(
        st.builds(repeat_to, st.text(CHARS, min_size=1, max_size=5), st.sampled_from(edges))
    )
    invalid_parts: list[st.SearchStrategy[Any]] = [
        NOT_TEXT,
        st.builds(with_nul, st.text(CHARS, max_size=10), st.integers(0, 10)),
    ]
    examples: list[Any] = [42, 1.5, True, ["text"], {"a": "b"}, "nul\x00inside", "\x00"]
    if high is not None:
        too_long = st.builds(
            repeat_to, st.text(CHARS, min_size=1, max_size=5), st.integers(high + 1, high + 50)
        )
        invalid_parts.append(too_long)
        examples.append("x" * (high + 1))
    if low > 0:
        invalid_parts.append(st.text(CHARS, max_size=low - 1))
        examples.append("x" * (low - 1))
    if not nullable:
        invalid_parts.append(st.none())
        examples.append(None)
    valid = st.one_of(*valid_parts)
    return FieldSpec(
        valid=st.one_of(valid, st.none()) if nullable else valid,
        invalid=st.one_of(*invalid_parts),
        examples=tuple(examples),
        nullable=nullable,
        kind="text",
    )


def enum_field(values: list[str]) -> FieldSpec:
    return FieldSpec(
        valid=st.sampled_from(values),
        invalid=st.one_of(
            st.text(max_size=12).filter(lambda s: s not in values),
            st.sampled_from([v.upper() for v in values] + [f" {v}" for v in values]),
            st.integers(),
            st.none(),
            st.lists(st.sampled_from(values), min_size=1, max_size=2),
        ),
        examples=("", "nonsense", values[0].upper(), f"{values[0]} ", 1, None, [values[0]]),
    )


def integer_field(low: int, *, nullable: bool = False) -> FieldSpec:
    """A whole number in ``low``..BIGINT_MAX."""
    return FieldSpec(
        valid=st.integers(low, BIGINT_MAX),
        invalid=st.one_of(
            st.integers(max_value=low - 1),
            st.integers(min_value=BIGINT_MAX + 1),
            NOT_A_NUMBER,
            st.none(),
        ),
        examples=(low - 1, -(2**63) - 1, BIGINT_MAX + 1, 2**200, 1.5, "one", None, [1]),
        nullable=nullable,
    )


# Any character but NUL is fine inside JSON (PostgreSQL's jsonb cannot store a NUL,
# so both backends refuse it: NUL_IN_JSON below).
JSON_TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
JSON_KEYS = st.text(JSON_TEXT, max_size=6)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(JSON_TEXT, max_size=8),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=3),
    max_leaves=8,
)
NOT_JSON = st.sampled_from(
    [math.nan, math.inf, -math.inf, {1, 2}, b"bytes", (1, 2), 1j, datetime(2024, 1, 1), object()]
)
JSON_FIELD = FieldSpec(
    valid=st.one_of(st.none(), st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=4)),
    invalid=st.one_of(
        st.lists(JSON_SCALARS, max_size=3),
        JSON_SCALARS.filter(lambda v: v is not None),
        st.dictionaries(JSON_KEYS, NOT_JSON, min_size=1, max_size=2),
        st.builds(lambda bad: {"nested": [1, {"deeper": bad}]}, NOT_JSON),
        st.dictionaries(st.integers(), JSON_SCALARS, min_size=1, max_size=2),
        st.builds(lambda key: {key + "\x00": 1}, JSON_KEYS),
        st.builds(lambda text: {"nested": [1, {"deeper": "\x00" + text}]}, JSON_KEYS),
    ),
    examples=(
        [],
        [1, 2],
        "{}",
        '{"a": 1}',
        7,
        True,
        {"a": math.nan},
        {"a": [math.inf]},
        {"a": {1, 2}},
        {1: "one"},
        {"a": b"x"},
        {"a": "nul\x00inside"},
        {"nul\x00key": 1},
    ),
    nullable=True,
    kind="json",
)

#: Fixed UTC offsets from -23:59 to +23:59; None gives a naive datetime (read as UTC).
ZONES: st.SearchStrategy[Any] = st.none() | st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-(23 * 60 + 59), 23 * 60 + 59)
)
OVERFLOWING = (
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
)


def datetime_field(*, nullable: bool) -> FieldSpec:
    bad_text = st.sampled_from(
        [
            "",
            "now",
            "yesterday",
            "2024-13-01",
            "2024-02-30",
            "2024-01-01T25:00",
            "2024-01-01T00:00+25:00",
        ]
    )
    return FieldSpec(
        valid=st.one_of(
            st.datetimes(
                min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES
            ),
            *([st.none()] if nullable else []),
        ),
        invalid=st.one_of(
            bad_text,
            st.sampled_from(OVERFLOWING),
            st.lists(st.integers(), max_size=2),
            st.integers(min_value=10**20),
            *([] if nullable else [st.none()]),
        ),
        examples=(
            "2024-13-01",
            "now",
            *OVERFLOWING,
            10**20,
            [2024, 1, 1],
            *([] if nullable else [None]),
        ),
        nullable=nullable,
    )


_HOSTS = st.from_regex(r"[a-z][a-z0-9]{0,9}(\.[a-z][a-z0-9]{0,9}){0,2}\.[a-z]{2,6}", fullmatch=True)
_PATHS = st.from_regex(r"(/[A-Za-z0-9._~-]{1,12}){0,3}", fullmatch=True)
URLS = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}{path}",
    st.sampled_from(["http", "https", "HTTPS"]),
    _HOSTS,
    _PATHS,
)
BAD_URLS = [
    "not a url",
    "example.com/repo",
    "//example.com/repo",
    "ftp://example.com/repo",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "mailto:dev@example.com",
    "http://",
    "https://exa mple.com",
    "https://example.com/\x00",
    "https://example.com/" + "a" * 2048,
]
URL_FIELD = FieldSpec(
    valid=URLS,
    invalid=st.one_of(st.sampled_from(BAD_URLS), NOT_TEXT, st.none()),
    examples=(*BAD_URLS, 42, None),
    kind="text",
)

ROLES = [r.value for r in MessageRole]
VALID_MESSAGES = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES), "content": st.text(CHARS, min_size=1, max_size=20)},
    optional={
        "created_at": st.datetimes(timezones=st.just(UTC)),
        "metadata": JSON_FIELD.valid,
    },
)
BAD_MESSAGES = [
    {},
    {"content": "no role"},
    {"role": "user"},
    {"role": "robot", "content": "x"},
    {"role": "user", "content": ""},
    {"role": "user", "content": "nul\x00"},
    {"role": "user", "content": "x", "metadata": [1]},
    {"role": "user", "content": "x", "created_at": "never"},
    {"role": "user", "content": "x", "extra": 1},
    "a message",
    5,
]
MESSAGES_FIELD = FieldSpec(
    valid=st.lists(VALID_MESSAGES, max_size=3),
    invalid=st.one_of(
        st.sampled_from(["messages", 5, {"role": "user", "content": "x"}, None]),
        st.builds(
            lambda good, bad, at: [*good[:at], bad, *good[at:]],
            st.lists(VALID_MESSAGES, max_size=2),
            st.sampled_from(BAD_MESSAGES),
            st.integers(0, 2),
        ),
    ),
    examples=("messages", 5, None, *([bad] for bad in BAD_MESSAGES)),
)


@dataclass(frozen=True)
class ModelSpec:
    model: type[BaseModel]
    #: A minimal valid input the field under test is added to.
    base: dict[str, Any]
    fields: dict[str, FieldSpec]
    #: Fields that must be given (Create models).
    required: frozenset[str] = frozenset()
    #: Update models: fields that may be left out but not set to None.
    not_null: frozenset[str] = frozenset()
    updates: bool = False

    def none_is_valid(self, name: str) -> bool:
        return self.fields[name].nullable or (self.updates and name not in self.not_null)


def update_spec(model: type[BaseModel], create: ModelSpec, not_null: set[str]) -> ModelSpec:
    """The Update model of ``create``: every updatable field optional."""
    names = set(model.model_fields)
    return ModelSpec(
        model=model,
        base={},
        fields={name: spec for name, spec in create.fields.items() if name in names},
        not_null=frozenset(not_null),
        updates=True,
    )


PROJECT_CREATE = ModelSpec(
    model=ProjectCreate,
    base={"name": "Atlas", "project_idea": "Map every service we run"},
    required=frozenset({"name", "project_idea"}),
    fields={
        "name": text_field(1, 255),
        "description": text_field(0, 5000, nullable=True),
        "project_idea": text_field(10, 10_000),
        "architecture": JSON_FIELD,
        "status": enum_field([s.value for s in ProjectStatus]),
    },
)
CONVERSATION_CREATE = ModelSpec(
    model=ConversationCreate,
    base={"project_id": 1, "title": "Kickoff"},
    required=frozenset({"project_id", "title"}),
    fields={
        "project_id": integer_field(1),
        "title": text_field(1, 255),
        "phase": enum_field([p.value for p in ConversationPhase]),
        "messages": MESSAGES_FIELD,
    },
)
MESSAGE_CREATE = ModelSpec(
    model=MessageCreate,
    base={"role": "user", "content": "Where do we start?"},
    required=frozenset({"role", "content"}),
    fields={
        "role": enum_field(ROLES),
        "content": text_field(1, None),
        "created_at": datetime_field(nullable=False),
        "metadata": JSON_FIELD,
    },
)
DOCUMENT_CREATE = ModelSpec(
    model=DocumentCreate,
    base={"project_id": 1, "title": "Requirements", "doc_type": "requirements"},
    required=frozenset({"project_id", "title", "doc_type"}),
    fields={
        "project_id": integer_field(1),
        "title": text_field(1, 255),
        "doc_type": enum_field([t.value for t in DocumentType]),
        "content": text_field(0, None),
        "metadata": JSON_FIELD,
    },
)
REPOSITORY_CREATE = ModelSpec(
    model=RepositoryCreate,
    base={
        "project_id": 1,
        "name": "atlas-api",
        "url": "https://github.com/example/atlas-api",
        "provider": "github",
    },
    required=frozenset({"project_id", "name", "url", "provider"}),
    fields={
        "project_id": integer_field(1),
        "name": text_field(1, 255),
        "url": URL_FIELD,
        "provider": enum_field([p.value for p in RepositoryProvider]),
        "default_branch": text_field(1, 255),
        "primary_language": text_field(1, 100, nullable=True),
        "stars": integer_field(0),
        "open_issues": integer_field(0),
        "last_commit_at": datetime_field(nullable=True),
        "metadata": JSON_FIELD,
    },
)
SPECS = [
    PROJECT_CREATE,
    update_spec(ProjectUpdate, PROJECT_CREATE, {"name", "project_idea", "status"}),
    CONVERSATION_CREATE,
    update_spec(ConversationUpdate, CONVERSATION_CREATE, {"title", "phase"}),
    MESSAGE_CREATE,
    DOCUMENT_CREATE,
    update_spec(DocumentUpdate, DOCUMENT_CREATE, {"title", "doc_type", "content"}),
    REPOSITORY_CREATE,
    update_spec(
        RepositoryUpdate,
        REPOSITORY_CREATE,
        {"name", "url", "provider", "default_branch", "stars", "open_issues"},
    ),
]
EACH_MODEL = pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.model.__name__)


def test_the_specs_cover_every_field_of_every_input_model() -> None:
    for spec in SPECS:
        assert set(spec.fields) == set(spec.model.model_fields), spec.model.__name__
        for name in spec.required:
            assert spec.model.model_fields[name].is_required(), name
        if spec.updates:
            assert spec.model.model_validate({}).model_dump(exclude_unset=True) == {}


# -- checking an error -------------------------------------------------------------------


def names_field(error: ValidationError, location: tuple[Any, ...]) -> bool:
    """Some error is located at ``location`` (or inside it); or, for a
    whole-model check (an Update field set to null), its message names the field."""
    for item in error.errors(include_input=False):
        loc = tuple(item["loc"])
        if loc[: len(location)] == location:
            return True
        if loc == location[:-1] and str(location[-1]) in item["msg"]:
            return True
    return False


def refuse(spec: ModelSpec, name: str, value: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        spec.model.model_validate({**spec.base, name: value})
    assert names_field(caught.value, (name,)), (name, value, caught.value.errors())
    return caught.value


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def assert_kept(name: str, given_value: Any, stored: Any) -> None:
    """The validated value is the given one (datetimes in UTC, messages parsed)."""
    if isinstance(given_value, datetime):
        assert stored == as_utc(given_value), name
        assert stored.utcoffset() == timedelta(0), name
    elif name == "messages":
        assert [(m.role, m.content, m.metadata) for m in stored] == [
            (m["role"], m["content"], m.get("metadata")) for m in given_value
        ]
        for message, original in zip(stored, given_value, strict=True):
            if "created_at" in original:
                assert message.created_at == original["created_at"]
    else:
        assert stored == given_value, name
        assert type(stored) is type(given_value) or isinstance(given_value, str), name


# -- the models -----------------------------------------------------------------------------


@EACH_MODEL
def test_every_field_refuses_its_known_bad_values(spec: ModelSpec) -> None:
    for name, field_spec in spec.fields.items():
        for value in field_spec.examples:
            refuse(spec, name, value)
        if spec.updates and name in spec.not_null:
            error = refuse(spec, name, None)
            assert f"{name} cannot be set to null" in str(error)


@EACH_MODEL
@MODEL_PROPERTY
@given(data=st.data())
def test_invalid_values_are_refused_naming_the_field(spec: ModelSpec, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(spec.fields)), label="field")
    value = data.draw(spec.fields[name].invalid, label="value")
    if value is None:
        assume(not spec.none_is_valid(name))
    refuse(spec, name, value)


@EACH_MODEL
@MODEL_PROPERTY
@given(data=st.data())
def test_valid_values_are_accepted_unchanged(spec: ModelSpec, data: st.DataObject) -> None:
    values = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                name: (
                    field_spec.valid
                    if spec.none_is_valid(name)
                    else field_spec.valid.filter(lambda v: v is not None)
                )
                for name, field_spec in spec.fields.items()
            },
        ),
        label="values",
    )
    validated = spec.model.model_validate({**spec.base, **values})
    for name, value in values.items():
        assert_kept(name, value, getattr(validated, name))
    if spec.updates:
        assert set(validated.changes()) == set(values)  # type: ignore[attr-defined]


@EACH_MODEL
@MODEL_PROPERTY
@given(key=st.text(max_size=30), value=JSON_SCALARS)
def test_unknown_fields_are_refused_naming_them(spec: ModelSpec, key: str, value: Any) -> None:
    assume(key not in spec.model.model_fields)
    with pytest.raises(ValidationError) as caught:
        spec.model.model_validate({**spec.base, key: value})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((key,), "extra_forbidden")]


@EACH_MODEL
def test_required_fields_are_named_when_missing(spec: ModelSpec) -> None:
    for name in spec.required:
        data = {k: v for k, v in spec.base.items() if k != name}
        with pytest.raises(ValidationError) as caught:
            spec.model.model_validate(data)
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((name,), "missing")]


def test_text_and_json_fields_refuse_lone_surrogates_naming_the_field() -> None:
    """A lone surrogate ('\\ud800') is not Unicode text: UTF-8, and so DuckDB,
    cannot hold it. Like NUL, it must be a ValidationError naming the field, not
    a database error later (or, on the bulk path, a raw UnicodeEncodeError)."""
    checked = 0
    for spec in SPECS:
        for name, field_spec in spec.fields.items():
            if field_spec.kind == "json":
                for bad in ({"k": "\ud800"}, {"\udfff": 1}, {"k": ["ok", {"deep": "\ud83d"}]}):
                    refuse(spec, name, bad)
            elif field_spec.kind == "text":
                refuse(spec, name, "https://example.com/lone/\ud800/surrogate")
            checked += field_spec.kind != ""
    assert checked == 28  # every text and JSON field of the nine models


# -- through the repositories ----------------------------------------------------------------

TABLES = ("projects", "conversations", "documents", "repositories", "audit_log", "search_terms")


async def row_counts(session: Session) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    return {row["t"]: int(row["n"]) for row in await session.execute(sql)}


@dataclass(frozen=True)
class Entity:
    repository: type[BaseRepository[Any]]
    create: ModelSpec
    update: ModelSpec
    data: Callable[[int], dict[str, Any]]


ENTITIES = {
    "project": Entity(ProjectRepository, SPECS[0], SPECS[1], lambda pid: project_data()),
    "conversation": Entity(
        ConversationRepository, SPECS[2], SPECS[3], lambda pid: conversation_data(pid)
    ),
    "document": Entity(DocumentRepository, SPECS[5], SPECS[6], lambda pid: document_data(pid)),
    "repository": Entity(
        RepositoryRepository, SPECS[7], SPECS[8], lambda pid: repository_data(pid)
    ),
}


@dataclass(frozen=True)
class Rows:
    project_id: int
    existing: dict[str, Any]


@pytest.fixture
def rows(portal_engine: PortalEngine) -> Rows:
    portal, engine = portal_engine

    async def make() -> Rows:
        async with engine.session() as session:
            project = await ProjectRepository(session).create(project_data())
            existing: dict[str, Any] = {"project": project}
            for name, entity in ENTITIES.items():
                if name != "project":
                    existing[name] = await entity.repository(session).create(
                        entity.data(project.id)
                    )
            return Rows(project.id, existing)

    return portal.call(make)


@DB_PROPERTY
@given(data=st.data())
def test_repository_writes_with_an_invalid_value_raise_and_write_nothing(
    portal_engine: PortalEngine, rows: Rows, data: st.DataObject
) -> None:
    portal, engine = portal_engine
    kind = data.draw(st.sampled_from(sorted(ENTITIES)), label="entity")
    entity = ENTITIES[kind]
    use_update = data.draw(st.booleans(), label="update")
    spec = entity.update if use_update else entity.create
    name = data.draw(st.sampled_from(sorted(spec.fields)), label="field")
    value = data.draw(spec.fields[name].invalid, label="value")
    if value is None:
        assume(not spec.none_is_valid(name))
    existing = rows.existing[kind]

    async def attempt() -> tuple[dict[str, int], Any, dict[str, int], Any]:
        async with engine.session() as session:
            repo = entity.repository(session)
            before = await row_counts(session)
            try:
                if use_update:
                    await repo.update(existing.id, {name: value})
                else:
                    await repo.create({**entity.data(rows.project_id), name: value})
            except ValidationError as error:
                outcome: Any = error
            else:
                outcome = "accepted"
            return before, outcome, await row_counts(session), await repo.get_by_id(existing.id)

    before, outcome, after, current = portal.call(attempt)
    assert isinstance(outcome, ValidationError), (kind, name, value, outcome)
    assert names_field(outcome, (name,)), outcome.errors()
    assert after == before
    assert current == existing


async def test_bulk_writes_and_add_message_name_the_item_and_field_and_write_nothing(
    session: Session,
) -> None:
    projects = ProjectRepository(session)
    talks = ConversationRepository(session)
    project = await projects.create(project_data())
    talk = await talks.create(conversation_data(project.id))
    before = await row_counts(session)
    cases: list[tuple[Callable[[], Awaitable[Any]], tuple[Any, ...]]] = [
        (
            lambda: projects.bulk_create([project_data(), project_data(status="paused")]),
            (1, "status"),
        ),
        (
            lambda: DocumentRepository(session).bulk_create(
                [document_data(project.id), document_data(project.id), document_data(0)]
            ),
            (2, "project_id"),
        ),
        (
            lambda: RepositoryRepository(session).bulk_create(
                [repository_data(project.id, stars=-1)]
            ),
            (0, "stars"),
        ),
        (lambda: projects.bulk_update([{"id": project.id, "name": ""}]), (0, "name")),
        (
            lambda: projects.bulk_update(
                [{"id": project.id, "name": "ok"}, {"id": project.id, "architecture": [1]}]
            ),
            (1, "architecture"),
        ),
        (lambda: talks.add_message(talk.id, {"role": "robot", "content": "x"}), ("role",)),
        (lambda: talks.add_message(talk.id, {"role": "user", "content": ""}), ("content",)),
        (
            lambda: talks.add_message(talk.id, {"role": "user", "content": "x", "at": 1}),
            ("at",),
        ),
        (lambda: talks.update(talk.id, {"phase": None}), ("phase",)),
        (lambda: talks.update(talk.id, {"messages": []}), ("messages",)),
    ]
    for call, location in cases:
        with pytest.raises(ValidationError) as caught:
            await call()
        assert names_field(caught.value, location), (location, caught.value.errors())
    assert await row_counts(session) == before
    assert await projects.get_by_id(project.id) == project
    assert await talks.get_by_id(talk.id) == talk
