-- Project metrics: how many projects, in which status, how long they take to
-- complete, how complex they are and which frameworks they use.
--
-- Scope: live projects (deleted_at IS NULL) created in [:start, :end); a NULL
-- bound leaves that side open.
--
-- Output (one row):
--   total_projects      projects in scope
--   active_projects     of them, status 'active'
--   completed_projects  of them, status 'completed'
--   avg_completion_us   mean of completed_at - created_at, in microseconds, over
--                       completed projects that have completed_at (NULL if none)
--   by_status           list of {status, n}: every status present, with its count
--   complexity          list of {raw, n}: architecture.complexity_score as JSON
--                       text (NULL where missing); the library makes the key:
--                       a whole number's integer text ('7' for 7 or 7.0), or
--                       'unknown' where missing, not a number or not whole
--   frameworks          list of {framework, n}: architecture.framework (JSON
--                       strings only), most common first, ties by name, top 10

-- name: project_metrics(start, end)^
-- Project counts, completion time, complexity and frameworks (columns above).
WITH scope AS (
    SELECT status, created_at, completed_at, architecture
    FROM projects
    WHERE deleted_at IS NULL
      AND (CAST(:start AS TIMESTAMPTZ) IS NULL OR created_at >= :start)
      AND (CAST(:end AS TIMESTAMPTZ) IS NULL OR created_at < :end)
),
scores AS (
    -- The score as JSON text (NULL when missing); the library turns each distinct
    -- text into its key ('7' for 7 or 7.0, 'unknown' otherwise) exactly, in Python,
    -- because DuckDB's casts round integers beyond 2**64 and huge floats.
    SELECT json_extract(architecture, '$.complexity_score')::VARCHAR AS raw
    FROM scope
),
frameworks AS (
    SELECT json_extract_string(architecture, '$.framework') AS framework, count(*) AS n
    FROM scope
    WHERE json_type(architecture, '$.framework') = 'VARCHAR'
    GROUP BY ALL
    ORDER BY n DESC, framework
    LIMIT 10
)
SELECT
    (SELECT count(*) FROM scope) AS total_projects,
    (SELECT count(*) FILTER (WHERE status = 'active') FROM scope) AS active_projects,
    (SELECT count(*) FILTER (WHERE status = 'completed') FROM scope) AS completed_projects,
    (SELECT avg(epoch_us(completed_at) - epoch_us(created_at))
       FILTER (WHERE status = 'completed' AND completed_at IS NOT NULL)
     FROM scope) AS avg_completion_us,
    (SELECT list({'status': status, 'n': n} ORDER BY status)
     FROM (SELECT status, count(*) AS n FROM scope GROUP BY ALL)) AS by_status,
    (SELECT list({'raw': raw, 'n': n} ORDER BY raw)
     FROM (SELECT raw, count(*) AS n FROM scores GROUP BY ALL)) AS complexity,
    (SELECT list({'framework': framework, 'n': n} ORDER BY n DESC, framework)
     FROM frameworks) AS frameworks;
