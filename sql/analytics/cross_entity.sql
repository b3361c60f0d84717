-- Cross-entity activity: for every live project, how many live conversations,
-- documents, repositories and messages it has, and which were busiest lately.
--
-- Scope: live rows only; :now is the moment "today" ("last 30 days" is
-- [:now - 30 days, :now]).
--
-- Output (one row):
--   projects              list of {project_id, name, conversations, documents,
--                         repositories, messages}, by project id
--   projects_without_conversations  live projects with no live conversation
--   most_active           up to ten of those entries, by messages created in the
--                         last 30 days (most first, ties by project id); projects
--                         with no recent message are left out
--   avg_documents_by_status  list of {status, avg}: mean live documents per live
--                         project of each status

-- name: cross_entity(now)^
-- Per-project activity across all entities (columns above).
WITH live_projects AS (
    SELECT id, name, status FROM projects WHERE deleted_at IS NULL
),
message_counts AS (
    SELECT conversation_id,
           count(*) AS messages,
           count(*) FILTER (WHERE created_at >= CAST(:now AS TIMESTAMPTZ) - INTERVAL 30 DAY
                              AND created_at <= CAST(:now AS TIMESTAMPTZ)) AS recent
    FROM messages
    GROUP BY ALL
),
talk AS (
    SELECT c.project_id,
           count(*) AS conversations,
           sum(coalesce(mc.messages, 0)) AS messages,
           sum(coalesce(mc.recent, 0)) AS recent
    FROM conversations AS c
    LEFT JOIN message_counts AS mc ON mc.conversation_id = c.id
    WHERE c.deleted_at IS NULL
    GROUP BY ALL
),
docs AS (
    SELECT project_id, count(*) AS n FROM documents WHERE deleted_at IS NULL GROUP BY ALL
),
repos AS (
    SELECT project_id, count(*) AS n FROM repositories WHERE deleted_at IS NULL GROUP BY ALL
),
activity AS (
    SELECT p.id AS project_id,
           p.name,
           p.status,
           coalesce(talk.conversations, 0) AS conversations,
           coalesce(docs.n, 0) AS documents,
           coalesce(repos.n, 0) AS repositories,
           coalesce(talk.messages, 0) AS messages,
           coalesce(talk.recent, 0) AS recent
    FROM live_projects AS p
    LEFT JOIN talk ON talk.project_id = p.id
    LEFT JOIN docs ON docs.project_id = p.id
    LEFT JOIN repos ON repos.project_id = p.id
)
SELECT
    (SELECT list({'project_id': project_id, 'name': name, 'conversations': conversations,
                  'documents': documents, 'repositories': repositories, 'messages': messages}
                 ORDER BY project_id)
     FROM activity) AS projects,
    (SELECT count(*) FILTER (WHERE conversations = 0) FROM activity) AS projects_without_conversations,
    (SELECT list({'project_id': project_id, 'name': name, 'conversations': conversations,
                  'documents': documents, 'repositories': repositories, 'messages': messages}
                 ORDER BY recent DESC, project_id)
     FROM (SELECT * FROM activity WHERE recent > 0 ORDER BY recent DESC, project_id LIMIT 10))
        AS most_active,
    (SELECT list({'status': status, 'avg': avg_documents} ORDER BY status)
     FROM (SELECT status, avg(documents) AS avg_documents FROM activity GROUP BY ALL))
        AS avg_documents_by_status;
