-- Conversations on PostgreSQL: the queries of sql/conversations.sql whose
-- DuckDB text does not run here. Every other query of that file runs on
-- PostgreSQL as written. Each twin keeps its DuckDB query's name, parameters
-- and suffix, and says under its header which DuckDB text it follows
-- (twin-of: file:query and the sha256 of that text): change both together.

-- name: audit_bulk_insert_conversations()!
-- twin-of: conversations.sql:audit_bulk_insert_conversations sha256:9f9ed6a51ef8
-- One 'create' audit entry per staged conversation (messages: how many it brought).
-- PostgreSQL: jsonb_build_object and jsonb_array_length instead of DuckDB's
-- json_object and json_array_length.
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'conversation', id, 'create',
       jsonb_build_object('project_id', project_id, 'title', title, 'phase', phase,
                          'messages', jsonb_array_length(CAST(messages AS jsonb)))
FROM staged_conversations;

-- name: conversations_by_ids(ids)
-- twin-of: conversations.sql:conversations_by_ids sha256:6807278ec9cf
-- The live conversations with these ids, in no order: the rows a search ranked
-- best, and the conversations of get_conversation calls made at the same
-- moment, read in one statement (coalesced reads).
-- PostgreSQL: no list_contains(); id = ANY(array) is a primary-key index scan.
SELECT *
FROM conversations
WHERE id = ANY (CAST(:ids AS bigint[]))
  AND deleted_at IS NULL;

-- name: conversations_by_ids_including_deleted(ids)
-- twin-of: conversations.sql:conversations_by_ids_including_deleted sha256:2a9b83df7cc0
-- The conversations with these ids, live or soft-deleted, in no order: the
-- get_conversation_including_deleted calls made at the same moment, in one
-- statement.
-- PostgreSQL: no list_contains(); id = ANY(array) instead.
SELECT *
FROM conversations
WHERE id = ANY (CAST(:ids AS bigint[]));
