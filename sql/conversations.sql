-- Conversations: message threads about a project, moving through phases
-- (discovery, requirements, design, implementation, review). Their messages
-- are rows of the messages table (sql/messages.sql); the library reads them
-- with messages_of_conversations for the conversations a call returns.

-- name: get_conversation(id)^
-- One live conversation by id (none when it is soft-deleted).
SELECT *
FROM conversations
WHERE id = :id
  AND deleted_at IS NULL;

-- name: get_conversation_including_deleted(id)^
-- One conversation by id, live or soft-deleted. (A query of its own: folding the
-- choice into get_conversation as "deleted_at IS NULL OR :include_deleted" made
-- every lookup about 15% slower.)
SELECT *
FROM conversations
WHERE id = :id;

-- name: list_conversations()
-- Every conversation row, live and soft-deleted; the library filters, orders
-- and pages it.
SELECT * FROM conversations;

-- name: conversations_of_project(project_id)
-- The live conversations of one project, oldest first.
SELECT *
FROM conversations
WHERE project_id = :project_id
  AND deleted_at IS NULL
ORDER BY id;

-- name: conversations_in_phase(phase)
-- Live conversations currently in one phase, oldest first.
SELECT *
FROM conversations
WHERE phase = :phase
  AND deleted_at IS NULL
ORDER BY id;

-- name: insert_conversation(project_id, title, phase)<!
-- A new conversation of a live project (no row back: the project is missing or
-- deleted). Its first messages, if any, follow with insert_messages.
INSERT INTO conversations (project_id, title, phase)
SELECT :project_id, :title, :phase
WHERE EXISTS (SELECT 1 FROM projects WHERE id = :project_id AND deleted_at IS NULL)
RETURNING *;

-- name: update_conversation(id, version, title, phase)^
-- Writes title and phase of a live conversation if its version is still the one
-- the library read; bumps version and stamps updated_at.
UPDATE conversations
SET title      = :title,
    phase      = :phase,
    version    = version + 1,
    updated_at = now()
WHERE id = :id
  AND version = :version
  AND deleted_at IS NULL
RETURNING *;

-- name: bump_conversation_version(id)^
-- add_message's first step: a live conversation's version goes up by one and
-- updated_at is stamped, as for any change to it. (append_message does not
-- touch the conversation row, which is why concurrent appends never conflict.)
UPDATE conversations
SET version    = version + 1,
    updated_at = now()
WHERE id = :id
  AND deleted_at IS NULL
RETURNING *;

-- name: soft_delete_conversation(id)^
-- Marks a live conversation deleted.
UPDATE conversations
SET deleted_at = now()
WHERE id = :id
  AND deleted_at IS NULL
RETURNING id, deleted_at;

-- name: soft_delete_conversations_of_project(project_id, deleted_at)
-- Cascade of a project's soft delete: its live conversations get the project's
-- deleted_at, which is how a restore finds them again.
UPDATE conversations
SET deleted_at = :deleted_at
WHERE project_id = :project_id
  AND deleted_at IS NULL
RETURNING id;

-- name: restore_conversation(id)^
-- Brings a soft-deleted conversation back, if its project is live.
UPDATE conversations
SET deleted_at = NULL
WHERE id = :id
  AND deleted_at IS NOT NULL
  AND project_id IN (SELECT id FROM projects WHERE deleted_at IS NULL)
RETURNING *;

-- name: restore_conversations_of_project(project_id, deleted_at)
-- Undoes the cascade: the conversations deleted together with the project.
UPDATE conversations
SET deleted_at = NULL
WHERE project_id = :project_id
  AND deleted_at = :deleted_at
RETURNING id;

-- name: hard_delete_conversation(id)^
-- Removes a conversation for good (after its messages:
-- delete_messages_of_conversation, in the same transaction).
DELETE FROM conversations
WHERE id = :id
RETURNING id;

-- name: hard_delete_conversations_of_project(project_id)
-- Removes every conversation of a project, live or not (its hard delete; their
-- messages go first, with delete_messages_of_project).
DELETE FROM conversations
WHERE project_id = :project_id
RETURNING id;

-- name: bulk_insert_conversations()<!
-- Inserts the rows of the Arrow table registered as staged_conversations
-- (ids drawn beforehand); their messages (JSON text in the staged messages
-- column) follow with bulk_insert_staged_messages.
INSERT INTO conversations (id, project_id, title, phase)
SELECT id, project_id, title, phase
FROM staged_conversations
RETURNING *;

-- name: audit_bulk_insert_conversations()!
-- One 'create' audit entry per staged conversation.
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'conversation', id, 'create',
       json_object('project_id', project_id, 'title', title, 'phase', phase,
                   'messages', json_array_length(CAST(messages AS JSON)))
FROM staged_conversations;

-- name: conversations_by_ids(ids)
-- The live conversations with these ids, in no order: the rows a search ranked
-- best, and the conversations of get_conversation calls made at the same moment, read
-- in one statement (coalesced reads). list_contains() is a primary-key index
-- scan: on 100,000 rows 0.8 ms for 2 ids, 2.5 ms for 16, 4.2 ms for 32 (a
-- lookup of one id by get_conversation costs 0.7 ms).
SELECT *
FROM conversations
WHERE list_contains(CAST(:ids AS BIGINT[]), id)
  AND deleted_at IS NULL;

-- name: conversations_by_ids_including_deleted(ids)
-- The conversations with these ids, live or soft-deleted, in no order: the
-- get_conversation_including_deleted calls made at the same moment, in one
-- statement.
SELECT *
FROM conversations
WHERE list_contains(CAST(:ids AS BIGINT[]), id);

-- name: conversations_update_targets(ids)
-- What a bulk update of the live conversations with these ids starts from: id, version
-- (to check and to guard the update) and the columns it may change (their old
-- values go to the audit trail). Missing ids are deleted or never existed. A
-- semi-join, not list_contains(): thousands of ids stay one hash lookup each.
SELECT id, version, title, phase
FROM conversations
WHERE id IN (SELECT unnest(CAST(:ids AS BIGINT[])))
  AND deleted_at IS NULL;

-- name: bulk_update_conversations()
-- Applies the Arrow table registered as staged_updates in one statement: per
-- row its id, the version the library just read (read_version), and for each
-- column a set_<column> flag with the new value. Only flagged columns change;
-- the version goes up by one. Returns the ids of the updated rows.
UPDATE conversations AS c
SET
    title = CASE WHEN s.set_title THEN s.title ELSE c.title END,
    phase = CASE WHEN s.set_phase THEN s.phase ELSE c.phase END,
    version = c.version + 1,
    updated_at = now()
FROM staged_updates AS s
WHERE c.id = s.id
  AND c.version = s.read_version
  AND c.deleted_at IS NULL
RETURNING c.id;
