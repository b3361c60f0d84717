-- 0004_messages_as_rows: a conversation's messages move from a list column
-- (conversations.messages) into a table of their own, one row per message.
--
-- Why: appending to a list rewrites the whole list, so an append cost grew with
-- the conversation (162 appends/s on an empty one, 7.5/s at 10,000 messages,
-- DuckDB 2.0.1), and two appends to one conversation conflicted. An append is
-- now one INSERT, whatever the length, and concurrent appends never conflict.
--
-- position orders a conversation's messages. It comes from one sequence for
-- all conversations: it only grows, it is unique across the database, and a
-- conversation's positions have gaps (the other conversations' messages in
-- between). Sequences are not transactional in DuckDB, so concurrent appends
-- each get their own value without touching a shared row.
--
-- The table has no indexes, measured on 1.2 million messages: reading one
-- conversation's messages scanned as fast without an index on conversation_id
-- (zone maps skip the row groups of other conversations' messages: 0.7 ms for
-- a 10-message conversation either way), appends were no faster with one, and
-- ART keys shared by many rows make bulk commits slow (see 0003). No FOREIGN
-- KEY either, for the reasons 0001 gives: the library inserts a message only
-- when its conversation is live, in the same statement, and a hard delete
-- removes the messages in the same transaction as their conversation.
--
-- The move keeps every message's order (positions 1, 2, ... in conversation id
-- order, then list order), role, content, created_at and metadata; the sequence
-- then continues after the last position used.

CREATE SEQUENCE messages_position_seq START 1;

CREATE TABLE messages (
    conversation_id BIGINT NOT NULL,
    position        BIGINT NOT NULL DEFAULT nextval('messages_position_seq'),
    role            VARCHAR NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content         VARCHAR NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    metadata        JSON
);

INSERT INTO messages (conversation_id, position, role, content, created_at, metadata)
SELECT c.id,
       row_number() OVER (ORDER BY c.id, m.ordinal),
       m.message.role,
       m.message.content,
       m.message.created_at,
       m.message.metadata
FROM conversations AS c,
     unnest(c.messages) WITH ORDINALITY AS m (message, ordinal)
ORDER BY c.id, m.ordinal;

-- Use up the positions the moved messages took (nextval once per message), so
-- the next append continues after them.
SELECT count(nextval('messages_position_seq')) FROM messages;

-- DuckDB refuses to alter a table that has an index: drop it, drop the list
-- column, make the index again. The struct type goes with the column.
DROP INDEX conversations_project_id_idx;
ALTER TABLE conversations DROP COLUMN messages;
CREATE INDEX conversations_project_id_idx ON conversations (project_id);
DROP TYPE message;
