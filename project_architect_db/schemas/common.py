"""Pieces every entity schema shares."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError, PydanticSerializationError, to_json

from .rows import model_from_row

__all__ = [
    "BIGINT_MAX",
    "AuditAction",
    "AuditEntry",
    "Count",
    "CreateSchema",
    "EntityKind",
    "EntityModel",
    "JsonObject",
    "RowId",
    "StorableText",
    "StoredJson",
    "Text",
    "UpdateSchema",
    "UtcDatetime",
    "to_utc",
]


def to_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("datetime is out of range once converted to UTC") from None


def _storable_text(value: str) -> str:
    """No NUL (``\\x00``) characters and no lone surrogates (UTF-8, and so the database,
    cannot store them)."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\x00) characters")
    if not value.isascii():
        _check_utf8(value)
    return value


def _check_utf8(value: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError as error:
        raise ValueError(
            f"text must be valid Unicode; it holds a lone surrogate {value[error.start]!r} at "
            f"position {error.start}, which UTF-8 (and so the database) cannot store"
        ) from None


def _storable_json(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """String keys and JSON values, no lone surrogates and no NUL characters in
    its text (and no NaN or Infinity: input models set ``allow_inf_nan=False``)."""
    # pydantic_core serializes in Rust (about 0.5 us for a small object): it
    # fails exactly on strings UTF-8 cannot hold (lone surrogates).
    try:
        text = to_json(value)
    except PydanticSerializationError:
        raise ValueError(
            "JSON text must be valid Unicode; a key or string value holds a lone surrogate, "
            "which UTF-8 (and so the database) cannot store"
        ) from None
    # A NUL is written \u0000; the walk (slower) runs only when that text shows up.
    if b"\\u0000" in text and _holds_nul(value):
        raise ValueError(
            "JSON keys and string values must not contain NUL (\\x00) characters: "
            "PostgreSQL's jsonb cannot store them (text fields refuse them too)"
        )
    return value


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]
"""A timestamp stored in UTC; a naive value is read as UTC."""

StorableText = AfterValidator(_storable_text)
"""The check of :data:`Text`, for text with length limits: put the limits
*before* it, ``Annotated[str, Field(min_length=1, max_length=255), StorableText]``.
pydantic applies a limit written after a validator (``Annotated[Text,
Field(max_length=255)]``) as a generic length check: its error is ``too_long``,
"at most 255 items", instead of ``string_too_long``, "at most 255 characters"
(``tests/test_validation_messages.py`` checks every text field)."""

Text = Annotated[str, StorableText]
"""A string the database can store (no NUL characters, no lone surrogates)."""

JsonObject = Annotated[dict[str, JsonValue], AfterValidator(_storable_json)]
"""A JSON object as input: string keys, JSON values, text UTF-8 can hold. Input
models also refuse NaN and Infinity in it (``allow_inf_nan=False``): they are
not JSON, and DuckDB would store them as invalid text."""

StoredJson = dict[str, JsonValue]
"""A JSON object read back from the database (already checked when written)."""

BIGINT_MAX = 2**63 - 1

RowId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
"""The id of a stored row (DuckDB BIGINT from a sequence)."""

Count = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
"""A non-negative counter that fits DuckDB's BIGINT."""


class EntityKind(StrEnum):
    PROJECT = "project"
    CONVERSATION = "conversation"
    DOCUMENT = "document"
    REPOSITORY = "repository"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"


class CreateSchema(BaseModel):
    """Input for ``create``: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class UpdateSchema(BaseModel):
    """Input for ``update``: every field optional; only the fields given change.

    A field listed in ``required_fields`` may be left out but not set to None
    (error ``null_not_allowed``, located at the field).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    required_fields: ClassVar[frozenset[str]] = frozenset()

    # A field validator (not a model validator) so the error carries the field
    # in its ``loc`` and comes with the errors of the other fields. Defaults are
    # not validated, so it runs only for the fields given.
    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null_for_required(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.required_fields:
            raise PydanticCustomError(
                "null_not_allowed",
                "{field} cannot be set to null; leave it out to keep the current value",
                {"field": info.field_name},
            )
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the caller gave, with their validated values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class EntityModel(BaseModel):
    """Columns every entity table has. Read models are built from database rows,
    so they do not repeat the input constraints."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    json_fields: ClassVar[frozenset[str]] = frozenset()

    id: int
    version: int
    created_at: datetime
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        """The model for one database row (JSON columns arrive as text; see
        ``schemas/rows.py``)."""
        return model_from_row(cls, row)


class AuditEntry(BaseModel):
    """One change in the audit trail."""

    model_config = ConfigDict(frozen=True)
    json_fields: ClassVar[frozenset[str]] = frozenset({"changes"})

    id: int
    entity: EntityKind
    entity_id: int
    action: AuditAction
    changes: dict[str, Any] = Field(default_factory=dict)
    at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditEntry:
        return model_from_row(cls, row)
