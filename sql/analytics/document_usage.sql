-- Document usage: how many documents of each type, how often they are read,
-- and which are read most. (Documents created per week come from time_series.)
--
-- Scope: live documents (deleted_at IS NULL).
--
-- Output (one row):
--   total_documents  live documents
--   by_type          list of {doc_type, n}
--   total_accesses   sum of access_count
--   never_accessed   documents with access_count = 0
--   most_accessed    up to ten {id, title, access_count} with access_count > 0,
--                    most read first, ties by id

-- name: document_usage()^
-- Document counts, reads and the most read documents (columns above).
WITH live AS (
    SELECT id, title, doc_type, access_count
    FROM documents
    WHERE deleted_at IS NULL
)
SELECT
    (SELECT count(*) FROM live) AS total_documents,
    (SELECT list({'doc_type': doc_type, 'n': n} ORDER BY doc_type)
     FROM (SELECT doc_type, count(*) AS n FROM live GROUP BY ALL)) AS by_type,
    (SELECT coalesce(sum(access_count), 0) FROM live) AS total_accesses,
    (SELECT count(*) FILTER (WHERE access_count = 0) FROM live) AS never_accessed,
    (SELECT list({'id': id, 'title': title, 'access_count': access_count}
                 ORDER BY access_count DESC, id)
     FROM (SELECT * FROM live WHERE access_count > 0 ORDER BY access_count DESC, id LIMIT 10))
        AS most_accessed;
