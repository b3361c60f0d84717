-- Time series: how many events of one kind happened in each hour, day, week
-- (starting Monday) or month, UTC, with every bucket present (0 where nothing
-- happened).
--
-- Parameters: :metric is one of projects_created, projects_completed,
-- conversations_started, messages, documents_created, repositories_added
-- (checked by the library); :granularity one of hour, day, week, month.
-- Events of soft-deleted rows never count. The range is [:start, :end); a NULL
-- bound is replaced by the first (or last) event; no events and no bounds, or an
-- empty range, give no rows.
--
-- Output: one row per bucket, in order: bucket (the bucket's start), value.

-- name: time_series(metric, granularity, start, end)
-- Events per bucket of one metric, every bucket present (columns above).
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
    WHERE (CAST(:start AS TIMESTAMPTZ) IS NULL OR happened_at >= :start)
      AND (CAST(:end AS TIMESTAMPTZ) IS NULL OR happened_at < :end)
),
counts AS (
    SELECT date_trunc(:granularity, happened_at) AS bucket, count(*) AS value
    FROM in_range
    GROUP BY ALL
),
bounds AS (
    SELECT date_trunc(:granularity, coalesce(CAST(:start AS TIMESTAMPTZ), min(happened_at))) AS first_bucket,
           -- the end is exclusive: the last bucket is the one holding the instant before it
           date_trunc(:granularity, coalesce(CAST(:end AS TIMESTAMPTZ) - INTERVAL 1 MICROSECOND, max(happened_at)))
               AS last_bucket
    FROM in_range
),
buckets AS (
    SELECT unnest(generate_series(
               first_bucket,
               last_bucket,
               CASE :granularity
                   WHEN 'hour' THEN INTERVAL 1 HOUR
                   WHEN 'day' THEN INTERVAL 1 DAY
                   WHEN 'week' THEN INTERVAL 7 DAY
                   ELSE INTERVAL 1 MONTH
               END)) AS bucket
    FROM bounds
    WHERE first_bucket IS NOT NULL
      AND last_bucket >= first_bucket
      -- an empty range [start, start) has no buckets
      AND (CAST(:start AS TIMESTAMPTZ) IS NULL OR CAST(:end AS TIMESTAMPTZ) IS NULL OR :end > :start)
)
SELECT buckets.bucket, coalesce(counts.value, 0) AS value
FROM buckets
LEFT JOIN counts USING (bucket)
ORDER BY buckets.bucket;
