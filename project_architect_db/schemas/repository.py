"""Repositories: the code repositories of a project."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, HttpUrl, TypeAdapter

from .common import (
    Count,
    CreateSchema,
    EntityModel,
    JsonObject,
    RowId,
    StorableText,
    StoredJson,
    UpdateSchema,
    UtcDatetime,
)

__all__ = ["Repository", "RepositoryCreate", "RepositoryProvider", "RepositoryUpdate"]


class RepositoryProvider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    BITBUCKET = "bitbucket"
    OTHER = "other"


_HTTP_URL = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    """An http or https URL, kept exactly as written."""
    _HTTP_URL.validate_python(value)
    return value


# Limits before StorableText, so pydantic checks them as text ("characters").
Name = Annotated[str, Field(min_length=1, max_length=255), StorableText]
Url = Annotated[str, Field(max_length=2048), StorableText, AfterValidator(_http_url)]
Branch = Annotated[str, Field(min_length=1, max_length=255), StorableText]
Language = Annotated[str, Field(min_length=1, max_length=100), StorableText]


class RepositoryCreate(CreateSchema):
    project_id: RowId
    name: Name
    url: Url
    provider: RepositoryProvider
    default_branch: Branch = "main"
    primary_language: Language | None = None
    stars: Count = 0
    open_issues: Count = 0
    last_commit_at: UtcDatetime | None = None
    metadata: JsonObject | None = None


class RepositoryUpdate(UpdateSchema):
    required_fields: ClassVar[frozenset[str]] = frozenset(
        {"name", "url", "provider", "default_branch", "stars", "open_issues"}
    )

    name: Name | None = None
    url: Url | None = None
    provider: RepositoryProvider | None = None
    default_branch: Branch | None = None
    primary_language: Language | None = None
    stars: Count | None = None
    open_issues: Count | None = None
    last_commit_at: UtcDatetime | None = None
    metadata: JsonObject | None = None


class Repository(EntityModel):
    table_name: ClassVar[str] = "repositories"
    json_fields: ClassVar[frozenset[str]] = frozenset({"metadata"})

    project_id: int
    name: str
    url: str
    provider: RepositoryProvider
    default_branch: str
    primary_language: str | None = None
    stars: int
    open_issues: int
    last_commit_at: datetime | None = None
    metadata: StoredJson | None = None
