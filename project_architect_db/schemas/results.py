"""Result wrappers: a page of rows, a search hit."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Page", "SearchHit"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated query. Pass ``next_cursor`` as ``after`` to
    get the next page; it is None on the last page."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None


class SearchHit(BaseModel, Generic[T]):
    """A full-text search result: the row, its score (higher is better) and a
    short excerpt around the match."""

    model_config = ConfigDict(frozen=True)

    item: T
    score: float
    snippet: str
