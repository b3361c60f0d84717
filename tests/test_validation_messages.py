"""What a caller reads when input is refused: every error names its field in
``loc``, and a text limit is said in characters (pydantic's ``string_too_long`` /
``string_too_short``), never in "items".

The fields come from the models themselves (``field_limits`` reads each input
model's ``model_fields`` and their metadata), so a field added later is covered
without touching this file; only a new required field of a Create model needs
its example value in ``VALID`` (``test_every_input_model_has_a_valid_example``
says so).
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
from helpers import STORABLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from project_architect_db.schemas import (
    ConversationCreate,
    DocumentCreate,
    MessageCreate,
    ProjectCreate,
    RepositoryCreate,
)
from project_architect_db.schemas.common import UpdateSchema
from project_architect_db.schemas.limits import INPUT_MODELS, FieldLimits, field_limits

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: The smallest valid input of each model: its required fields (none for an update).
VALID: dict[type[BaseModel], dict[str, Any]] = {
    ProjectCreate: {"name": "Atlas", "project_idea": "Map every service we run"},
    ConversationCreate: {"project_id": 1, "title": "Kickoff"},
    MessageCreate: {"role": "user", "content": "Where do we start?"},
    DocumentCreate: {"project_id": 1, "title": "ADR 1", "doc_type": "adr"},
    RepositoryCreate: {
        "project_id": 1,
        "name": "atlas",
        "url": "https://example.com/atlas",
        "provider": "github",
    },
    **{model: {} for model in INPUT_MODELS if issubclass(model, UpdateSchema)},
}

FIELDS = [field for model in INPUT_MODELS for field in field_limits(model)]


def ident(field: FieldLimits) -> str:
    return f"{field.model.__name__}.{field.name}"


def fields_where(keep: Any) -> Any:
    chosen = [field for field in FIELDS if keep(field)]
    assert chosen, "no field of any input model has this kind of limit"
    return pytest.mark.parametrize("field", chosen, ids=ident)


def errors_of(field: FieldLimits, value: Any) -> list[dict[str, Any]]:
    """The errors of the model's valid example with ``field`` set to ``value``."""
    with pytest.raises(ValidationError) as caught:
        field.model.model_validate({**VALID[field.model], field.name: value})
    return [dict(error) for error in caught.value.errors(include_url=False)]


def accepted(field: FieldLimits, value: Any) -> Any:
    built = field.model.model_validate({**VALID[field.model], field.name: value})
    return getattr(built, field.name)


def text_of(length: int, seed: str = "a", prefix: str = "") -> str:
    """``length`` characters: ``prefix``, then ``seed`` repeated."""
    return (prefix + seed * length)[:length]


def prefix_of(field: FieldLimits) -> str:
    """A text field with checks of its own (a URL) is grown from a valid example."""
    if not field.checks:
        return ""
    examples = [values[field.name] for values in VALID.values() if field.name in values]
    assert examples, f"no example of {ident(field)} in VALID"
    return str(examples[0])


# -- the models and their examples -------------------------------------------------------


def test_every_input_model_has_a_valid_example() -> None:
    for model in INPUT_MODELS:
        assert model in VALID, f"add the smallest valid {model.__name__} to VALID"
        required = {field.name for field in field_limits(model) if field.required}
        assert required <= set(VALID[model]), f"VALID[{model.__name__}] lacks {required}"
        model.model_validate(VALID[model])


def test_input_models_are_every_create_and_update_model() -> None:
    from project_architect_db import schemas

    exported = {
        value
        for name, value in vars(schemas).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and name.endswith(("Create", "Update"))
    }
    assert exported == set(INPUT_MODELS)


def test_every_text_field_of_an_input_model_is_checked_storable_text() -> None:
    """No NUL, no lone surrogate: every str field carries StorableText's check."""
    for field in FIELDS:
        if field.is_text:
            assert field.kind_checks, f"{ident(field)} lacks StorableText"


# -- text limits, in characters ----------------------------------------------------------


@fields_where(lambda field: field.is_text and field.max_length is not None)
def test_text_one_character_too_long_is_refused_in_characters(field: FieldLimits) -> None:
    limit = field.max_length
    assert limit is not None
    assert len(accepted(field, text_of(limit, prefix=prefix_of(field)))) == limit
    [error] = errors_of(field, text_of(limit + 1, prefix=prefix_of(field)))
    assert error["loc"] == (field.name,)
    assert error["type"] == "string_too_long"
    assert error["msg"] == f"String should have at most {limit} characters"


@fields_where(lambda field: field.is_text and field.min_length)
def test_text_one_character_too_short_is_refused_in_characters(field: FieldLimits) -> None:
    limit = field.min_length
    assert limit is not None
    assert len(accepted(field, text_of(limit))) == limit
    [error] = errors_of(field, text_of(limit - 1))
    assert error["loc"] == (field.name,)
    assert error["type"] == "string_too_short"
    unit = "character" if limit == 1 else "characters"
    assert error["msg"] == f"String should have at least {limit} {unit}"


@fields_where(lambda field: field.is_text and field.max_length is not None)
@PROPERTY
@given(data=st.data())
def test_any_text_longer_than_the_limit_is_refused_naming_the_field(
    field: FieldLimits, data: st.DataObject
) -> None:
    """Whatever it holds (NUL and lone surrogates too): the limit is checked
    first, as text."""
    limit = field.max_length
    assert limit is not None
    length = data.draw(st.integers(limit + 1, limit + 300), label="length")
    seed = data.draw(st.text(min_size=1, max_size=8), label="seed")
    errors = errors_of(field, text_of(length, seed))
    assert [(e["loc"], e["type"]) for e in errors] == [((field.name,), "string_too_long")]
    assert "characters" in errors[0]["msg"]


@fields_where(lambda field: field.is_text)
@PROPERTY
@given(data=st.data())
def test_any_storable_text_within_the_limits_is_accepted_unchanged(
    field: FieldLimits, data: st.DataObject
) -> None:
    prefix = prefix_of(field)
    low = max(field.min_length or 0, len(prefix))
    high = field.max_length if field.max_length is not None else low + 300
    length = data.draw(st.integers(low, high), label="length")
    seed = data.draw(
        st.just("a") if field.checks else st.text(STORABLE, min_size=1, max_size=8), label="seed"
    )
    value = text_of(length, seed, prefix)
    assert accepted(field, value) == value


@fields_where(lambda field: field.is_text and field.min_length)
@PROPERTY
@given(data=st.data())
def test_any_text_shorter_than_the_minimum_is_refused_naming_the_field(
    field: FieldLimits, data: st.DataObject
) -> None:
    assert field.min_length is not None
    length = data.draw(st.integers(0, field.min_length - 1), label="length")
    seed = data.draw(st.text(STORABLE, min_size=1, max_size=4), label="seed")
    errors = errors_of(field, text_of(length, seed))
    assert [(e["loc"], e["type"]) for e in errors] == [((field.name,), "string_too_short")]
    assert "character" in errors[0]["msg"]


def test_a_message_inside_a_conversation_is_located_by_its_position() -> None:
    [conversation] = [model for model in INPUT_MODELS if "messages" in model.model_fields]
    message = {**VALID[MessageCreate], "content": ""}
    with pytest.raises(ValidationError) as caught:
        conversation.model_validate({**VALID[conversation], "messages": [message]})
    [error] = caught.value.errors()
    assert error["loc"] == ("messages", 0, "content")
    assert error["msg"] == "String should have at least 1 character"


# -- null ----------------------------------------------------------------------------------


@fields_where(lambda field: not field.nullable and issubclass(field.model, UpdateSchema))
def test_null_for_a_not_null_update_field_names_it_and_says_what_to_do(
    field: FieldLimits,
) -> None:
    [error] = errors_of(field, None)
    assert error["loc"] == (field.name,)
    assert error["type"] == "null_not_allowed"
    assert error["msg"] == (
        f"{field.name} cannot be set to null; leave it out to keep the current value"
    )


def test_every_null_refused_in_one_update_is_reported_at_once() -> None:
    for model in INPUT_MODELS:
        refused = [f.name for f in field_limits(model) if not f.nullable]
        if not issubclass(model, UpdateSchema) or not refused:
            continue
        with pytest.raises(ValidationError) as caught:
            model.model_validate(dict.fromkeys(refused))
        assert [error["loc"] for error in caught.value.errors()] == [(n,) for n in refused]


@fields_where(lambda field: not field.nullable and not issubclass(field.model, UpdateSchema))
def test_null_for_a_not_null_create_field_names_it(field: FieldLimits) -> None:
    errors = errors_of(field, None)
    assert errors
    assert {error["loc"] for error in errors} == {(field.name,)}


@fields_where(lambda field: field.nullable)
def test_null_is_accepted_where_the_limits_say_so(field: FieldLimits) -> None:
    assert accepted(field, None) is None


# -- numbers and choices -------------------------------------------------------------------


@fields_where(lambda field: field.ge is not None or field.le is not None)
def test_numbers_out_of_range_are_refused_naming_the_field(field: FieldLimits) -> None:
    if field.ge is not None:
        assert accepted(field, field.ge) == field.ge
        [error] = errors_of(field, field.ge - 1)
        assert (error["loc"], error["type"]) == ((field.name,), "greater_than_equal")
        assert error["msg"] == f"Input should be greater than or equal to {field.ge}"
    if field.le is not None:
        assert accepted(field, field.le) == field.le
        [error] = errors_of(field, field.le + 1)
        assert (error["loc"], error["type"]) == ((field.name,), "less_than_equal")
        assert error["msg"] == f"Input should be less than or equal to {field.le}"


@fields_where(lambda field: field.choices)
def test_a_value_outside_the_choices_is_refused_listing_them(field: FieldLimits) -> None:
    for choice in field.choices:
        member = accepted(field, choice)
        assert isinstance(member, enum.Enum)
        assert member.value == choice
    [error] = errors_of(field, "no-such-choice")
    assert (error["loc"], error["type"]) == ((field.name,), "enum")
    assert all(repr(choice) in error["msg"] for choice in field.choices)


# -- any refusal ---------------------------------------------------------------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.builds(lambda seed, n: seed * n, st.text(min_size=1, max_size=3), st.integers(0, 12000)),
    st.lists(st.integers() | st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers() | st.floats() | st.text(max_size=3)),
    st.sampled_from(["https://example.com/", "ftp://example.com/", "2024-01-01T00:00:00"]),
)


@pytest.mark.parametrize("model", INPUT_MODELS, ids=lambda model: model.__name__)
@PROPERTY
@given(data=st.data())
def test_every_error_of_any_input_names_a_field(
    model: type[BaseModel], data: st.DataObject
) -> None:
    """Whatever is given, each error's ``loc`` starts with a field given, a
    required field left out, or an unknown key; a text length is in characters."""
    names = sorted(model.model_fields)
    given_values = data.draw(
        st.dictionaries(st.sampled_from([*names, "unknown"]), JUNK, max_size=4), label="values"
    )
    values = {**VALID[model], **given_values} if data.draw(st.booleans()) else given_values
    try:
        model.model_validate(values)
    except ValidationError as refused:
        for error in refused.errors():
            assert error["loc"], error
            assert error["loc"][0] in values or error["type"] == "missing", error
            assert error["type"] not in ("too_long", "too_short") or not isinstance(
                error["input"], str
            ), error
            if error["type"].startswith("string_too_"):
                assert "character" in error["msg"], error
