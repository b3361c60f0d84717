"""Python values as DuckDB binds and stages them, and as the audit trail records them.

``ColumnBinding`` is the one rule for the columns a create writes: the single-row
``create`` and the Arrow path of ``bulk_create`` both take their values from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from operator import attrgetter
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import BaseModel
from pydantic_core import to_json, to_jsonable_python

from ..errors import InvalidQueryError

__all__ = [
    "ColumnBinding",
    "choice",
    "json_text",
    "json_value",
    "to_param",
    "utc_column",
]

E = TypeVar("E", bound=Enum)


def to_param(value: Any, *, is_json: bool) -> Any:
    """A validated Python value as DuckDB takes it as a bound parameter."""
    if value is None:
        return None
    if is_json:
        return json_text(value)
    if isinstance(value, Enum):
        return value.value
    return value


def json_text(value: Any) -> str:
    """Validated JSON data as compact JSON text (pydantic_core serializes in
    Rust, about 8x faster than json.dumps on a small object)."""
    return to_json(value).decode()


def choice(enum: type[E], value: E | str, field: str) -> str:
    """The value of ``enum`` named by ``value``, or a clear InvalidQueryError."""
    try:
        return enum(value).value  # type: ignore[no-any-return]
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidQueryError(f"{field} {value!r} is not one of: {choices}") from None


def utc_column() -> pa.DataType:
    """Arrow type of a TIMESTAMPTZ column."""
    return pa.timestamp("us", tz="UTC")


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def json_value(value: Any) -> Any:
    """``value`` as plain JSON data (enums as their value, datetimes as ISO text);
    plain scalars, the common case in bulk audits, pass without a call."""
    return value if type(value) in _JSON_SCALARS else to_jsonable_python(value)


class ColumnBinding:
    """The columns one entity's create writes, and how each value is bound.

    A column is bound by ``to_param`` (JSON columns as JSON text), unless a
    builder makes its value from the whole validated item. A builder may also
    name a column the insert statement does not take: it is staged for
    ``bulk_create`` only (a conversation's messages, which a statement of their
    own writes from the staged table). Built once per repository class.
    """

    __slots__ = ("_columns", "_staged_columns", "json_columns")

    def __init__(
        self,
        columns: Sequence[str],
        json_columns: frozenset[str],
        builders: Mapping[str, Callable[[Any], Any]],
    ) -> None:
        self.json_columns = json_columns
        self._columns = tuple(
            (column, column in json_columns, builders.get(column)) for column in columns
        )
        self._staged_columns = self._columns + tuple(
            (column, False, build) for column, build in builders.items() if column not in columns
        )

    def params(self, item: BaseModel) -> dict[str, Any]:
        """The insert statement's parameters for one validated create item."""
        return {
            column: (
                build(item)
                if build is not None
                else to_param(getattr(item, column), is_json=is_json)
            )
            for column, is_json, build in self._columns
        }

    def columns(self, items: Sequence[BaseModel]) -> dict[str, list[Any]]:
        """The same values for many items, a column at a time (an Arrow table's
        columns for ``bulk_create``)."""
        columns: dict[str, list[Any]] = {}
        for column, is_json, build in self._staged_columns:
            if build is not None:
                columns[column] = [build(item) for item in items]
            else:
                columns[column] = [
                    to_param(value, is_json=is_json) for value in map(attrgetter(column), items)
                ]
        return columns

    def value(self, column: str, value: Any) -> Any:
        """A changed column's new value of an update, as it is bound or staged."""
        return to_param(value, is_json=column in self.json_columns)
