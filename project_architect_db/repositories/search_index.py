"""One entity's part of the full-text index (``search_terms``), kept in step with its rows.

The index holds live rows only, and every change to it is made by the same
transaction as the change it follows: create and restore add a row's terms,
an update of a searched field replaces them, a soft or hard delete removes
them. Text analysis is ``project_architect_db.search``; ranking is
``sql/search.sql``. An entity without searched fields gets an index that does
nothing (and runs no statement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import pyarrow as pa

from ..core import statements as sql
from ..core.runner import Row, StatementRunner
from ..schemas.common import EntityKind, EntityModel
from ..search import index_terms, indexable, stem, word_text

__all__ = ["STAGED_STEMS_SCHEMA", "STAGED_WORDS_SCHEMA", "SearchIndex"]

ModelT = TypeVar("ModelT", bound=EntityModel)

#: Each row's words of one field, space-joined (``distinct_staged_words``).
STAGED_WORDS_SCHEMA = pa.schema(
    [("entity_id", pa.int64()), ("field", pa.string()), ("words", pa.string())]
)
#: Each distinct indexable word and its stem (``insert_staged_search_words``).
STAGED_STEMS_SCHEMA = pa.schema([("word", pa.string()), ("stem", pa.string())])


class SearchIndex(Generic[ModelT]):
    """The index entries of one entity's ``fields``, and its ranked reads.

    Built once per repository class (``BaseRepository.search_index``). Every
    method is synchronous and takes the ``StatementRunner`` of the repository
    call it is part of.
    """

    __slots__ = ("_by_ids", "_model", "entity", "fields")

    def __init__(
        self,
        entity: EntityKind,
        fields: tuple[str, ...],
        model: type[ModelT],
        by_ids: sql.Statement,
    ) -> None:
        self.entity = entity.value
        #: The text columns kept in the index (empty: the entity is not searchable).
        self.fields = fields
        self._model = model
        self._by_ids = by_ids

    def watches(self, changes: Mapping[str, Any]) -> bool:
        """Whether an update with these changes alters indexed text."""
        return not changes.keys().isdisjoint(self.fields)

    def params(self, values: Mapping[str, Any]) -> dict[str, list[Any]]:
        """The parameters a recorded write takes for the row's search terms
        (``fields``, ``terms``, ``counts``; ``values`` holds the row's columns as
        they are stored), or none when the entity is not searchable."""
        if not self.fields:
            return {}
        fields, terms, counts = index_terms({name: values.get(name) for name in self.fields})
        return {"fields": fields, "terms": terms, "counts": counts}

    def add(self, db: StatementRunner, id: int, values: Mapping[str, Any]) -> None:
        """Add one live row's searched text (``values`` holds its columns)."""
        if not self.fields:
            return
        fields, terms, counts = index_terms({name: values.get(name) for name in self.fields})
        if terms:
            db.run(
                sql.INSERT_SEARCH_TERMS,
                entity=self.entity,
                entity_id=id,
                fields=fields,
                terms=terms,
                counts=counts,
            )

    def remove(self, db: StatementRunner, id: int) -> None:
        """Forget one row's terms."""
        if self.fields:
            db.run(sql.DELETE_SEARCH_TERMS, entity=self.entity, entity_id=id)

    def remove_many(self, db: StatementRunner, ids: Sequence[int]) -> None:
        """Forget the terms of many rows in one statement."""
        if self.fields and ids:
            db.run(sql.DELETE_SEARCH_TERMS_OF_MANY, entity=self.entity, entity_ids=ids)

    def add_many(
        self, db: StatementRunner, ids: Sequence[int], columns: Mapping[str, Sequence[Any]]
    ) -> None:
        """Index many rows (``columns``: each field's texts, in ``ids`` order) with
        three statements, whatever their number.

        Python splits each text into the same words as for one row
        (``word_text``: one ``bytes.translate`` for ASCII text) and stages them
        space-separated; DuckDB lists the distinct words, Python stems each of
        those once, and DuckDB joins words to stems and counts them. Stemming
        word by word in Python took about two thirds of a 100,000-row
        bulk_create.
        """
        if not self.fields:
            return
        count = len(ids)
        staged_words = pa.table(
            {
                "entity_id": list(ids) * len(self.fields),
                "field": [name for name in self.fields for _ in range(count)],
                "words": [
                    word_text(text) if text else ""
                    for name in self.fields
                    for text in columns[name]
                ],
            },
            schema=STAGED_WORDS_SCHEMA,
        )
        with db.staged("staged_search_words", staged_words):
            vocabulary = [row["word"] for row in db.rows(sql.DISTINCT_STAGED_WORDS)]
            indexed = [word for word in vocabulary if word and indexable(word)]
            staged_stems = pa.table(
                {"word": indexed, "stem": [stem(word) for word in indexed]},
                schema=STAGED_STEMS_SCHEMA,
            )
            with db.staged("staged_stems", staged_stems):
                db.run(sql.INSERT_STAGED_SEARCH_WORDS, entity=self.entity)

    def reindex_many(
        self,
        db: StatementRunner,
        writes: Sequence[tuple[int, Mapping[str, Any], int | None]],
        current: Mapping[int, Row],
    ) -> None:
        """Re-index the rows of a bulk update whose searched text changed
        (``writes``: id, changes, expected version): their new text is the
        change where given, else the text they had (``current``: rows by id)."""
        if not self.fields:
            return
        touched = [(id, changes) for id, changes, _ in writes if self.watches(changes)]
        if not touched:
            return
        ids = [id for id, _ in touched]
        self.remove_many(db, ids)
        self.add_many(
            db,
            ids,
            {
                name: [changes.get(name, current[id][name]) for id, changes in touched]
                for name in self.fields
            },
        )

    def ranked(self, db: StatementRunner, ranking: list[Row]) -> list[tuple[ModelT, float]]:
        """The rows a ranking query chose (``id`` and ``score`` per hit, best
        first), fetched by id, as models with their scores, in ranking order."""
        if not ranking:
            return []
        rows = db.rows(self._by_ids, ids=[hit["id"] for hit in ranking])
        by_id = {row["id"]: row for row in rows}
        return [
            (self._model.from_row(by_id[hit["id"]]), float(hit["score"]))
            for hit in ranking
            if hit["id"] in by_id
        ]
