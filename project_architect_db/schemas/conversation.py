"""Conversations: message threads about a project, moving through phases."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .common import (
    CreateSchema,
    EntityModel,
    JsonObject,
    RowId,
    StorableText,
    StoredJson,
    UpdateSchema,
    UtcDatetime,
)
from .rows import model_from_row

__all__ = [
    "Conversation",
    "ConversationCreate",
    "ConversationPhase",
    "ConversationUpdate",
    "Message",
    "MessageCreate",
    "MessageRole",
    "message_from_row",
]


class ConversationPhase(StrEnum):
    DISCOVERY = "discovery"
    REQUIREMENTS = "requirements"
    DESIGN = "design"
    IMPLEMENTATION = "implementation"
    REVIEW = "review"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


def _utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class MessageCreate(BaseModel):
    """A message to append; ``created_at`` defaults to now (UTC)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    role: MessageRole
    content: Annotated[str, Field(min_length=1), StorableText]
    created_at: UtcDatetime = Field(default_factory=_utc_now)
    metadata: JsonObject | None = None

    def to_json(self) -> dict[str, Any]:
        """The message as the JSON the database casts to its ``message`` type."""
        return {
            "role": self.role.value,
            "content": self.content,
            "created_at": self.created_at.isoformat(),
            "metadata": self.metadata,
        }


class Message(BaseModel):
    """A stored message. ``position`` orders a conversation's messages: it only
    grows, is unique across the database, and has gaps (it comes from one
    sequence shared by every conversation). Page with ``get_messages(after=...)``."""

    model_config = ConfigDict(frozen=True)
    json_fields: ClassVar[frozenset[str]] = frozenset({"metadata"})

    position: int
    role: MessageRole
    content: str
    created_at: datetime
    metadata: StoredJson | None = None


Title = Annotated[str, Field(min_length=1, max_length=255), StorableText]


class ConversationCreate(CreateSchema):
    project_id: RowId
    title: Title
    phase: ConversationPhase = ConversationPhase.DISCOVERY
    messages: list[MessageCreate] = Field(default_factory=list)


class ConversationUpdate(UpdateSchema):
    """Title and phase; messages are appended with ``append_message``."""

    required_fields: ClassVar[frozenset[str]] = frozenset({"title", "phase"})

    title: Title | None = None
    phase: ConversationPhase | None = None


class Conversation(EntityModel):
    table_name: ClassVar[str] = "conversations"
    project_id: int
    title: str
    phase: ConversationPhase
    #: Read from the ``messages`` table: ``from_row`` takes their rows under
    #: ``messages`` (the library puts them there; see ``queries/loading.py``).
    messages: list[Message] = Field(default_factory=list)


def message_from_row(row: dict[str, Any]) -> Message:
    """The stored message of one ``messages`` row (metadata as JSON text)."""
    return model_from_row(Message, row)
