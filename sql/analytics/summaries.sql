-- Stored analytics summaries: DuckDB has no materialized views, so
-- BulkOperations.bulk_analytics_refresh computes each analytics result and
-- stores it here (as the JSON of its model) in one transaction; dashboards then
-- read it by name in microseconds with use_summary=True.

-- name: clear_analytics_summaries()!
-- Drops every stored summary (the refresh writes them all again).
DELETE FROM analytics_summaries;

-- name: store_analytics_summary(name, payload)!
-- Stores one summary; built_at is the refresh transaction's time.
INSERT INTO analytics_summaries (name, built_at, payload) VALUES (:name, now(), :payload);

-- name: get_analytics_summary(name)^
-- One stored summary and when it was built.
SELECT name, built_at, payload FROM analytics_summaries WHERE name = :name;
