-- Conversation flow on PostgreSQL: the twin of sql/analytics/conversation_flow.sql,
-- which says what each column holds and how a response and the time spent in a
-- phase are found (scope: live conversations, their messages, and the phase
-- changes of the audit trail).
--
-- What differs from the DuckDB text, and why:
--   * The lists (by_phase, by_role, transitions) are json arrays of objects
--     (same keys, same order; psycopg reads them as Python lists of dicts) where
--     DuckDB answers lists of structs; NULL when empty, as DuckDB's list().
--   * median(x) is percentile_cont(0.5) WITHIN GROUP (ORDER BY x): DuckDB's
--     median of integers interpolates the same way and answers DOUBLE.
--     avg() is cast to double precision (numeric on PostgreSQL).
--   * epoch_us(t) is extract(epoch FROM t) * 1000000 (exact numeric), cast to
--     bigint as DuckDB's epoch_us is.
--   * JSON: changes #>> '{phase,old}' for json_extract_string(changes,
--     '$.phase.old'); changes -> 'phase' IS NOT NULL for json_exists(changes,
--     '$.phase') (a key holding JSON null counts, as for DuckDB). The phases read
--     from JSON get COLLATE "C", so they group and sort by bytes as on DuckDB.

-- name: conversation_flow()^
-- twin-of: analytics/conversation_flow.sql:conversation_flow sha256:bb5a3f822037
-- Conversation phases, messages, response time and phase changes (columns in
-- sql/analytics/conversation_flow.sql).
-- PostgreSQL: json arrays for DuckDB's lists of structs, percentile_cont for
-- median, extract(epoch) for epoch_us, jsonb operators and COLLATE "C" for
-- the phases read from the audit trail (see above).
WITH live AS (
    SELECT id, phase, created_at
    FROM conversations
    WHERE deleted_at IS NULL
),
message_rows AS (
    SELECT m.conversation_id, m.position, m.role, m.created_at
    FROM messages AS m
    JOIN live ON live.id = m.conversation_id
),
message_counts AS (
    SELECT live.id, count(m.conversation_id) AS n
    FROM live
    LEFT JOIN message_rows AS m ON m.conversation_id = live.id
    GROUP BY live.id
),
-- The answer to a user message is the first assistant message after it. Number
-- each conversation's assistant messages in order (a running count): a user
-- message that k assistant messages precede is answered by the (k+1)-th.
numbered AS (
    SELECT conversation_id, role, created_at,
           count(*) FILTER (WHERE role = 'assistant') OVER (
               PARTITION BY conversation_id ORDER BY position
               ROWS UNBOUNDED PRECEDING
           ) AS assistants_so_far
    FROM message_rows
),
-- PostgreSQL: no self-join of numbered (the planner, blind to the CTE's size,
-- chose a nested loop: 4 s for 10,000 messages). Each user message and the
-- assistant message that answers it share a key: the answer's number. One
-- window over each conversation's (key) group pairs them, in one sorted pass.
keyed AS (
    SELECT conversation_id, role, created_at,
           CASE WHEN role = 'assistant' THEN assistants_so_far
                ELSE assistants_so_far + 1 END AS answer_number
    FROM numbered
    WHERE role IN ('user', 'assistant')
),
paired AS (
    SELECT role, created_at,
           min(created_at) FILTER (WHERE role = 'assistant') OVER (
               PARTITION BY conversation_id, answer_number
           ) AS answered_at
    FROM keyed
),
responses AS (
    SELECT CAST((extract(epoch FROM answered_at) - extract(epoch FROM created_at))
                * 1000000 AS bigint) AS microseconds
    FROM paired
    WHERE role = 'user'
      AND answered_at IS NOT NULL
),
phase_changes AS (
    SELECT a.entity_id AS conversation_id,
           a.id AS audit_id,
           a."at" AS changed_at,
           (a.changes #>> '{phase,old}') COLLATE "C" AS from_phase,
           (a.changes #>> '{phase,new}') COLLATE "C" AS to_phase
    FROM audit_log AS a
    JOIN live ON live.id = a.entity_id
    WHERE a.entity = 'conversation'
      AND a.action = 'update'
      AND a.changes -> 'phase' IS NOT NULL
      AND a.changes #>> '{phase,old}' <> a.changes #>> '{phase,new}'
),
time_in_phase AS (
    SELECT c.from_phase,
           CAST((extract(epoch FROM c.changed_at) - extract(epoch FROM coalesce(
               lag(c.changed_at) OVER (PARTITION BY c.conversation_id ORDER BY c.audit_id),
               live.created_at))) * 1000000 AS bigint) AS microseconds
    FROM phase_changes AS c
    JOIN live ON live.id = c.conversation_id
)
SELECT
    (SELECT count(*) FROM live) AS total_conversations,
    (SELECT json_agg(json_build_object('phase', phase, 'n', n) ORDER BY phase)
     FROM (SELECT phase, count(*) AS n FROM live GROUP BY phase) AS counted) AS by_phase,
    (SELECT json_agg(json_build_object('role', role, 'n', n) ORDER BY role)
     FROM (SELECT role, count(*) AS n FROM message_rows GROUP BY role) AS counted) AS by_role,
    (SELECT CAST(avg(n) AS double precision) FROM message_counts) AS avg_messages,
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM message_counts) AS median_messages,
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY microseconds) FROM responses)
        AS median_response_us,
    (SELECT json_agg(json_build_object('from_phase', from_phase, 'to_phase', to_phase, 'n', n)
                      ORDER BY n DESC, from_phase, to_phase)
     FROM (SELECT from_phase, to_phase, count(*) AS n FROM phase_changes GROUP BY from_phase, to_phase)
          AS counted) AS transitions,
    (SELECT from_phase
     FROM time_in_phase
     GROUP BY from_phase
     ORDER BY percentile_cont(0.5) WITHIN GROUP (ORDER BY microseconds) DESC, from_phase
     LIMIT 1) AS bottleneck_phase;
