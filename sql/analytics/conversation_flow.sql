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
--                            (position order), in microseconds; NULL if no such
--                            pair
--   transitions              list of {from_phase, to_phase, n}: phase changes
--                            (old <> new), most frequent first
--   bottleneck_phase         the phase with the longest median time spent in it
--                            before moving on (time from entering it, or from the
--                            conversation's creation, to the change that left
--                            it); ties by name; NULL if no conversation moved

-- name: conversation_flow()^
-- Conversation phases, messages, response time and phase changes (columns above).
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
-- message that k assistant messages precede is answered by the (k+1)-th. One
-- pass and a join, so a long run of unanswered messages costs no more than any
-- other (a "first assistant message in the rest of the conversation" window
-- frame grew with the square of such a run).
numbered AS (
    SELECT conversation_id, role, created_at,
           count(*) FILTER (WHERE role = 'assistant') OVER (
               PARTITION BY conversation_id ORDER BY position
               ROWS UNBOUNDED PRECEDING
           ) AS assistants_so_far
    FROM message_rows
),
responses AS (
    SELECT epoch_us(answer.created_at) - epoch_us(question.created_at) AS microseconds
    FROM numbered AS question
    JOIN numbered AS answer
      ON answer.conversation_id = question.conversation_id
     AND answer.role = 'assistant'
     AND answer.assistants_so_far = question.assistants_so_far + 1
    WHERE question.role = 'user'
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
    (SELECT avg(n) FROM message_counts) AS avg_messages,
    (SELECT CAST(median(n) AS DOUBLE) FROM message_counts) AS median_messages,
    (SELECT CAST(median(microseconds) AS DOUBLE) FROM responses) AS median_response_us,
    (SELECT list({'from_phase': from_phase, 'to_phase': to_phase, 'n': n}
                 ORDER BY n DESC, from_phase, to_phase)
     FROM (SELECT from_phase, to_phase, count(*) AS n FROM phase_changes GROUP BY ALL)) AS transitions,
    (SELECT from_phase
     FROM time_in_phase
     GROUP BY from_phase
     ORDER BY median(microseconds) DESC, from_phase
     LIMIT 1) AS bottleneck_phase;
