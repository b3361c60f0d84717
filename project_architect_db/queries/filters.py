"""Composing the dynamic parts of a query: filters, ordering and paging.

A fixed named query from ``sql/`` (``list_projects``: every row of the table)
is wrapped as a subquery and narrowed. Every identifier put into the SQL text is
a field name checked against the read model; every value is a bound parameter.
Nothing a caller passes becomes SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..core.sql import get_query
from ..errors import InvalidQueryError

__all__ = ["ComposedQuery", "OrderBy", "compose_count", "compose_select", "filterable_fields"]

OrderBy = str | Sequence[str] | None


@dataclass(frozen=True, slots=True)
class ComposedQuery:
    """SQL built around a named query, with its parameters."""

    base: str
    sql: str
    params: dict[str, Any]


@cache
def filterable_fields(model: type[BaseModel]) -> dict[str, TypeAdapter[Any]]:
    """The model's scalar columns (JSON and list columns excluded), each with the
    adapter that checks a filter value for it."""
    json_fields: frozenset[str] = getattr(model, "json_fields", frozenset())
    fields: dict[str, TypeAdapter[Any]] = {}
    for name, info in model.model_fields.items():
        if name in json_fields or name in {
            "messages",
            "conversations",
            "documents",
            "repositories",
        }:
            continue
        fields[name] = TypeAdapter(info.annotation if info.annotation is not None else Any)
    return fields


def _entity_label(model: type[BaseModel]) -> str:
    return model.__name__


def _where(
    model: type[BaseModel], filters: Mapping[str, Any], include_deleted: bool
) -> tuple[list[str], dict[str, Any]]:
    fields = filterable_fields(model)
    clauses: list[str] = [] if include_deleted else ["deleted_at IS NULL"]
    params: dict[str, Any] = {}
    for position, (name, value) in enumerate(filters.items()):
        adapter = fields.get(name)
        if adapter is None:
            known = ", ".join(sorted(fields))
            raise InvalidQueryError(
                f"{_entity_label(model)} has no filterable field {name!r}; use one of: {known}"
            )
        if value is None:
            clauses.append(f'"{name}" IS NULL')
            continue
        try:
            checked = adapter.validate_python(value)
        except ValidationError as exc:
            raise InvalidQueryError(
                f"filter {name}={value!r} does not fit {_entity_label(model)}.{name}: "
                f"{exc.errors()[0]['msg']}"
            ) from None
        parameter = f"f{position}"
        clauses.append(f'"{name}" = ${parameter}')
        params[parameter] = checked
    return clauses, params


def _order(model: type[BaseModel], order_by: OrderBy) -> str:
    if order_by is None:
        return "id"
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    fields = filterable_fields(model)
    terms: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidQueryError(f"order_by takes field names, not {item!r}")
        descending = item.startswith("-")
        name = item[1:] if descending else item
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise InvalidQueryError(
                f"{_entity_label(model)} cannot be ordered by {item!r}; use one of: {known} "
                "(prefix '-' for descending)"
            )
        terms.append(f'"{name}" {"DESC" if descending else "ASC"}')
    if not any(term.startswith('"id" ') for term in terms):
        terms.append("id ASC")  # ties broken by id, so pages are stable
    return ", ".join(terms)


def _base_sql(base: str) -> str:
    return get_query(base).sql.strip().rstrip(";")


def _check_page(limit: int, offset: int) -> None:
    for label, number in (("limit", limit), ("offset", offset)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise InvalidQueryError(f"{label} must be a whole number >= 0, not {number!r}")


def compose_select(
    base: str,
    model: type[BaseModel],
    filters: Mapping[str, Any],
    *,
    include_deleted: bool = False,
    order_by: OrderBy = None,
    limit: int = 100,
    offset: int = 0,
) -> ComposedQuery:
    """``SELECT`` over the named query ``base``: filtered, ordered, one page."""
    _check_page(limit, offset)
    clauses, params = _where(model, filters, include_deleted)
    where = " AND ".join(clauses) or "TRUE"
    sql = (
        f"SELECT * FROM ({_base_sql(base)}) AS rows WHERE {where} "
        f"ORDER BY {_order(model, order_by)} LIMIT $limit OFFSET $offset"
    )
    return ComposedQuery(base, sql, {**params, "limit": limit, "offset": offset})


def compose_count(
    base: str,
    model: type[BaseModel],
    filters: Mapping[str, Any],
    *,
    include_deleted: bool = False,
) -> ComposedQuery:
    """``count(*)`` over the named query ``base``, filtered."""
    clauses, params = _where(model, filters, include_deleted)
    where = " AND ".join(clauses) or "TRUE"
    sql = f"SELECT count(*) AS n FROM ({_base_sql(base)}) AS rows WHERE {where}"
    return ComposedQuery(base, sql, params)
