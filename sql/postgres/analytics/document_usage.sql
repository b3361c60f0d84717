-- Document usage on PostgreSQL: the twin of sql/analytics/document_usage.sql,
-- which says what each column holds (scope: live documents).
--
-- What differs from the DuckDB text, and why:
--   * by_type and most_accessed are json arrays of objects (same keys, same
--     order; psycopg reads them as Python lists of dicts) where DuckDB answers
--     lists of structs; NULL when empty, as DuckDB's list().
--   * sum() of a bigint is numeric on PostgreSQL (decimal.Decimal in Python);
--     DuckDB's is an integer: cast to bigint.

-- name: document_usage()^
-- twin-of: analytics/document_usage.sql:document_usage sha256:2b3719dfeaba
-- Document counts, reads and the most read documents (columns in
-- sql/analytics/document_usage.sql).
-- PostgreSQL: json arrays for DuckDB's lists of structs, sum() cast to bigint.
WITH live AS (
    SELECT id, title, doc_type, access_count
    FROM documents
    WHERE deleted_at IS NULL
)
SELECT
    (SELECT count(*) FROM live) AS total_documents,
    (SELECT json_agg(json_build_object('doc_type', doc_type, 'n', n) ORDER BY doc_type)
     FROM (SELECT doc_type, count(*) AS n FROM live GROUP BY doc_type) AS counted) AS by_type,
    (SELECT CAST(coalesce(sum(access_count), 0) AS bigint) FROM live) AS total_accesses,
    (SELECT count(*) FILTER (WHERE access_count = 0) FROM live) AS never_accessed,
    (SELECT json_agg(json_build_object('id', id, 'title', title, 'access_count', access_count)
                      ORDER BY access_count DESC, id)
     FROM (SELECT * FROM live WHERE access_count > 0 ORDER BY access_count DESC, id LIMIT 10) AS top)
        AS most_accessed;
