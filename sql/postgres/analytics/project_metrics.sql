-- Project metrics on PostgreSQL: the twin of sql/analytics/project_metrics.sql,
-- which says what each column holds (scope: live projects created in
-- [:start, :end), a NULL bound leaving that side open).
--
-- What differs from the DuckDB text, and why:
--   * DuckDB answers the lists (by_status, complexity, frameworks) as lists of
--     structs; PostgreSQL has no such value for psycopg to read back, so each
--     is a json array of objects with the same keys, in the same order (psycopg
--     reads it as a Python list of dicts); NULL when empty, as DuckDB's list().
--   * JSON paths: architecture -> 'complexity_score' (its JSON text; jsonb
--     writes a number's value, so 1e2 reads '100' where DuckDB writes
--     '100.0': the key the library makes of it is the same),
--     ->> 'framework' and jsonb_typeof(...) = 'string' for DuckDB's
--     json_extract_string and json_type(...) = 'VARCHAR'.
--   * Text made from JSON has the database's collation: COLLATE "C" orders it
--     by bytes, as DuckDB does.
--   * count(*) is bigint on both; avg() of the numeric microseconds is cast
--     to double precision (DuckDB's avg is DOUBLE). epoch_us(t) is
--     extract(epoch FROM t) * 1000000, exact in numeric.

-- name: project_metrics(start, end)^
-- twin-of: analytics/project_metrics.sql:project_metrics sha256:cee57bad570e
-- Project counts, completion time, complexity and frameworks (columns in
-- sql/analytics/project_metrics.sql).
-- PostgreSQL: json arrays for DuckDB's lists of structs, jsonb operators for
-- DuckDB's JSON functions, COLLATE "C" on text from JSON (see above).
WITH scope AS (
    SELECT status, created_at, completed_at, architecture
    FROM projects
    WHERE deleted_at IS NULL
      AND (CAST(:start AS timestamptz) IS NULL OR created_at >= :start)
      AND (CAST(:end AS timestamptz) IS NULL OR created_at < :end)
),
scores AS (
    -- The score as JSON text (NULL when missing); the library turns each distinct
    -- text into its key ('7' for 7 or 7.0, 'unknown' otherwise) exactly, in Python.
    SELECT CAST(architecture -> 'complexity_score' AS text) COLLATE "C" AS raw
    FROM scope
),
frameworks AS (
    SELECT (architecture ->> 'framework') COLLATE "C" AS framework, count(*) AS n
    FROM scope
    WHERE jsonb_typeof(architecture -> 'framework') = 'string'
    GROUP BY 1
    ORDER BY n DESC, framework
    LIMIT 10
)
SELECT
    (SELECT count(*) FROM scope) AS total_projects,
    (SELECT count(*) FILTER (WHERE status = 'active') FROM scope) AS active_projects,
    (SELECT count(*) FILTER (WHERE status = 'completed') FROM scope) AS completed_projects,
    (SELECT CAST(avg((extract(epoch FROM completed_at) - extract(epoch FROM created_at)) * 1000000)
                     FILTER (WHERE status = 'completed' AND completed_at IS NOT NULL)
                 AS double precision)
     FROM scope) AS avg_completion_us,
    (SELECT json_agg(json_build_object('status', status, 'n', n) ORDER BY status)
     FROM (SELECT status, count(*) AS n FROM scope GROUP BY status) AS counted) AS by_status,
    (SELECT json_agg(json_build_object('raw', raw, 'n', n) ORDER BY raw)
     FROM (SELECT raw, count(*) AS n FROM scores GROUP BY raw) AS counted) AS complexity,
    (SELECT json_agg(json_build_object('framework', framework, 'n', n) ORDER BY n DESC, framework)
     FROM frameworks) AS frameworks;
