-- Messages on PostgreSQL: the queries of sql/messages.sql whose DuckDB text
-- does not run here. Every other query of that file runs on PostgreSQL as
-- written. Each twin keeps its DuckDB query's name, parameters and suffix, and
-- says under its header which DuckDB text it follows (twin-of: file:query and
-- the sha256 of that text): change both together.

-- name: insert_messages(conversation_id, messages)<!
-- twin-of: messages.sql:insert_messages sha256:d4bc5fc53202
-- The messages a new conversation brings, in list order (messages arrives as
-- a JSON array of {role, content, created_at, metadata}). Positions are drawn
-- from the sequence, then sorted and given out in list order: nextval alone
-- promises unique values, not values in the order of the rows.
-- PostgreSQL: no STRUCT cast of JSON; jsonb_to_recordset makes the messages
-- rows (a JSON null metadata becomes SQL NULL, as DuckDB's cast makes it) and
-- WITH ORDINALITY gives each its place in the list.
INSERT INTO messages (conversation_id, position, role, content, created_at, metadata)
WITH given AS (
    SELECT *
    FROM ROWS FROM (
             jsonb_to_recordset(CAST(:messages AS jsonb))
                 AS (role text, content text, created_at timestamptz, metadata jsonb)
         ) WITH ORDINALITY
         AS message (role, content, created_at, metadata, ordinal)
),
drawn AS (
    SELECT position, row_number() OVER (ORDER BY position) AS k
    FROM (SELECT nextval('messages_position_seq') AS position FROM given) AS positions
),
numbered AS (
    SELECT *, row_number() OVER (ORDER BY ordinal) AS k FROM given
)
SELECT :conversation_id, d.position, n.role, n.content, n.created_at, n.metadata
FROM numbered AS n
JOIN drawn AS d USING (k)
ORDER BY d.position
RETURNING position, role, content, created_at, metadata;

-- name: bulk_insert_staged_messages()!
-- twin-of: messages.sql:bulk_insert_staged_messages sha256:2673c7c43031
-- The messages of the conversations of one bulk_create chunk, from the table
-- staged_conversations (id, and messages as JSON text), in conversation id
-- order and then list order; positions are handed out as in insert_messages.
-- PostgreSQL: no STRUCT cast of JSON; each staged conversation's messages
-- become rows with jsonb_to_recordset in a lateral join (the natural form
-- here: DuckDB needed unnest in the select list for memory's sake), WITH
-- ORDINALITY giving each its place in its list.
INSERT INTO messages (conversation_id, position, role, content, created_at, metadata)
WITH given AS (
    SELECT s.id AS conversation_id, m.role, m.content, m.created_at, m.metadata, m.ordinal
    FROM staged_conversations AS s
    CROSS JOIN LATERAL ROWS FROM (
             jsonb_to_recordset(CAST(s.messages AS jsonb))
                 AS (role text, content text, created_at timestamptz, metadata jsonb)
         ) WITH ORDINALITY
         AS m (role, content, created_at, metadata, ordinal)
),
drawn AS (
    SELECT position, row_number() OVER (ORDER BY position) AS k
    FROM (SELECT nextval('messages_position_seq') AS position FROM given) AS positions
),
numbered AS (
    SELECT *, row_number() OVER (ORDER BY conversation_id, ordinal) AS k
    FROM given
)
SELECT n.conversation_id, d.position, n.role, n.content, n.created_at, n.metadata
FROM numbered AS n
JOIN drawn AS d USING (k)
ORDER BY d.position;
