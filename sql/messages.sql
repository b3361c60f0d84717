-- Messages: one row per message of a conversation (migration 0004 moved them
-- out of the conversations table). position orders a conversation's messages:
-- it comes from one sequence for every conversation, so it only grows and is
-- unique, with gaps between one conversation's messages.
--
-- A message belongs to a live conversation when it is written (checked in the
-- same statement); soft-deleting a conversation keeps its messages, a hard
-- delete removes them in the same transaction.

-- name: append_message(conversation_id, role, content, created_at, metadata)^
-- Adds one message at the end of a live conversation: one INSERT, however
-- long the conversation is, and concurrent appends never conflict (each takes
-- its own position from the sequence). No row back: the conversation is
-- missing or deleted.
INSERT INTO messages (conversation_id, role, content, created_at, metadata)
SELECT :conversation_id, :role, :content, :created_at, CAST(:metadata AS JSON)
WHERE EXISTS (
    SELECT 1 FROM conversations WHERE id = :conversation_id AND deleted_at IS NULL
)
RETURNING position, role, content, created_at, metadata;

-- name: insert_messages(conversation_id, messages)<!
-- The messages a new conversation brings, in list order (messages arrives as
-- a JSON array of {role, content, created_at, metadata}). Positions are drawn
-- from the sequence, then sorted and given out in list order: nextval alone
-- promises unique values, not values in the order of the rows.
-- (unnest in the select list, as in bulk_insert_staged_messages: the table
-- function form took 8.6 s for one list of 10,000 messages on DuckDB 2.0.1.)
INSERT INTO messages (conversation_id, position, role, content, created_at, metadata)
WITH list AS (
    SELECT CAST(CAST(:messages AS JSON)
                AS STRUCT(role VARCHAR, content VARCHAR, created_at TIMESTAMPTZ, metadata JSON)[])
               AS messages
),
given AS (
    SELECT unnest(messages) AS message, generate_subscripts(messages, 1) AS ordinal
    FROM list
),
drawn AS (
    SELECT position, row_number() OVER (ORDER BY position) AS k
    FROM (SELECT nextval('messages_position_seq') AS position FROM given)
),
numbered AS (
    SELECT message, row_number() OVER (ORDER BY ordinal) AS k FROM given
)
SELECT :conversation_id, d.position, n.message.role, n.message.content,
       n.message.created_at, n.message.metadata
FROM numbered AS n
JOIN drawn AS d USING (k)
ORDER BY d.position
RETURNING position, role, content, created_at, metadata;

-- name: bulk_insert_staged_messages()!
-- The messages of the conversations of one bulk_create chunk, from the Arrow
-- table registered as staged_conversations (id, and messages as JSON text), in
-- conversation id order and then list order; positions are handed out as in
-- insert_messages. (unnest in the select list, not as a lateral table
-- function: DuckDB 2.0.1 ran out of memory joining one staged row to a list of
-- 20,000 messages that way; this form takes 0.05 s for 100,000.)
INSERT INTO messages (conversation_id, position, role, content, created_at, metadata)
WITH lists AS (
    SELECT id,
           CAST(CAST(messages AS JSON)
                AS STRUCT(role VARCHAR, content VARCHAR, created_at TIMESTAMPTZ, metadata JSON)[])
               AS messages
    FROM staged_conversations
),
given AS (
    SELECT id AS conversation_id,
           unnest(messages) AS message,
           generate_subscripts(messages, 1) AS ordinal
    FROM lists
),
drawn AS (
    SELECT position, row_number() OVER (ORDER BY position) AS k
    FROM (SELECT nextval('messages_position_seq') AS position FROM given)
),
numbered AS (
    SELECT conversation_id, message,
           row_number() OVER (ORDER BY conversation_id, ordinal) AS k
    FROM given
)
SELECT n.conversation_id, d.position, n.message.role, n.message.content,
       n.message.created_at, n.message.metadata
FROM numbered AS n
JOIN drawn AS d USING (k)
ORDER BY d.position;

-- name: messages_page(conversation_id, after, limit)
-- One page of a conversation's messages in order: those after position :after
-- (all when NULL), at most :limit of them. Pass the last position of a page as
-- :after to get the next.
SELECT position, role, content, created_at, metadata
FROM messages
WHERE conversation_id = :conversation_id
  AND (CAST(:after AS BIGINT) IS NULL OR position > :after)
ORDER BY position
LIMIT :limit;

-- name: messages_of_conversations(ids)
-- Every message of these conversations, each conversation's in order, for the
-- read models (a Conversation holds its messages). One scan of messages for
-- any number of conversations.
SELECT conversation_id AS parent_id, position, role, content, created_at, metadata
FROM messages
WHERE conversation_id IN (SELECT unnest(CAST(:ids AS BIGINT[])))
ORDER BY conversation_id, position;

-- name: delete_messages_of_conversation(conversation_id)!
-- A conversation's hard delete takes its messages with it (same transaction).
DELETE FROM messages
WHERE conversation_id = :conversation_id;

-- name: delete_messages_of_project(project_id)!
-- A project's hard delete takes the messages of all its conversations, live
-- or not, before the conversations themselves go.
DELETE FROM messages
WHERE conversation_id IN (SELECT id FROM conversations WHERE project_id = :project_id);
