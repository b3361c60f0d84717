"""``--param NAME[:TYPE]=VALUE``: query parameters typed from command-line text.

A shell hands every value over as text, but DuckDB compares ``7`` and ``'7'``
differently, so ``run`` guesses the type the way an analyst would read the
value, and ``NAME:TYPE=VALUE`` overrides the guess (``code:str=007`` keeps the
zeros). The guess, for the whole value exactly as given (no trimming):

* ``null`` -> NULL; ``true`` / ``false`` -> boolean (these three in any case);
* ``-12``, ``007`` -> integer; ``1.5``, ``-2e3``, ``.5`` -> float;
* ``2026-05-01`` -> date; ``2026-05-01T09:30[:00[.123456]]`` (or a space for
  ``T``) with an optional ``Z`` or ``+02:00`` -> datetime, converted to UTC; a
  datetime without an offset is UTC, as everywhere in the library;
* anything else -> text.

Something that looks like a number or a date but is not one (``1e999``,
``2026-02-30``) is refused rather than passed on as text: it is a typo more
often than a string. The value always reaches DuckDB as a bound parameter,
never as SQL text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ..schemas.common import to_utc
from .common import UsageError

__all__ = ["PARAM_TYPES", "parse_param", "typed_value"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    # No fraction of a second in the offset: Python 3.11's fromisoformat drops it.
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2})?)?)?"
)
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


class _NotThisType(ValueError):
    """The text is not a value of the type asked for (the message says why)."""


def parse_param(argument: str) -> tuple[str, Any]:
    """``NAME[:TYPE]=VALUE`` as ``(NAME, typed value)``, or a UsageError saying what
    to write instead."""
    spec, equals, text = argument.partition("=")
    if not equals:
        raise UsageError(
            f"--param {argument!r} has no '='; write --param NAME=VALUE "
            "(or NAME:TYPE=VALUE to force a type)"
        )
    name, colon, kind = spec.partition(":")
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"--param {argument!r}: {name!r} is not a parameter name; names are letters, "
            "digits and '_', not starting with a digit, as in the query's ':name'"
        )
    if colon and kind not in _FORCED:
        raise UsageError(
            f"--param {argument!r}: unknown type {kind!r}; use one of "
            f"{', '.join(PARAM_TYPES)} (NAME:TYPE=VALUE)"
        )
    try:
        return name, typed_value(text, kind if colon else None)
    except _NotThisType as problem:
        raise UsageError(f"--param {argument!r}: {problem}") from None


def typed_value(text: str, kind: str | None = None) -> Any:
    """The value ``text`` stands for: guessed (see the module docstring) when
    ``kind`` is None, else parsed as that type (one of ``PARAM_TYPES``).

    Raises ValueError when the text is not a value of the type (given or guessed).
    """
    if kind is not None:
        return _FORCED[kind](text)
    lowered = text.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return _as_float(text)
    if _DATE.fullmatch(text):
        return _as_date(text)
    if _DATETIME.fullmatch(text):
        return _as_datetime(text)
    return text


def _as_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise _NotThisType(f"{text!r} is not an integer (digits with an optional sign)")
    return int(text)


def _as_float(text: str) -> float:
    if _NON_FINITE.fullmatch(text):
        return float(text)
    if not _FLOAT.fullmatch(text):
        raise _NotThisType(f"{text!r} is not a number (like 1.5, -2e3, inf or nan)")
    value = float(text)
    if math.isinf(value):
        raise _NotThisType(
            f"{text!r} is too large for a float; pass it as text (NAME:str=...) and cast "
            "it in SQL, e.g. CAST(:name AS DECIMAL(38, 0))"
        )
    return value


def _as_bool(text: str) -> bool:
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise _NotThisType(f"{text!r} is not a boolean (true, false, 1 or 0)")
    return value


def _as_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _NotThisType(
            f"{text!r} is not a valid ISO-8601 date (YYYY-MM-DD); for text, write NAME:str=..."
        ) from None


def _as_datetime(text: str) -> datetime:
    """An aware UTC datetime: naive input is UTC, an offset is converted."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _NotThisType(
            f"{text!r} is not a valid ISO-8601 datetime (YYYY-MM-DDTHH:MM[:SS][+HH:MM]); "
            "for text, write NAME:str=..."
        ) from None
    try:
        return to_utc(parsed)
    except ValueError as exc:
        raise _NotThisType(f"{text!r}: {exc}") from None


def _as_json(text: str) -> str:
    """Checked JSON text, bound as text: JSON columns store JSON text."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        raise _NotThisType(f"not valid JSON ({exc})") from None
    return text


_FORCED: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "date": _as_date,
    "datetime": _as_datetime,
    "json": _as_json,
}

#: The TYPE names of ``NAME:TYPE=VALUE``.
PARAM_TYPES: tuple[str, ...] = tuple(_FORCED)
