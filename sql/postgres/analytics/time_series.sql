-- Time series on PostgreSQL: the twin of sql/analytics/time_series.sql, which
-- gives the metrics, granularities and range rules (every bucket present, 0
-- where nothing happened; the range is [:start, :end), a NULL bound replaced
-- by the first or last event).
--
-- What differs from the DuckDB text, and why:
--   * Buckets are cut in UTC whatever the session's time zone:
--     date_trunc(:granularity, t, 'UTC') (DuckDB truncates in the session's
--     zone, which the library sets to UTC), and the series of buckets steps
--     through UTC wall-clock time (timestamp without time zone, turned back into
--     timestamptz), so a day is a calendar day and a month a calendar month
--     in UTC. 'week' starts on Monday on both engines.
--   * generate_series is a set-returning function here, not a list to unnest;
--     intervals are written '1 hour', '1 day', '7 days', '1 month', and the
--     instant before :end is :end - INTERVAL '1 microsecond'.
--   * GROUP BY ALL is spelled out.

-- name: time_series(metric, granularity, start, end)
-- twin-of: analytics/time_series.sql:time_series sha256:7f4d3cd75504
-- Events per bucket of one metric, every bucket present (columns in
-- sql/analytics/time_series.sql).
-- PostgreSQL: buckets cut and stepped in UTC explicitly, generate_series as a
-- set-returning function, PostgreSQL's interval literals (see above).
WITH events AS (
    SELECT created_at AS happened_at FROM projects
    WHERE :metric = 'projects_created' AND deleted_at IS NULL
    UNION ALL
    SELECT completed_at FROM projects
    WHERE :metric = 'projects_completed' AND deleted_at IS NULL AND completed_at IS NOT NULL
    UNION ALL
    SELECT created_at FROM conversations
    WHERE :metric = 'conversations_started' AND deleted_at IS NULL
    UNION ALL
    SELECT m.created_at FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id
    WHERE :metric = 'messages' AND c.deleted_at IS NULL
    UNION ALL
    SELECT created_at FROM documents
    WHERE :metric = 'documents_created' AND deleted_at IS NULL
    UNION ALL
    SELECT created_at FROM repositories
    WHERE :metric = 'repositories_added' AND deleted_at IS NULL
),
in_range AS (
    SELECT happened_at
    FROM events
    WHERE (CAST(:start AS timestamptz) IS NULL OR happened_at >= :start)
      AND (CAST(:end AS timestamptz) IS NULL OR happened_at < :end)
),
counts AS (
    SELECT date_trunc(:granularity, happened_at, 'UTC') AS bucket, count(*) AS value
    FROM in_range
    GROUP BY 1
),
bounds AS (
    SELECT date_trunc(:granularity, coalesce(CAST(:start AS timestamptz), min(happened_at)), 'UTC')
               AS first_bucket,
           -- the end is exclusive: the last bucket is the one holding the instant before it
           date_trunc(:granularity,
                      coalesce(CAST(:end AS timestamptz) - INTERVAL '1 microsecond', max(happened_at)),
                      'UTC') AS last_bucket
    FROM in_range
),
buckets AS (
    SELECT generate_series(
               first_bucket AT TIME ZONE 'UTC',
               last_bucket AT TIME ZONE 'UTC',
               CASE :granularity
                   WHEN 'hour' THEN INTERVAL '1 hour'
                   WHEN 'day' THEN INTERVAL '1 day'
                   WHEN 'week' THEN INTERVAL '7 days'
                   ELSE INTERVAL '1 month'
               END) AT TIME ZONE 'UTC' AS bucket
    FROM bounds
    WHERE first_bucket IS NOT NULL
      AND last_bucket >= first_bucket
      -- an empty range [start, start) has no buckets
      AND (CAST(:start AS timestamptz) IS NULL OR CAST(:end AS timestamptz) IS NULL OR :end > :start)
)
SELECT buckets.bucket, coalesce(counts.value, 0) AS value
FROM buckets
LEFT JOIN counts USING (bucket)
ORDER BY buckets.bucket;
