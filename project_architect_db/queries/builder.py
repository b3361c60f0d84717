"""QueryBuilder: fluent, immutable queries over one entity's rows.

::

    projects = await (QueryBuilder(Project, session)
        .filter(status="active")
        .filter_by_date_range("created_at", start, end)
        .filter_json("architecture", "$.framework", "FastAPI")
        .order_by("-created_at")
        .limit(50)
        .all())

Every call returns a new builder, so a base query can be shared and refined.
The SQL wraps the entity's fixed ``list_<table>`` query from ``sql/``; field
names are checked against the read model and every value is bound.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Generic, Self, TypeVar

from pydantic_core import to_jsonable_python

from ..core.runner import StatementRunner
from ..core.session import Session
from ..core.statements import BY_TABLE, EntityStatements, Statement
from ..errors import InvalidQueryError
from ..schemas.common import EntityModel, to_utc
from ..schemas.results import Page
from .filters import (
    INT128_LIMIT,
    Condition,
    base_sql,
    check_count,
    checked_value,
    column,
    compile_filter,
    compile_order,
    model_fields,
    order_terms,
    where_clause,
)
from .loading import load_models

__all__ = ["QueryBuilder"]

ModelT = TypeVar("ModelT", bound=EntityModel)
T = TypeVar("T")

#: ``$`` followed by ``.key`` and ``[index]`` steps; keys are plain identifiers.
JSON_PATH = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}|\[[0-9]{1,6}\]){1,16}")
_NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"
_INTEGER_TYPES = "('BIGINT', 'UBIGINT', 'HUGEINT')"
_MAX_CURSOR = 8192


class QueryBuilder(Generic[ModelT]):
    """A query over the rows of ``model`` (a read model such as ``Project``),
    run on ``session``. Soft-deleted rows are left out unless
    ``include_deleted()`` is called."""

    __slots__ = (
        "_conditions",
        "_include_deleted",
        "_limit",
        "_model",
        "_offset",
        "_order",
        "_session",
    )

    def __init__(self, model: type[ModelT], session: Session) -> None:
        if not (
            isinstance(model, type)
            and issubclass(model, EntityModel)
            and hasattr(model, "table_name")
        ):
            raise InvalidQueryError(
                f"QueryBuilder needs a read model such as Project or Document, not {model!r}"
            )
        self._model = model
        self._session = session
        self._conditions: tuple[Condition, ...] = ()
        self._order: tuple[tuple[str, bool], ...] = tuple(order_terms(model, None))
        self._limit: int | None = None
        self._offset = 0
        self._include_deleted = False

    def _copy(self) -> Self:
        clone = object.__new__(type(self))
        for name in self.__slots__:
            setattr(clone, name, getattr(self, name))
        return clone

    def _with_condition(self, build: Callable[[str], Condition]) -> Self:
        clone = self._copy()
        clone._conditions = (*self._conditions, build(f"c{len(self._conditions)}"))
        return clone

    # -- refining ----------------------------------------------------------------

    def filter(self, **conditions: Any) -> Self:
        """Keep rows matching every ``field=value`` / ``field__lookup=value``
        (see ``queries.filters`` for the lookups)."""
        clone = self
        for key, value in conditions.items():
            clone = clone._with_condition(
                partial(compile_filter, self._model, key, value, backend=self._session.driver.name)
            )
        return clone

    def filter_by_date_range(
        self, field: str, start: datetime | None, end: datetime | None
    ) -> Self:
        """Keep rows whose datetime ``field`` is in ``[start, end)``; either bound
        may be None. Naive datetimes are taken as UTC."""
        info = column(self._model, field)
        if not info.is_datetime:
            raise InvalidQueryError(
                f"filter_by_date_range needs a datetime field; {field!r} is not one"
            )
        bounds = {}
        for label, bound in (("start", start), ("end", end)):
            if bound is not None and not isinstance(bound, datetime):
                raise InvalidQueryError(
                    f"filter_by_date_range {label} must be a datetime or None, not {bound!r}"
                )
            bounds[label] = None if bound is None else to_utc(bound)
        if (
            bounds["start"] is not None
            and bounds["end"] is not None
            and bounds["end"] < bounds["start"]
        ):
            raise InvalidQueryError(f"filter_by_date_range: end {end} is before start {start}")

        def build(prefix: str) -> Condition:
            clauses, params = [], {}
            if bounds["start"] is not None:
                clauses.append(f'"{field}" >= ${prefix}_start')
                params[f"{prefix}_start"] = bounds["start"]
            if bounds["end"] is not None:
                clauses.append(f'"{field}" < ${prefix}_end')
                params[f"{prefix}_end"] = bounds["end"]
            # Open bounds are -inf/+inf; a NULL is in no range.
            return Condition(" AND ".join(clauses) or f'"{field}" IS NOT NULL', params)

        return self._with_condition(build)

    def filter_json(
        self, field: str, json_path: str, value: str | int | float | bool | None
    ) -> Self:
        """Keep rows whose JSON ``field`` holds ``value`` at ``json_path``
        (``$.framework``, ``$.stack.backend``, ``$.tags[0]``). The value is
        compared as a JSON scalar: ``7`` matches the number 7, ``"7"`` the
        string, ``None`` a JSON null."""
        info = model_fields(self._model).get(field)
        if info is None or not info.is_json:
            known = ", ".join(sorted(n for n, i in model_fields(self._model).items() if i.is_json))
            raise InvalidQueryError(
                f"{self._model.__name__} has no JSON field {field!r}; use one of: {known}"
            )
        if not isinstance(json_path, str) or JSON_PATH.fullmatch(json_path) is None:
            raise InvalidQueryError(
                f"JSON path {json_path!r} is not allowed; write it as $.key, $.key.subkey or $.key[0] "
                "(keys of letters, digits and underscores)"
            )
        if isinstance(value, float) and value != value:
            raise InvalidQueryError("filter_json cannot match NaN")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= INT128_LIMIT:
            raise InvalidQueryError(
                f"filter_json integer {value} is out of range (at most 2**127 - 1)"
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidQueryError(
                f"filter_json compares JSON scalars (str, int, float, bool, None), not {type(value).__name__}"
            )
        quoted = f'"{field}"'
        if self._session.driver.name == "postgresql":
            return self._with_condition(partial(_postgres_json_match, quoted, json_path, value))

        def build(prefix: str) -> Condition:
            path, wanted = f"${prefix}_path", f"${prefix}_value"
            kind = f"json_type({quoted}, {path})"
            params: dict[str, Any] = {f"{prefix}_path": json_path}
            if value is None:
                return Condition(f"{kind} = 'NULL'", params)
            params[f"{prefix}_value"] = value
            if isinstance(value, bool):
                params[f"{prefix}_value"] = "true" if value else "false"
                sql = f"{kind} = 'BOOLEAN' AND json_extract_string({quoted}, {path}) = {wanted}"
            elif isinstance(value, str):
                sql = f"{kind} = 'VARCHAR' AND json_extract_string({quoted}, {path}) = {wanted}"
            elif isinstance(value, int):
                # Integers compare exactly (a double would confuse 2**53 and 2**53 + 1);
                # a JSON float equal to the integer matches too, as in Python.
                text = f"json_extract_string({quoted}, {path})"
                sql = (
                    f"({kind} IN {_INTEGER_TYPES} AND TRY_CAST({text} AS HUGEINT) = {wanted}) OR "
                    f"({kind} = 'DOUBLE' AND TRY_CAST({text} AS DOUBLE) = {wanted})"
                )
            else:
                sql = (
                    f"{kind} IN {_NUMBER_TYPES} AND "
                    f"TRY_CAST(json_extract_string({quoted}, {path}) AS DOUBLE) = {wanted}"
                )
            return Condition(f"({sql})", params)

        return self._with_condition(build)

    def order_by(self, *fields: str) -> Self:
        """Order by these fields (``"-field"`` descending); ties are broken by id."""
        clone = self._copy()
        clone._order = tuple(order_terms(self._model, list(fields)))
        return clone

    def limit(self, n: int) -> Self:
        clone = self._copy()
        clone._limit = check_count("limit", n)
        return clone

    def offset(self, n: int) -> Self:
        clone = self._copy()
        clone._offset = check_count("offset", n)
        return clone

    def include_deleted(self) -> Self:
        """Also return soft-deleted rows."""
        clone = self._copy()
        clone._include_deleted = True
        return clone

    # -- running -----------------------------------------------------------------

    async def all(self) -> list[ModelT]:
        """Every matching row, in order, within limit/offset."""
        sql, params = self._select(self._limit, self._offset)
        return await self._run(lambda db: self._models(db, sql, params))

    async def first(self) -> ModelT | None:
        """The first matching row in order, or None."""
        sql, params = self._select(1, self._offset)
        rows = await self._run(lambda db: self._models(db, sql, params))
        return rows[0] if rows else None

    async def count(self) -> int:
        """How many rows match (limit and offset do not apply)."""
        sql, params = self._count()
        return await self._run(lambda db: int(db.composed(self._base, sql, params)[0]["n"]))

    async def exists(self) -> bool:
        """Whether any row matches."""
        where, params = self._where()
        sql = f"SELECT EXISTS (SELECT 1 FROM ({self._base_sql}) AS rows WHERE {where}) AS found"
        return await self._run(lambda db: bool(db.composed(self._base, sql, params)[0]["found"]))

    async def all_and_count(self) -> tuple[list[ModelT], int]:
        """``all()`` and ``count()`` in one trip to the database."""
        select_sql, select_params = self._select(self._limit, self._offset)
        count_sql, count_params = self._count()

        def work(db: StatementRunner) -> tuple[list[ModelT], int]:
            items = self._models(db, select_sql, select_params)
            return items, int(db.composed(self._base, count_sql, count_params)[0]["n"])

        return await self._run(work)

    async def page(self, size: int, after: str | None = None) -> Page[ModelT]:
        """One page of ``size`` rows after the cursor ``after`` (keyset
        pagination: stable while rows are inserted, and as fast deep in the
        results as at the start). Limit and offset do not apply."""
        if check_count("size", size) == 0:
            raise InvalidQueryError("page size must be at least 1")
        conditions = self._conditions
        if after is not None:
            conditions = (*conditions, self._after(after))
        where, params = where_clause(conditions, self._include_deleted)
        sql = f"{self._ordered(where)} LIMIT $limit"
        params["limit"] = size + 1
        rows = await self._run(lambda db: self._models(db, sql, params))
        if len(rows) <= size:
            return Page[ModelT](items=rows, next_cursor=None)
        items = rows[:size]
        return Page[ModelT](items=items, next_cursor=self._cursor_of(items[-1]))

    # -- internals ---------------------------------------------------------------

    @property
    def _statements(self) -> EntityStatements:
        return BY_TABLE[self._model.table_name]  # type: ignore[attr-defined]

    @property
    def _base(self) -> Statement:
        return self._statements.listing

    @property
    def _base_sql(self) -> str:
        """The base query's text on this session's backend, for SQL composed around it."""
        return base_sql(self._base, self._session.driver)

    def _where(self) -> tuple[str, dict[str, Any]]:
        return where_clause(self._conditions, self._include_deleted)

    def _select(self, limit: int | None, offset: int) -> tuple[str, dict[str, Any]]:
        where, params = self._where()
        paging = ""
        if limit is not None:
            paging += " LIMIT $limit"
            params["limit"] = limit
        if offset:
            paging += " OFFSET $offset"
            params["offset"] = offset
        return self._ordered(where) + paging, params

    def _ordered(self, where: str) -> str:
        """The base query's rows that match, in the builder's order. DuckDB picks
        a page of them (LIMIT up to 1,000) in two steps: see ``core/engine.py``'s
        ``SESSION_SETUP``."""
        base = self._base_sql
        return f"SELECT * FROM ({base}) AS rows WHERE {where} ORDER BY {compile_order(self._order)}"

    def _count(self) -> tuple[str, dict[str, Any]]:
        where, params = self._where()
        return (
            f"SELECT count(*) AS n FROM ({self._base_sql}) AS rows WHERE {where}",
            params,
        )

    def _models(self, db: StatementRunner, sql: str, params: dict[str, Any]) -> list[ModelT]:
        rows = db.composed(self._base, sql, params)
        return load_models(db, self._model, self._statements, rows)

    async def _run(self, work: Callable[[StatementRunner], T]) -> T:
        return await self._session.run_in_worker(work, entity=self._model.__name__.lower())

    def _signature(self) -> list[list[Any]]:
        return [[name, descending] for name, descending in self._order]

    def _cursor_of(self, item: ModelT) -> str:
        values = [to_jsonable_python(getattr(item, name)) for name, _ in self._order]
        payload = json.dumps({"o": self._signature(), "k": values}, separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def _after(self, cursor: str) -> Condition:
        """The keyset predicate: rows strictly after the cursor's row in this order."""
        try:
            if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR:
                raise ValueError("not a cursor")
            padded = cursor + "=" * (-len(cursor) % 4)
            decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            order, keys = decoded["o"], decoded["k"]
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, RecursionError):
            raise InvalidQueryError("the page cursor is not one this library made") from None
        if (
            order != self._signature()
            or not isinstance(keys, list)
            or len(keys) != len(self._order)
        ):
            raise InvalidQueryError("the page cursor belongs to a query with another ordering")
        values = [
            None
            if raw is None
            else checked_value(self._model, model_fields(self._model)[name], raw, "cursor value ")
            for (name, _), raw in zip(self._order, keys, strict=True)
        ]
        params: dict[str, Any] = {}
        alternatives: list[str] = []
        for i, ((name, descending), value) in enumerate(zip(self._order, values, strict=True)):
            if value is None:
                continue  # NULLS LAST: nothing sorts after a NULL but equal NULLs
            equal_before = [
                f'"{prior}" IS NULL' if values[j] is None else f'"{prior}" = $k{j}'
                for j, (prior, _) in enumerate(self._order[:i])
            ]
            comparison = "<" if descending else ">"
            step = f'("{name}" {comparison} $k{i} OR "{name}" IS NULL)'
            alternatives.append("(" + " AND ".join([*equal_before, step]) + ")")
        for j, value in enumerate(values):
            if value is not None:
                params[f"k{j}"] = value
        return Condition("(" + (" OR ".join(alternatives) or "FALSE") + ")", params)


def _postgres_json_match(
    quoted: str, json_path: str, value: str | int | float | bool | None, prefix: str
) -> Condition:
    """``filter_json`` on PostgreSQL: the same matches with jsonb's operators.
    The path (already checked against ``JSON_PATH``) is bound as a text array
    for ``#>``; the value, as on DuckDB, is a bound parameter."""
    steps = [step for step in re.split(r"[.\[\]]", json_path[1:]) if step]
    path, wanted = f"${prefix}_path", f"${prefix}_value"
    found = f"({quoted} #> {path})"
    kind = f"jsonb_typeof({found})"
    params: dict[str, Any] = {f"{prefix}_path": steps}
    if value is None:
        return Condition(f"{kind} = 'null'", params)
    if isinstance(value, bool):
        params[f"{prefix}_value"] = "true" if value else "false"
        sql = f"{kind} = 'boolean' AND ({quoted} #>> {path}) = {wanted}"
    elif isinstance(value, str):
        params[f"{prefix}_value"] = value
        sql = f"{kind} = 'string' AND ({quoted} #>> {path}) = {wanted}"
    elif isinstance(value, int):
        # numeric compares exactly (2**53 and 2**53 + 1 differ); 7.0 equals 7, as in Python.
        params[f"{prefix}_value"] = str(value)
        sql = f"{kind} = 'number' AND {found}::numeric = CAST({wanted} AS numeric)"
    else:
        params[f"{prefix}_value"] = value
        sql = f"{kind} = 'number' AND {found}::double precision = {wanted}"
    return Condition(f"({sql})", params)
