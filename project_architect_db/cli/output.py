"""Writing a query's rows as an aligned table, CSV, JSON or JSON Lines.

The JSON forms are for programs, so every value keeps what it means, driven
by the column's DuckDB type (a JSON column and a text column both arrive from
DuckDB as ``str``):

* lists, arrays and structs -> JSON arrays and objects, nested as deep as they go;
  a MAP -> an object (keys that are not text become their JSON text: ``"1"``);
* JSON columns (also inside lists and structs) -> the parsed JSON value;
* TIMESTAMP WITH TIME ZONE -> ISO-8601 with its offset (``2026-05-01T09:00:00+00:00``;
  ``run`` sets the session time zone to UTC); TIMESTAMP without a zone is taken as
  UTC, as the library does; DATE and TIME -> ISO-8601;
* DECIMAL -> a string of its exact digits (``"12.50"``): most JSON readers would
  turn a number into a binary float;
* HUGEINT and other integers -> JSON numbers, exact; DOUBLE/FLOAT -> numbers, except
  NaN and infinities, which JSON lacks: the strings ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"``;
* INTERVAL -> an ISO-8601 duration (``"P30DT3H"``; DuckDB counts a month as 30 days);
* UUID -> its text; BLOB -> base64; ENUM and BIT -> their text.

CSV and the table show each cell as text: scalars as above (text unquoted),
nested values as their JSON, JSON columns as stored; NULL is an empty CSV field
and ``NULL`` in the table. Column names that repeat (``SELECT a.id, b.id``) get
``_1``, ``_2``... as DuckDB names them in files.
"""

from __future__ import annotations

import base64
import csv
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO
from uuid import UUID

from duckdb.sqltypes import DuckDBPyType
from pydantic import TypeAdapter

from .tables import print_table

__all__ = ["Result", "json_converter", "unique_names", "write_rows"]

Convert = Callable[[Any], Any]

_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


@dataclass(frozen=True, slots=True)
class Result:
    """The rows of a query, with the name and DuckDB type of each column."""

    columns: tuple[str, ...]
    types: tuple[DuckDBPyType, ...]
    rows: list[tuple[Any, ...]]


def unique_names(names: Iterable[str]) -> tuple[str, ...]:
    """Column names made unique for JSON keys: a repeated ``id`` becomes ``id_1``, ``id_2``."""
    taken: set[str] = set()
    unique: list[str] = []
    for name in names:
        candidate, suffix = name, 0
        while candidate in taken:
            suffix += 1
            candidate = f"{name}_{suffix}"
        taken.add(candidate)
        unique.append(candidate)
    return tuple(unique)


# -- values -----------------------------------------------------------------------


def json_converter(kind: DuckDBPyType) -> Convert:
    """The function turning a Python value of a column of type ``kind`` (as DuckDB
    returns it) into its JSON value (see the module docstring); None stays None."""
    if str(kind) == "JSON":
        return _nullable(_parsed_json)
    if kind.id in ("list", "array"):
        return _nullable(_list_of(_child_converter(kind.children[0][1])))
    if kind.id == "struct":
        return _nullable(
            _struct_of({name: _child_converter(child) for name, child in kind.children})
        )
    if kind.id == "map":
        key, value = (_child_converter(child) for _, child in kind.children[:2])
        return _nullable(_map_of(key, value))
    return plain


def _parsed_json(text: str) -> Any:
    """A JSON column's value parsed; its stored text (a JSON string) when Python's
    floats cannot hold one of its numbers (1e400) or it nests too deep to parse."""
    try:
        return json.loads(text, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return text


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a float")
    return value


def _child_converter(child: DuckDBPyType | int | list[str]) -> Convert:
    return json_converter(child) if isinstance(child, DuckDBPyType) else plain


def _nullable(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _list_of(item: Convert) -> Convert:
    return lambda values: [item(value) for value in values]


def _struct_of(fields: dict[str, Convert]) -> Convert:
    return lambda value: {name: fields.get(name, plain)(field) for name, field in value.items()}


def _map_of(key: Convert, value: Convert) -> Convert:
    def convert(mapping: dict[Any, Any]) -> dict[str, Any]:
        # DuckDB hands over {'key': [...], 'value': [...]} when the keys cannot be
        # dict keys in Python (lists, structs).
        if set(mapping) == {"key", "value"} and isinstance(mapping["key"], list):
            pairs: Iterable[tuple[Any, Any]] = zip(mapping["key"], mapping["value"], strict=True)
        else:
            pairs = mapping.items()
        return {_key_text(key(k)): value(v) for k, v in pairs}

    return convert


def _key_text(key: Any) -> str:
    return key if isinstance(key, str) else json.dumps(key, ensure_ascii=False)


def plain(value: Any) -> Any:
    """The JSON value of a Python value when its DuckDB type says nothing more."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _DURATION.dump_python(value, mode="json")
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {_key_text(plain(key)): plain(item) for key, item in value.items()}
    return str(value)


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _cell_texts(result: Result, null: str) -> list[list[str]]:
    """Every cell as text for CSV and the table (see the module docstring)."""
    converters = [_text_converter(kind, null) for kind in result.types]
    return [
        [convert(value) for convert, value in zip(converters, row, strict=True)]
        for row in result.rows
    ]


def _text_converter(kind: DuckDBPyType, null: str) -> Callable[[Any], str]:
    if str(kind) == "JSON":
        return lambda value: null if value is None else str(value)
    convert = json_converter(kind)

    def text(value: Any) -> str:
        if value is None:
            return null
        converted = convert(value)
        if isinstance(converted, str):
            return converted
        return json.dumps(converted, ensure_ascii=False, allow_nan=False)

    return text


# -- writers ----------------------------------------------------------------------


def write_rows(result: Result, form: str, stream: TextIO) -> None:
    """Write ``result`` to ``stream`` as ``form``: table, csv, json or jsonl."""
    _WRITERS[form](result, stream)


def _objects(result: Result) -> Iterable[str]:
    """Each row as one line of compact JSON object text."""
    converters = [json_converter(kind) for kind in result.types]
    for row in result.rows:
        document = {
            name: convert(value)
            for name, convert, value in zip(result.columns, converters, row, strict=True)
        }
        yield json.dumps(document, ensure_ascii=False, allow_nan=False)


def _write_json(result: Result, stream: TextIO) -> None:
    """A JSON list with one row object per line: valid JSON that still diffs and
    greps line by line."""
    lines = list(_objects(result))
    if not lines:
        stream.write("[]\n")
        return
    stream.write("[\n")
    stream.write(",\n".join(f"  {line}" for line in lines))
    stream.write("\n]\n")


def _write_jsonl(result: Result, stream: TextIO) -> None:
    for line in _objects(result):
        stream.write(line + "\n")


def _write_csv(result: Result, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(_cell_texts(result, null=""))


def _write_table(result: Result, stream: TextIO) -> None:
    print_table(result.columns, _cell_texts(result, null="NULL"), max_width=40, stream=stream)
    count = len(result.rows)
    stream.write(f"({count} row{'' if count == 1 else 's'})\n")


_WRITERS: dict[str, Callable[[Result, TextIO], None]] = {
    "table": _write_table,
    "csv": _write_csv,
    "json": _write_json,
    "jsonl": _write_jsonl,
}

#: The text formats ``write_rows`` knows (parquet is written by DuckDB itself).
TEXT_FORMATS: Sequence[str] = tuple(_WRITERS)
