"""Composing the dynamic parts of a query: filters, ordering and paging.

A fixed named query from ``sql/`` (``list_projects``: every row of the table)
is wrapped as a subquery and narrowed. Every identifier put into the SQL text is
a field name checked against the read model; every value is a bound parameter.
Nothing a caller passes becomes SQL text.

Filters are ``field=value`` or ``field__lookup=value``:

=============  =========================================================
lookup         matches rows where the field ...
=============  =========================================================
(none)         equals the value; ``None`` matches NULL
``ne``         differs from the value (NULL differs from every value)
``lt`` ...     ``lt``, ``lte``, ``gt``, ``gte``: compares; NULL never matches
``in``         is one of a list of values (an empty list matches nothing)
``not_in``     is none of them (NULL included; an empty list matches all)
``contains``   text containing the value, ignoring case
``startswith`` text starting with the value (case-sensitive)
``isnull``     is NULL (``True``) or is not (``False``)
=============  =========================================================
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..core.driver import DUCKDB, Driver
from ..core.statements import Statement
from ..errors import InvalidQueryError

__all__ = [
    "INT128_LIMIT",
    "LOOKUPS",
    "Condition",
    "FieldInfo",
    "OrderBy",
    "compile_filter",
    "compile_filters",
    "compile_order",
    "model_fields",
]

OrderBy = str | Sequence[str] | None

LOOKUPS = frozenset(
    {"exact", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "startswith", "isnull"}
)
_COMPARISONS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
#: DuckDB binds Python ints up to 128 bits (HUGEINT); larger ones cannot be sent.
INT128_LIMIT = 2**127
_NESTED = frozenset({"messages", "conversations", "documents", "repositories"})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What the query composer knows about one column of a read model."""

    name: str
    adapter: TypeAdapter[Any]
    is_text: bool
    is_datetime: bool
    is_json: bool


@dataclass(frozen=True, slots=True)
class Condition:
    """One SQL predicate and the parameters it binds (names unique per query)."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


def _plain_type(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


@cache
def model_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Every column of the read model the composer may name, JSON columns included
    (they can be used by ``filter_json`` only)."""
    json_fields: frozenset[str] = getattr(model, "json_fields", frozenset())
    fields: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        if name in _NESTED:
            continue
        annotation = info.annotation if info.annotation is not None else Any
        plain = _plain_type(annotation)
        is_class = isinstance(plain, type)
        fields[name] = FieldInfo(
            name=name,
            adapter=TypeAdapter(annotation),
            is_text=is_class and issubclass(plain, str),
            is_datetime=is_class and issubclass(plain, datetime),
            is_json=name in json_fields,
        )
    return fields


def _label(model: type[BaseModel]) -> str:
    return model.__name__


def column(model: type[BaseModel], name: str, *, purpose: str = "filter") -> FieldInfo:
    """The scalar column ``name`` of ``model``, or an InvalidQueryError listing them."""
    info = model_fields(model).get(name)
    if info is None or info.is_json:
        known = ", ".join(sorted(n for n, i in model_fields(model).items() if not i.is_json))
        raise InvalidQueryError(
            f"{_label(model)} has no {purpose}able field {name!r}; use one of: {known}"
        )
    return info


def checked_value(model: type[BaseModel], info: FieldInfo, value: Any, what: str) -> Any:
    """``value`` validated for the column (naive datetimes taken as UTC)."""
    try:
        checked = info.adapter.validate_python(value)
    except ValidationError as exc:
        raise InvalidQueryError(
            f"{what}{value!r} does not fit {_label(model)}.{info.name}: {exc.errors()[0]['msg']}"
        ) from None
    if isinstance(checked, str):
        _refuse_nul(checked, model, info, what)
    if isinstance(checked, datetime) and checked.tzinfo is None:
        checked = checked.replace(tzinfo=UTC)
    if isinstance(checked, Enum):
        checked = checked.value
    if isinstance(checked, int) and not isinstance(checked, bool) and abs(checked) >= INT128_LIMIT:
        raise InvalidQueryError(f"{what}{value!r} is out of range for {_label(model)}.{info.name}")
    return checked


def _refuse_nul(text: str, model: type[BaseModel], info: FieldInfo, what: str) -> None:
    """Stored text never holds NUL (the schemas refuse it; PostgreSQL's text
    cannot hold it), so a filter value with one is a mistake, said the same way
    on every backend."""
    if "\x00" in text:
        raise InvalidQueryError(
            f"{what}{text!r} holds a NUL (\\x00) character, which {_label(model)}.{info.name} "
            "never holds; remove it"
        )


def _split(key: str) -> tuple[str, str]:
    name, separator, lookup = key.rpartition("__")
    if not separator:
        return key, "exact"
    return name, lookup


def compile_filter(
    model: type[BaseModel], key: str, value: Any, parameter: str, *, backend: str = "duckdb"
) -> Condition:
    """The predicate for one ``field__lookup=value`` filter (``backend``: the
    engine's ``driver.name``, for the one lookup whose SQL differs)."""
    name, lookup = _split(key)
    if lookup not in LOOKUPS:
        raise InvalidQueryError(
            f"unknown lookup {lookup!r} in filter {key!r}; use one of: {', '.join(sorted(LOOKUPS))}"
        )
    info = column(model, name)
    quoted = f'"{name}"'
    what = f"filter {key}="
    if lookup == "isnull":
        if not isinstance(value, bool):
            raise InvalidQueryError(f"filter {key} takes True or False, not {value!r}")
        return Condition(f"{quoted} IS NULL" if value else f"{quoted} IS NOT NULL")
    if lookup in ("in", "not_in"):
        if isinstance(value, str | bytes | Mapping) or not isinstance(
            value, Sequence | set | frozenset
        ):
            raise InvalidQueryError(f"filter {key} takes a list of values, not {value!r}")
        if any(item is None for item in value):
            raise InvalidQueryError(f"filter {key} cannot hold None; use {name}__isnull instead")
        items = [checked_value(model, info, item, what) for item in value]
        if not items:
            return Condition("FALSE" if lookup == "in" else "TRUE")
        # = ANY(list) reads the same on DuckDB and PostgreSQL (and is faster on
        # DuckDB than list_contains); the list never holds NULL (refused above).
        if lookup == "in":
            return Condition(f"{quoted} = ANY(${parameter})", {parameter: items})
        return Condition(
            f"({quoted} IS NULL OR NOT ({quoted} = ANY(${parameter})))", {parameter: items}
        )
    if isinstance(value, list | tuple | set | frozenset | dict):
        raise InvalidQueryError(
            f"filter {key} takes a single value, not {type(value).__name__} {value!r}"
        )
    if lookup == "exact":
        if value is None:
            return Condition(f"{quoted} IS NULL")
        return Condition(
            f"{quoted} = ${parameter}", {parameter: checked_value(model, info, value, what)}
        )
    if lookup == "ne":
        if value is None:
            return Condition(f"{quoted} IS NOT NULL")
        checked = checked_value(model, info, value, what)
        return Condition(f"{quoted} IS DISTINCT FROM ${parameter}", {parameter: checked})
    if value is None:
        raise InvalidQueryError(f"filter {key} cannot compare with None; use {name}__isnull")
    if lookup in _COMPARISONS:
        checked = checked_value(model, info, value, what)
        return Condition(f"{quoted} {_COMPARISONS[lookup]} ${parameter}", {parameter: checked})
    # contains / startswith
    if not info.is_text:
        raise InvalidQueryError(
            f"filter {key}: {lookup} works on text fields, and {name} is not one"
        )
    if not isinstance(value, str):
        raise InvalidQueryError(f"filter {key} takes a string, not {value!r}")
    _refuse_nul(value, model, info, what)
    if lookup == "contains":
        # strpos, not DuckDB's contains(): the same text runs on PostgreSQL. There
        # the value must be lowered under the column's collation ("C"), not the
        # database's default, or a value would not contain itself; "C" folds ASCII
        # letters only (DuckDB folds all of Unicode: README, "Scaling out").
        value_text = f"${parameter}"
        if backend == "postgresql":
            value_text = f'CAST(${parameter} AS text) COLLATE "C"'
        return Condition(f"strpos(lower({quoted}), lower({value_text})) > 0", {parameter: value})
    return Condition(f"starts_with({quoted}, ${parameter})", {parameter: value})


def compile_filters(
    model: type[BaseModel], filters: Mapping[str, Any], prefix: str = "f"
) -> list[Condition]:
    """Predicates for keyword filters, parameters named ``{prefix}0``, ``{prefix}1``..."""
    return [
        compile_filter(model, key, value, f"{prefix}{position}")
        for position, (key, value) in enumerate(filters.items())
    ]


def order_terms(model: type[BaseModel], order_by: OrderBy) -> list[tuple[str, bool]]:
    """``(field, descending)`` pairs, ending with ``id`` so the order is total."""
    if order_by is None:
        items: list[Any] = []
    elif isinstance(order_by, str):
        items = [order_by]
    else:
        items = list(order_by)
    terms: list[tuple[str, bool]] = []
    named: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise InvalidQueryError(f"order_by takes field names, not {item!r}")
        descending = item.startswith("-")
        name = item[1:] if descending else item
        if name not in model_fields(model) or model_fields(model)[name].is_json:
            known = ", ".join(sorted(n for n, i in model_fields(model).items() if not i.is_json))
            raise InvalidQueryError(
                f"{_label(model)} cannot be ordered by {item!r}; use one of: {known} "
                "(prefix '-' for descending)"
            )
        if name in named:
            raise InvalidQueryError(f"order_by names {name!r} twice")
        # Every item is checked, but after id (unique) none can change the order.
        if "id" not in named:
            terms.append((name, descending))
        named.add(name)
    if "id" not in named:
        terms.append(("id", False))  # ties broken by id, so pages are stable
    return terms


def compile_order(terms: Sequence[tuple[str, bool]]) -> str:
    return ", ".join(
        f'"{name}" {"DESC" if descending else "ASC"} NULLS LAST' for name, descending in terms
    )


def base_sql(base: Statement, driver: Driver = DUCKDB) -> str:
    """The text of the named query composed SQL wraps, on ``driver``'s backend."""
    return driver.query(base).sql.strip().rstrip(";")


def check_count(label: str, number: Any) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise InvalidQueryError(f"{label} must be a whole number >= 0, not {number!r}")
    return number


def where_clause(
    conditions: Sequence[Condition], include_deleted: bool
) -> tuple[str, dict[str, Any]]:
    clauses = [] if include_deleted else ["deleted_at IS NULL"]
    params: dict[str, Any] = {}
    for condition in conditions:
        clauses.append(condition.sql)
        params.update(condition.params)
    return " AND ".join(clauses) or "TRUE", params
