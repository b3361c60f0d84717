"""Read models from rows (schemas/rows.py): the fast path equals model_validate.

``model_from_row`` skips the checks the database guarantees; these tests prove
both halves of that: the tables do guarantee them (column types, NOT NULL),
and for any row such tables can hold, and any row they cannot, the fast path
gives what ``model_validate`` gives (the same model, the same field types, the
same fields set, or the same validation errors).
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import (
    STORABLE,
    PortalEngine,
    conversation_data,
    document_data,
    project_data,
    repository_data,
    run_in_session,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from project_architect_db import (
    ConversationRepository,
    DocumentRepository,
    ProjectRepository,
    RepositoryRepository,
    Session,
)
from project_architect_db.schemas.common import AuditEntry
from project_architect_db.schemas.conversation import Conversation, Message
from project_architect_db.schemas.document import Document
from project_architect_db.schemas.project import Project, ProjectDetail
from project_architect_db.schemas.repository import Repository
from project_architect_db.schemas.rows import _optional, _plan, model_from_row, validated_from_row

#: Each read model and the table its rows come from.
TABLES: dict[type[BaseModel], str] = {
    Project: "projects",
    Conversation: "conversations",
    Document: "documents",
    Repository: "repositories",
    Message: "messages",
    AuditEntry: "audit_log",
}

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(STORABLE, max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(STORABLE, max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(st.text(STORABLE, max_size=6), JSON_VALUES, max_size=4)


def same(row: dict[str, Any], model: type[BaseModel]) -> None:
    """The fast path and model_validate agree on ``row``: equal models with
    values of the same types and the same fields set, or the same errors."""
    try:
        expected = validated_from_row(model, dict(row))
    except ValidationError as error:
        errors = error.errors()
        with pytest.raises(ValidationError) as raised:
            model_from_row(model, dict(row))
        assert raised.value.errors() == errors
        return
    built = model_from_row(model, dict(row))
    assert type(built) is model
    assert built == expected
    assert built.model_fields_set == expected.model_fields_set
    assert list(built.__dict__) == list(expected.__dict__)
    assert [type(v) for v in built.__dict__.values()] == [
        type(v) for v in expected.__dict__.values()
    ]
    for name, value in built.__dict__.items():
        if isinstance(value, datetime):
            assert value.tzinfo == expected.__dict__[name].tzinfo, name
    assert built.model_dump() == expected.model_dump()


# -- the guarantee: what the tables promise ---------------------------------------------

_COLUMN_TYPES = {
    int: {"BIGINT", "INTEGER"},
    str: {"VARCHAR"},
    datetime: {"TIMESTAMP WITH TIME ZONE"},
}


@pytest.mark.anyio
@pytest.mark.duckdb_only  # DuckDB's catalog; the equality suite holds PostgreSQL's schema to it
async def test_every_field_the_fast_path_trusts_is_promised_by_its_column(
    session: Session,
) -> None:
    columns = {
        (row["table_name"], row["column_name"]): row
        for row in await session.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns()"
        )
    }
    for model, table in TABLES.items():
        assert _plan(model) is not None, f"{model.__name__} is always validated"
        json_fields: frozenset[str] = getattr(model, "json_fields", frozenset())
        for name, info in model.model_fields.items():
            column = columns.get((table, name))
            if column is None:
                assert (model, name) == (Conversation, "messages")  # from the messages table
                continue
            annotation, nullable = _optional(info.annotation)
            if not nullable:
                assert not column["is_nullable"], (
                    f"{table}.{name} may be NULL; {model.__name__} says not"
                )
            if name in json_fields:
                assert column["data_type"] == "JSON", (table, name)
            elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
                assert column["data_type"] == "VARCHAR", (table, name)
            else:
                assert column["data_type"] in _COLUMN_TYPES[annotation], (table, name)


def test_a_model_that_validates_anything_itself_is_always_validated() -> None:
    # ProjectDetail has no validators, so it takes the fast path too; a Create
    # model has constraints (lengths, ranges) and never does.
    from project_architect_db import ProjectCreate

    assert _plan(ProjectDetail) is not None
    assert _plan(ProjectCreate) is None


# -- rows drawn in Python, as DuckDB returns them ----------------------------------------


def _field_values(model: type[BaseModel], name: str) -> st.SearchStrategy[Any]:
    info = model.model_fields[name]
    annotation, nullable = _optional(info.annotation)
    json_fields: frozenset[str] = getattr(model, "json_fields", frozenset())
    values: st.SearchStrategy[Any]
    if name in json_fields:
        # Mostly objects (what the library writes); sometimes what an analyst
        # might write by hand, which the model refuses.
        objects = JSON_OBJECTS.map(json.dumps)
        values = st.one_of(objects, objects, objects, st.sampled_from(["[1, 2]", '"text"', "3"]))
    elif model is Conversation and name == "messages":
        values = st.lists(message_rows(), max_size=3)
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = st.sampled_from([member.value for member in annotation] * 4 + ["", "no member"])
    elif annotation is int:
        values = st.integers(-(2**63), 2**63 - 1)
    elif annotation is str:
        values = st.text(STORABLE, max_size=20)
    elif annotation is datetime:
        values = st.datetimes(timezones=st.just(UTC))
    else:  # pragma: no cover - a new field type needs a strategy here
        raise AssertionError(f"{model.__name__}.{name}: no strategy for {annotation}")
    return values | st.none() if nullable else values


@st.composite
def rows_of(draw: st.DrawFn, model: type[BaseModel]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        # A field with a default may be absent (a narrower SELECT); rarely a
        # required one is (model_validate must then explain).
        absent = draw(st.integers(0, 19)) == 0 if info.is_required() else draw(st.booleans())
        if not absent:
            row[name] = draw(_field_values(model, name))
    if draw(st.booleans()):
        row["parent_id"] = draw(st.integers(1, 9))  # a column no field takes
    return row


def message_rows() -> st.SearchStrategy[dict[str, Any]]:
    return rows_of(Message)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), model=st.sampled_from(list(TABLES)))
def test_the_fast_path_equals_model_validate_for_any_row(
    data: st.DataObject, model: type[BaseModel]
) -> None:
    same(data.draw(rows_of(model)), model)


def test_a_conversation_takes_messages_built_already() -> None:
    message = {
        "position": 1,
        "role": "user",
        "content": "hi",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "metadata": None,
    }
    built = model_from_row(Message, dict(message))
    row = {
        "id": 1,
        "version": 1,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "project_id": 2,
        "title": "t",
        "phase": "design",
        "messages": [built, dict(message)],
    }
    same(row, Conversation)
    assert model_from_row(Conversation, dict(row)).messages[0] is built


# -- rows read back from DuckDB ----------------------------------------------------------

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(STORABLE, min_size=1, max_size=30)


@PROPERTY
@given(
    name=TEXT,
    idea=TEXT,
    architecture=st.none() | JSON_OBJECTS,
    metadata=st.none() | JSON_OBJECTS,
    status=st.sampled_from(["draft", "active", "completed", "archived"]),
    messages=st.lists(
        st.tuples(st.sampled_from(["user", "assistant"]), TEXT), min_size=1, max_size=4
    ),
)
def test_rows_read_back_from_duckdb_give_what_model_validate_gives(
    portal_engine: PortalEngine,
    name: str,
    idea: str,
    architecture: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    status: str,
    messages: list[tuple[str, str]],
) -> None:
    async def work(session: Session) -> dict[str, list[dict[str, Any]]]:
        project = await ProjectRepository(session).create(
            project_data(
                name=name,
                project_idea=f"project idea: {idea}",
                architecture=architecture,
                status=status,
            )
        )
        conversation = await ConversationRepository(session).create(
            conversation_data(project.id, messages=[{"role": r, "content": c} for r, c in messages])
        )
        await DocumentRepository(session).create(document_data(project.id, metadata=metadata))
        await RepositoryRepository(session).create(repository_data(project.id, metadata=metadata))
        await ProjectRepository(session).update(project.id, {"description": name})
        rows = {}
        for model, table in TABLES.items():
            key = "entity_id" if table == "audit_log" else "id"
            ident = conversation.id if table in ("conversations",) else project.id
            if table == "messages":
                found = await session.execute(
                    "SELECT * FROM messages WHERE conversation_id = ?", [conversation.id]
                )
            elif table in ("documents", "repositories"):
                found = await session.execute(
                    f"SELECT * FROM {table} WHERE project_id = ?", [project.id]
                )
            else:
                found = await session.execute(f"SELECT * FROM {table} WHERE {key} = ?", [ident])
            rows[model.__name__] = found
        rows["Conversation"][0]["messages"] = rows["Message"]
        return rows

    rows = run_in_session(portal_engine, work)
    by_name = {model.__name__: model for model in TABLES}
    for name_of_model, found in rows.items():
        assert found, name_of_model
        for row in found:
            same(row, by_name[name_of_model])
