-- Cross-entity activity on PostgreSQL: the twin of sql/analytics/cross_entity.sql,
-- which says what each column holds (scope: live rows; :now is the moment
-- "today", "last 30 days" is [:now - 30 days, :now]).
--
-- What differs from the DuckDB text, and why:
--   * The lists (projects, most_active, avg_documents_by_status) are json
--     arrays of objects (same keys, same order; psycopg reads them as
--     Python lists of dicts) where DuckDB answers lists of structs; NULL when empty.
--   * sum() of a bigint is numeric on PostgreSQL: cast to bigint (DuckDB's is
--     an integer); avg() is cast to double precision (DuckDB's is DOUBLE).
--   * INTERVAL '720 hours' (30 days of 24 hours) for DuckDB's INTERVAL 30 DAY,
--     which the library's UTC session makes 24-hour days (a PostgreSQL day
--     would follow the session's time zone across daylight-saving changes).
--   * GROUP BY ALL is spelled out.

-- name: cross_entity(now)^
-- twin-of: analytics/cross_entity.sql:cross_entity sha256:12c5580132a9
-- Per-project activity across all entities (columns in sql/analytics/cross_entity.sql).
-- PostgreSQL: json arrays for DuckDB's lists of structs, sums cast to bigint
-- and averages to double precision, 30 days as 720 hours, GROUP BY ALL spelled
-- out (see above).
WITH live_projects AS (
    SELECT id, name, status FROM projects WHERE deleted_at IS NULL
),
message_counts AS (
    SELECT conversation_id,
           count(*) AS messages,
           count(*) FILTER (WHERE created_at >= CAST(:now AS timestamptz) - INTERVAL '720 hours'
                              AND created_at <= CAST(:now AS timestamptz)) AS recent
    FROM messages
    GROUP BY conversation_id
),
talk AS (
    SELECT c.project_id,
           count(*) AS conversations,
           CAST(sum(coalesce(mc.messages, 0)) AS bigint) AS messages,
           CAST(sum(coalesce(mc.recent, 0)) AS bigint) AS recent
    FROM conversations AS c
    LEFT JOIN message_counts AS mc ON mc.conversation_id = c.id
    WHERE c.deleted_at IS NULL
    GROUP BY c.project_id
),
docs AS (
    SELECT project_id, count(*) AS n FROM documents WHERE deleted_at IS NULL GROUP BY project_id
),
repos AS (
    SELECT project_id, count(*) AS n FROM repositories WHERE deleted_at IS NULL GROUP BY project_id
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
    (SELECT json_agg(json_build_object('project_id', project_id, 'name', name,
                                         'conversations', conversations, 'documents', documents,
                                         'repositories', repositories, 'messages', messages)
                      ORDER BY project_id)
     FROM activity) AS projects,
    (SELECT count(*) FILTER (WHERE conversations = 0) FROM activity) AS projects_without_conversations,
    (SELECT json_agg(json_build_object('project_id', project_id, 'name', name,
                                         'conversations', conversations, 'documents', documents,
                                         'repositories', repositories, 'messages', messages)
                      ORDER BY recent DESC, project_id)
     FROM (SELECT * FROM activity WHERE recent > 0 ORDER BY recent DESC, project_id LIMIT 10) AS busiest)
        AS most_active,
    (SELECT json_agg(json_build_object('status', status, 'avg', avg_documents) ORDER BY status)
     FROM (SELECT status, CAST(avg(documents) AS double precision) AS avg_documents
           FROM activity GROUP BY status) AS averaged)
        AS avg_documents_by_status;
