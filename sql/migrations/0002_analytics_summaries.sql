-- 0002_analytics_summaries: stored results of the analytics queries, rebuilt
-- together by BulkOperations.bulk_analytics_refresh (DuckDB has no
-- materialized views). payload is the JSON of the result model.
CREATE TABLE analytics_summaries (
    name     VARCHAR PRIMARY KEY,
    built_at TIMESTAMPTZ NOT NULL,
    payload  JSON NOT NULL
);
