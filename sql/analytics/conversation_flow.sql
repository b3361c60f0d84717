-- Conversation flow: where conversations are, how long they run, how fast the
-- assistant answers, and which phase holds them up.
--
-- Scope: live conversations (deleted_at IS NULL) and their messages; phase
-- changes come from the audit trail (update entries whose changes hold 'phase').
--
-- Output (one row):
--   total_conversations      live conversations
--   by_phase                 list of {phase, n}
--   by_role                  list of {role, n}: messages per role
--   avg_messages             mean messages per conversation (NULL if none)
--   median_messages          median messages per conversation (NULL if none)
--   median_response_us       median time from each user message to the next
--                            assistant message after it in the same conversation
--                            (list order), in microseconds; NULL if no such pair
--   transitions              list of {from_phase, to_phase, n}: phase changes
--                            (old <> new), most frequent first
--   bottleneck_phase         the phase with the longest median time spent in it
--                            before moving on (time from entering it, or from the
--                            conversation's creation, to the change that left
--                            it); ties by name; NULL if no conversation moved

-- name: conversation_flow()^
-- Conversation phases, messages, response time and phase changes (columns above).
WITH live AS (
    SELECT id, phase, messages, created_at
    FROM conversations
    WHERE deleted_at IS NULL
),
message_rows AS (
    SELECT live.id AS conversation_id, m.position, m.message.role AS role,
           m.message.created_at AS created_at
    FROM live, unnest(live.messages) WITH ORDINALITY AS m (message, position)
),
responses AS (
    SELECT role,
           created_at,
           first_value(CASE WHEN role = 'assistant' THEN created_at END IGNORE NULLS) OVER (
               PARTITION BY conversation_id ORDER BY position
               ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
           ) AS answered_at
    FROM message_rows
),
phase_changes AS (
    SELECT a.entity_id AS conversation_id,
           a.id AS audit_id,
           a."at" AS changed_at,
           json_extract_string(a.changes, '$.phase.old') AS from_phase,
           json_extract_string(a.changes, '$.phase.new') AS to_phase
    FROM audit_log AS a
    JOIN live ON live.id = a.entity_id
    WHERE a.entity = 'conversation'
      AND a.action = 'update'
      AND json_exists(a.changes, '$.phase')
      AND json_extract_string(a.changes, '$.phase.old') <> json_extract_string(a.changes, '$.phase.new')
),
time_in_phase AS (
    SELECT c.from_phase,
           epoch_us(c.changed_at) - epoch_us(coalesce(
               lag(c.changed_at) OVER (PARTITION BY c.conversation_id ORDER BY c.audit_id),
               live.created_at)) AS microseconds
    FROM phase_changes AS c
    JOIN live ON live.id = c.conversation_id
)
SELECT
    (SELECT count(*) FROM live) AS total_conversations,
    (SELECT list({'phase': phase, 'n': n} ORDER BY phase)
     FROM (SELECT phase, count(*) AS n FROM live GROUP BY ALL)) AS by_phase,
    (SELECT list({'role': role, 'n': n} ORDER BY role)
     FROM (SELECT role, count(*) AS n FROM message_rows GROUP BY ALL)) AS by_role,
    (SELECT avg(len(messages)) FROM live) AS avg_messages,
    (SELECT CAST(median(len(messages)) AS DOUBLE) FROM live) AS median_messages,
    (SELECT CAST(median(epoch_us(answered_at) - epoch_us(created_at)) AS DOUBLE)
     FROM responses
     WHERE role = 'user' AND answered_at IS NOT NULL) AS median_response_us,
    (SELECT list({'from_phase': from_phase, 'to_phase': to_phase, 'n': n}
                 ORDER BY n DESC, from_phase, to_phase)
     FROM (SELECT from_phase, to_phase, count(*) AS n FROM phase_changes GROUP BY ALL)) AS transitions,
    (SELECT from_phase
     FROM time_in_phase
     GROUP BY from_phase
     ORDER BY median(microseconds) DESC, from_phase
     LIMIT 1) AS bottleneck_phase;
