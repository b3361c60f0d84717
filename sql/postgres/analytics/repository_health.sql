-- Repository health on PostgreSQL: the twin of sql/analytics/repository_health.sql,
-- which gives the health score's formula and what each column holds (scope:
-- live repositories; :now is the moment "today").
--
-- What differs from the DuckDB text, and why:
--   * The lists (by_provider, by_language, health_scores, score_bands) are
--     json arrays of objects (same keys, same order; psycopg reads them
--     as Python lists of dicts) where DuckDB answers lists of structs; NULL when empty.
--   * The score is computed in double precision step by step as DuckDB does:
--     date_part('epoch', t) is DuckDB's epoch(t) (double seconds; extract()
--     would be numeric), and ln(1001) is taken of a double. A jsonb number
--     keeps the double's shortest exact text, so the score reads back equal.
--   * INTERVAL '720 hours' (30 days of 24 hours) for DuckDB's INTERVAL 30 DAY,
--     which the library's UTC session makes 24-hour days (a PostgreSQL day
--     would follow the session's time zone across daylight-saving changes).
--   * The band labels are literals of the database's collation: ordered with
--     COLLATE "C".

-- name: repository_health(now)^
-- twin-of: analytics/repository_health.sql:repository_health sha256:224cd9baa72e
-- Repository counts, staleness and health scores (formula in
-- sql/analytics/repository_health.sql).
-- PostgreSQL: json arrays for DuckDB's lists of structs, date_part('epoch')
-- for epoch(), 30 days as 720 hours, COLLATE "C" on the band labels (see above).
WITH live AS (
    SELECT id, name, provider, primary_language, stars, open_issues, last_commit_at
    FROM repositories
    WHERE deleted_at IS NULL
),
scored AS (
    SELECT id,
           name,
           CASE
               WHEN last_commit_at IS NULL THEN 0.0
               WHEN (date_part('epoch', CAST(:now AS timestamptz)) - date_part('epoch', last_commit_at))
                    / 86400.0 <= 7 THEN 50.0
               WHEN (date_part('epoch', CAST(:now AS timestamptz)) - date_part('epoch', last_commit_at))
                    / 86400.0 >= 90 THEN 0.0
               ELSE 50.0 * (90 - (date_part('epoch', CAST(:now AS timestamptz))
                                  - date_part('epoch', last_commit_at)) / 86400.0) / 83
           END
           -- double precision arithmetic: counts may be as large as bigint allows
           + 30.0 * 10 / (10 + CAST(open_issues AS double precision))
           + 20.0 * least(1.0, ln(1 + CAST(stars AS double precision))
                               / ln(CAST(1001 AS double precision))) AS score
    FROM live
)
SELECT
    (SELECT count(*) FROM live) AS total_repositories,
    (SELECT json_agg(json_build_object('provider', provider, 'n', n) ORDER BY provider)
     FROM (SELECT provider, count(*) AS n FROM live GROUP BY provider) AS counted) AS by_provider,
    (SELECT json_agg(json_build_object('language', language, 'n', n) ORDER BY language)
     FROM (SELECT coalesce(primary_language, 'unknown') COLLATE "C" AS language, count(*) AS n
           FROM live GROUP BY 1) AS counted) AS by_language,
    (SELECT count(*) FROM live
     WHERE last_commit_at IS NULL
        OR last_commit_at < CAST(:now AS timestamptz) - INTERVAL '720 hours') AS stale_repositories,
    (SELECT avg(CAST(open_issues AS double precision)) FROM live) AS avg_open_issues,
    (SELECT json_agg(json_build_object('id', id, 'name', name, 'score', score) ORDER BY score DESC, id)
     FROM scored) AS health_scores,
    (SELECT json_agg(json_build_object('band', band, 'n', n) ORDER BY band)
     FROM (SELECT CASE
                      WHEN score < 20 THEN '0-19'
                      WHEN score < 40 THEN '20-39'
                      WHEN score < 60 THEN '40-59'
                      WHEN score < 80 THEN '60-79'
                      ELSE '80-100'
                  END COLLATE "C" AS band,
                  count(*) AS n
           FROM scored GROUP BY 1) AS counted) AS score_bands;
