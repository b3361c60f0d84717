-- The audit trail on PostgreSQL: the queries of sql/audit.sql whose DuckDB
-- text does not run here. Every other query of that file runs on PostgreSQL
-- as written. Each twin keeps its DuckDB query's name, parameters and suffix,
-- and says under its header which DuckDB text it follows (twin-of: file:query
-- and the sha256 of that text): change both together.

-- name: next_ids(sequence_name, n)^
-- twin-of: audit.sql:next_ids sha256:b844fbe8f1a8
-- Draws n ids from a table's sequence, for bulk inserts that must know ids
-- before writing (to audit them and keep input order): one list, ascending
-- (one value crosses into Python instead of n rows); NULL when n is 0.
-- PostgreSQL: array_agg instead of list(), generate_series instead of range().
SELECT array_agg(id ORDER BY id) AS ids
FROM (SELECT nextval(:sequence_name) AS id FROM generate_series(1, CAST(:n AS bigint))) AS drawn;
