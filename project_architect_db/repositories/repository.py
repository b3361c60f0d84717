"""Code repositories of projects."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from ..core import statements as sql
from ..errors import InvalidQueryError
from ..schemas.common import EntityKind
from ..schemas.repository import Repository, RepositoryCreate, RepositoryUpdate
from .base import BaseRepository
from .values import utc_column

__all__ = ["RepositoryRepository"]


class RepositoryRepository(BaseRepository[Repository]):
    """Code repositories of projects; ``get_stale`` finds the neglected ones."""

    entity = EntityKind.REPOSITORY
    table = "repositories"
    model = Repository
    create_schema = RepositoryCreate
    update_schema = RepositoryUpdate
    statements = sql.REPOSITORY
    json_columns: ClassVar[frozenset[str]] = frozenset({"metadata"})
    arrow_schema = pa.schema(
        [
            ("id", pa.int64()),
            ("project_id", pa.int64()),
            ("name", pa.string()),
            ("url", pa.string()),
            ("provider", pa.string()),
            ("default_branch", pa.string()),
            ("primary_language", pa.string()),
            ("stars", pa.int64()),
            ("open_issues", pa.int64()),
            ("last_commit_at", utc_column()),
            ("metadata", pa.string()),
        ]
    )

    async def get_by_project(self, project_id: int) -> list[Repository]:
        """The live repositories of a project, oldest first."""
        return await self._select(sql.REPOSITORY.of_project, project_id=project_id)

    async def get_stale(self, days: int = 30) -> list[Repository]:
        """Live repositories with no commit in the last ``days`` days, or none at all."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidQueryError(f"days must be a whole number >= 0, not {days!r}")
        return await self._select(sql.STALE_REPOSITORIES, days=days)
