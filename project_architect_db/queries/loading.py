"""Read models from rows, with the rows of other tables a model holds.

A ``Conversation`` holds its messages, which live in a table of their own
(``sql/messages.sql``). Every read that returns conversations, whichever
statement found them, reads the messages of all of them with one more
statement (``EntityStatements.children``) in the same worker-thread trip.
Entities without children are built straight from their rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from ..core.runner import Row, StatementRunner
from ..core.statements import EntityStatements
from ..schemas.common import EntityModel

__all__ = ["load_models"]

ModelT = TypeVar("ModelT", bound=EntityModel)


def load_models(
    db: StatementRunner, model: type[ModelT], statements: EntityStatements, rows: Sequence[Row]
) -> list[ModelT]:
    """The read models of ``rows``, in their order, children included."""
    children = statements.children
    if children is not None and rows:
        by_parent: defaultdict[int, list[Row]] = defaultdict(list)
        for child in db.rows(children, ids=[row["id"] for row in rows]):
            by_parent[child.pop("parent_id")].append(child)
        for row in rows:
            row[statements.children_field] = by_parent.get(row["id"], [])
    return [model.from_row(row) for row in rows]
