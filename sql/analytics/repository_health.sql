-- Repository health: providers, languages, staleness and a 0-100 health score.
--
-- Scope: live repositories (deleted_at IS NULL); :now is the moment "today".
--
-- Health score (0..100), the sum of three parts:
--   recency     0..50  50 if the last commit is at most 7 days old, falling
--                      linearly to 0 at 90 days; 0 if no commit is recorded
--   issues      0..30  30 * 10 / (10 + open_issues)
--   popularity  0..20  20 * least(1, ln(1 + stars) / ln(1001))  (1000 stars = full)
--
-- Output (one row):
--   total_repositories  live repositories
--   by_provider         list of {provider, n}
--   by_language         list of {language, n}; no primary_language is 'unknown'
--   stale_repositories  no commit in the 30 days before :now, or none recorded
--   avg_open_issues     mean open_issues (NULL if no repositories)
--   health_scores       list of {id, name, score}, best first, ties by id
--   score_bands         list of {band, n}: '0-19', '20-39', '40-59', '60-79', '80-100'

-- name: repository_health(now)^
-- Repository counts, staleness and health scores (formula above).
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
               WHEN (epoch(CAST(:now AS TIMESTAMPTZ)) - epoch(last_commit_at)) / 86400.0 <= 7 THEN 50.0
               WHEN (epoch(CAST(:now AS TIMESTAMPTZ)) - epoch(last_commit_at)) / 86400.0 >= 90 THEN 0.0
               ELSE 50.0 * (90 - (epoch(CAST(:now AS TIMESTAMPTZ)) - epoch(last_commit_at)) / 86400.0) / 83
           END
           -- DOUBLE arithmetic: counts may be as large as BIGINT allows
           + 30.0 * 10 / (10 + CAST(open_issues AS DOUBLE))
           + 20.0 * least(1.0, ln(1 + CAST(stars AS DOUBLE)) / ln(1001)) AS score
    FROM live
)
SELECT
    (SELECT count(*) FROM live) AS total_repositories,
    (SELECT list({'provider': provider, 'n': n} ORDER BY provider)
     FROM (SELECT provider, count(*) AS n FROM live GROUP BY ALL)) AS by_provider,
    (SELECT list({'language': language, 'n': n} ORDER BY language)
     FROM (SELECT coalesce(primary_language, 'unknown') AS language, count(*) AS n
           FROM live GROUP BY ALL)) AS by_language,
    (SELECT count(*) FROM live
     WHERE last_commit_at IS NULL
        OR last_commit_at < CAST(:now AS TIMESTAMPTZ) - INTERVAL 30 DAY) AS stale_repositories,
    (SELECT avg(CAST(open_issues AS DOUBLE)) FROM live) AS avg_open_issues,
    (SELECT list({'id': id, 'name': name, 'score': score} ORDER BY score DESC, id) FROM scored)
        AS health_scores,
    (SELECT list({'band': band, 'n': n} ORDER BY band)
     FROM (SELECT CASE
                      WHEN score < 20 THEN '0-19'
                      WHEN score < 40 THEN '20-39'
                      WHEN score < 60 THEN '40-59'
                      WHEN score < 80 THEN '60-79'
                      ELSE '80-100'
                  END AS band,
                  count(*) AS n
           FROM scored GROUP BY ALL)) AS score_bands;
