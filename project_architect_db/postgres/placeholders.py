"""The library's ``$name`` placeholders in psycopg's ``%(name)s`` style.

Every statement the library runs names its parameters ``$name`` (aiosql turns
a file's ``:name`` into that for DuckDB; composed filters write it directly).
psycopg wants ``%(name)s`` and reads every other ``%`` as the start of one, so
a literal ``%`` (``LIKE 'a%'``) must be doubled. This module does both (and turns
DuckDB's positional ``?`` into ``%s``), once per statement text, skipping string
literals, quoted identifiers and comments (where a ``$name`` or a ``%`` is text,
not a placeholder).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["psycopg_sql"]

# One token at a time: a quoted string, a quoted identifier, a line comment, a
# block comment, a placeholder, a lone percent sign, or anything else.
_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*')
    | (?P<ident>"(?:[^"]|"")*")
    | (?P<line>--[^\n]*)
    | (?P<block>/\*.*?\*/)
    | (?<![\w$])\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<percent>%)
    | (?P<question>\?)
    """,
    re.VERBOSE | re.DOTALL,
)


@lru_cache(maxsize=4096)
def psycopg_sql(sql: str, positional: bool = False) -> str:
    """``sql`` with ``$name`` as ``%(name)s`` and every other ``%`` doubled
    (inside string literals too: psycopg scans the whole text); with
    ``positional`` (parameters given as a list), ``?`` as ``%s``. Without it a
    ``?`` stays: it is also PostgreSQL's "has key" operator on ``jsonb``."""

    def replace(match: re.Match[str]) -> str:
        if match["name"] is not None:
            return f"%({match['name']})s"
        if match["percent"] is not None:
            return "%%"
        if match["question"] is not None:
            return "%s" if positional else "?"
        if match["string"] is not None:
            return match["string"].replace("%", "%%")
        if match["ident"] is not None:
            return match["ident"].replace("%", "%%")
        # A comment: psycopg would still read a % in it as a placeholder.
        return match[0].replace("%", "%%")

    return _TOKEN.sub(replace, sql)
