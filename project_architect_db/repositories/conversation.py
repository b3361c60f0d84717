"""Conversations and their messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pyarrow as pa

from ..core import statements as sql
from ..core.runner import StatementRunner
from ..errors import NotFoundError
from ..schemas.analytics import ConversationFlowMetrics
from ..schemas.common import AuditAction, EntityKind
from ..schemas.conversation import (
    Conversation,
    ConversationCreate,
    ConversationPhase,
    ConversationUpdate,
    MessageCreate,
)
from .analytics import AnalyticsRepository
from .base import BaseRepository
from .values import choice, json_text, to_param

__all__ = ["ConversationRepository"]


def _messages_json(item: ConversationCreate) -> str:
    """A new conversation's messages as the JSON text the insert binds."""
    return json_text([m.to_json() for m in item.messages])


class ConversationRepository(BaseRepository[Conversation]):
    """Conversations of projects; ``add_message`` appends to one atomically."""

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

    async def add_message(
        self, id: int, message: Mapping[str, Any] | MessageCreate
    ) -> Conversation:
        """Append one message; the conversation with it.

        The append is a single statement, retried if a concurrent writer touched
        the same conversation first, so concurrent calls all land, in commit
        order. It bumps the version and is audited as an update whose
        ``messages`` change gives the message count before and after.
        """
        item = (
            message if isinstance(message, MessageCreate) else MessageCreate.model_validate(message)
        )
        params = {
            "role": item.role.value,
            "content": item.content,
            "created_at": item.created_at,
            "metadata": to_param(item.metadata, is_json=True),
        }

        def append(db: StatementRunner) -> Conversation:
            row = db.one(sql.APPEND_MESSAGE, id=id, **params)
            if row is None:
                raise NotFoundError(self.entity.value, id, "it does not exist or is deleted")
            count = len(row["messages"])
            changes = {"messages": {"old": count - 1, "new": count}}
            self.audit_trail.write(db, id, AuditAction.UPDATE, json.dumps(changes))
            return Conversation.from_row(row)

        return await self.session.run_in_worker(
            lambda db: db.retrying_conflicts(append), entity=self.entity, entity_id=id
        )
