"""Conversations and their messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pyarrow as pa

from ..core import statements as sql
from ..core.runner import Row, StatementRunner
from ..errors import InvalidQueryError, NotFoundError
from ..queries.filters import check_count
from ..schemas.analytics import ConversationFlowMetrics
from ..schemas.common import AuditAction, CreateSchema, EntityKind
from ..schemas.conversation import (
    Conversation,
    ConversationCreate,
    ConversationPhase,
    ConversationUpdate,
    Message,
    MessageCreate,
    message_from_row,
)
from .analytics import AnalyticsRepository
from .base import BaseRepository
from .values import choice, json_text, to_param

__all__ = ["ConversationRepository"]


def _messages_json(item: ConversationCreate) -> str:
    """A new conversation's messages as the JSON text the insert binds."""
    return json_text([m.to_json() for m in item.messages])


class ConversationRepository(BaseRepository[Conversation]):
    """Conversations of projects and their messages (rows of their own table:
    ``append_message`` is one INSERT, ``get_messages`` pages them)."""

    entity = EntityKind.CONVERSATION
    table = "conversations"
    model = Conversation
    create_schema = ConversationCreate
    update_schema = ConversationUpdate
    statements = sql.CONVERSATION
    arrow_schema = pa.schema(
        [
            ("id", pa.int64()),
            ("project_id", pa.int64()),
            ("title", pa.string()),
            ("phase", pa.string()),
            ("messages", pa.string()),
        ]
    )
    json_columns: ClassVar[frozenset[str]] = frozenset()
    # Staged for bulk_create only: bulk_insert_staged_messages reads it.
    column_builders: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"messages": _messages_json}
    # The audit trail keeps how many messages a create brought, not their text.
    audit_counted: ClassVar[frozenset[str]] = frozenset({"messages"})

    async def get_by_project(self, project_id: int) -> list[Conversation]:
        """The live conversations of a project, oldest first."""
        return await self._select(sql.CONVERSATION.of_project, project_id=project_id)

    async def get_by_phase(self, phase: ConversationPhase | str) -> list[Conversation]:
        """Live conversations currently in ``phase``, oldest first."""
        return await self._select(
            sql.CONVERSATIONS_IN_PHASE, phase=choice(ConversationPhase, phase, "phase")
        )

    async def conversation_analytics(self) -> ConversationFlowMetrics:
        """The same metrics as ``AnalyticsRepository.conversation_flow_analysis``."""
        return await AnalyticsRepository(self.session).conversation_flow_analysis()

    async def append_message(
        self, conversation_id: int, message: Mapping[str, Any] | MessageCreate
    ) -> Message:
        """Add one message at the end of a live conversation; the stored message,
        with its ``position``.

        One INSERT, as fast at 100,000 messages as at none, that leaves the
        conversation row alone: concurrent appends to one conversation all land
        without conflicting (ordered by the position each took). Audited as an
        update of the conversation whose changes name the new message's
        position and role. ``NotFoundError`` if the conversation is missing or
        deleted; a bad message raises ``ValidationError`` and writes nothing.
        """
        params = _message_params(_validated_message(message))

        def append(db: StatementRunner) -> Message:
            with db.atomic():
                row = db.one(sql.APPEND_MESSAGE, conversation_id=conversation_id, **params)
                if row is None:
                    raise NotFoundError(
                        self.entity.value, conversation_id, "it does not exist or is deleted"
                    )
                changes = {"message": {"position": row["position"], "role": row["role"]}}
                self.audit_trail.write(db, conversation_id, AuditAction.UPDATE, json_text(changes))
            return message_from_row(row)

        return await self.session.write_in_worker(
            append, entity=self.entity, entity_id=conversation_id
        )

    async def get_messages(
        self, conversation_id: int, *, after: int | None = None, limit: int = 100
    ) -> list[Message]:
        """One page of a conversation's messages, in order: at most ``limit``
        of those after position ``after`` (from the start when None). Pass the
        last message's ``position`` as ``after`` for the next page; an empty
        page means there is no more. Soft-deleted conversations keep their
        messages; a missing conversation has none ([])."""
        check_count("limit", limit)
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            raise InvalidQueryError(f"after must be a message position (an int), not {after!r}")

        def work(db: StatementRunner) -> list[Message]:
            rows = db.rows(
                sql.MESSAGES_PAGE, conversation_id=conversation_id, after=after, limit=limit
            )
            return [message_from_row(row) for row in rows]

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=conversation_id)

    async def add_message(
        self, id: int, message: Mapping[str, Any] | MessageCreate
    ) -> Conversation:
        """Append one message; the conversation with all its messages.

        The original design's call, kept with its results: unlike
        ``append_message`` it bumps the conversation's version (so concurrent
        calls on one conversation conflict and are retried, landing in commit
        order), is audited as an update whose ``messages`` change gives the
        message count before and after, and reads every message back, so it
        costs more the longer the conversation. Prefer ``append_message``.
        """
        params = _message_params(_validated_message(message))

        def append(db: StatementRunner) -> Conversation:
            row = db.one(sql.BUMP_CONVERSATION_VERSION, id=id)
            if row is None:
                raise NotFoundError(self.entity.value, id, "it does not exist or is deleted")
            db.one(sql.APPEND_MESSAGE, conversation_id=id, **params)
            conversation = self._model(db, row)
            count = len(conversation.messages)
            changes = {"messages": {"old": count - 1, "new": count}}
            self.audit_trail.write(db, id, AuditAction.UPDATE, json_text(changes))
            return conversation

        return await self.session.run_in_worker(
            lambda db: db.retrying_conflicts(append), entity=self.entity, entity_id=id
        )

    # -- the messages table, for BaseRepository's create and hard delete ------------

    def _write_children(self, db: StatementRunner, row: Row, item: CreateSchema) -> None:
        assert isinstance(item, ConversationCreate)
        if not item.messages:
            row["messages"] = []
            return
        row["messages"] = db.rows(
            sql.INSERT_MESSAGES, conversation_id=row["id"], messages=_messages_json(item)
        )

    def _delete_children(self, db: StatementRunner, id: int) -> None:
        db.run(sql.DELETE_MESSAGES_OF_CONVERSATION, conversation_id=id)


def _validated_message(message: Mapping[str, Any] | MessageCreate) -> MessageCreate:
    if isinstance(message, MessageCreate):
        return message
    return MessageCreate.model_validate(message)


def _message_params(item: MessageCreate) -> dict[str, Any]:
    """One message's parameters for the append statement."""
    return {
        "role": item.role.value,
        "content": item.content,
        "created_at": item.created_at,
        "metadata": to_param(item.metadata, is_json=True),
    }
