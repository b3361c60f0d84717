-- PostgreSQL twins of sql/analytics/summaries.sql (the other two queries run as
-- written there).

-- name: get_analytics_summary(name)^
-- twin-of: analytics/summaries.sql:get_analytics_summary sha256:c6a5e7193ec6
-- One stored summary and when it was built.
-- PostgreSQL: the payload as its text (the column is json, which the library's
-- connections would otherwise parse), as DuckDB gives its JSON.
SELECT name, built_at, CAST(payload AS text) AS payload
FROM analytics_summaries
WHERE name = :name;
