"""Documents of projects."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from ..core import statements as sql
from ..core.runner import StatementRunner
from ..errors import InvalidQueryError, NotFoundError
from ..queries.filters import check_count
from ..schemas.common import EntityKind
from ..schemas.document import Document, DocumentCreate, DocumentType, DocumentUpdate
from ..schemas.results import SearchHit
from ..search import query_terms, snippet
from .base import BaseRepository
from .values import choice

__all__ = ["DocumentRepository"]


def _snippet(document: Document, terms: list[str]) -> str:
    return snippet(document.content, terms, fallback=document.title)


class DocumentRepository(BaseRepository[Document]):
    """Documents of projects; ``record_access`` counts reads."""

    entity = EntityKind.DOCUMENT
    table = "documents"
    model = Document
    create_schema = DocumentCreate
    update_schema = DocumentUpdate
    statements = sql.DOCUMENT
    json_columns: ClassVar[frozenset[str]] = frozenset({"metadata"})
    search_fields = ("title", "content")
    arrow_schema = pa.schema(
        [
            ("id", pa.int64()),
            ("project_id", pa.int64()),
            ("title", pa.string()),
            ("doc_type", pa.string()),
            ("content", pa.string()),
            ("metadata", pa.string()),
        ]
    )

    async def get_by_project(self, project_id: int) -> list[Document]:
        """The live documents of a project, oldest first."""
        return await self._select(sql.DOCUMENT.of_project, project_id=project_id)

    async def get_by_type(self, doc_type: DocumentType | str) -> list[Document]:
        """Live documents of one type, oldest first."""
        return await self._select(
            sql.DOCUMENTS_OF_TYPE, doc_type=choice(DocumentType, doc_type, "doc_type")
        )

    async def search(
        self,
        query: str,
        *,
        project_id: int | None = None,
        doc_type: DocumentType | str | None = None,
        limit: int = 20,
    ) -> list[SearchHit[Document]]:
        """Live documents matching the words of ``query`` (optionally of one
        project and/or type), best first, each with its score (higher is
        better) and a snippet around the first match. Title counts twice as
        much as content; otherwise as ``ProjectRepository.search_by_name``."""
        terms = query_terms(query)
        check_count("limit", limit)
        kind = None if doc_type is None else choice(DocumentType, doc_type, "doc_type")
        if project_id is not None and (
            isinstance(project_id, bool) or not isinstance(project_id, int)
        ):
            raise InvalidQueryError(f"project_id must be an int or None, not {project_id!r}")
        if not terms or limit == 0:
            return []

        def work(db: StatementRunner) -> list[SearchHit[Document]]:
            ranking = db.rows(
                sql.RANK_DOCUMENTS, terms=terms, project_id=project_id, doc_type=kind, limit=limit
            )
            return [
                SearchHit[Document](item=document, score=score, snippet=_snippet(document, terms))
                for document, score in self.search_index.ranked(db, ranking)
            ]

        return await self.session.run_in_worker(work, entity=self.entity)

    async def record_access(self, id: int) -> Document:
        """Count one read: ``access_count`` + 1 and ``last_accessed_at`` = now.
        Not a content change, so no version bump and no audit entry. Concurrent
        calls all count."""

        def bump(db: StatementRunner) -> Document:
            row = db.one(sql.RECORD_DOCUMENT_ACCESS, id=id)
            if row is None:
                raise NotFoundError(self.entity.value, id, "it does not exist or is deleted")
            return Document.from_row(row)

        return await self.session.run_in_worker(
            lambda db: db.retrying_conflicts(bump), entity=self.entity, entity_id=id
        )
