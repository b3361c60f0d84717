-- Full-text search over projects and documents, ranked.
--
-- The index (search_terms) holds stemmed terms per field; the library stems the
-- search text the same way and passes the distinct stems as :terms. Ranking:
--   matched   how many of the search's terms the row contains (more is better,
--             and it always wins: a row matching 3 words beats one matching 2)
--   relevance a BM25-style weight within the same `matched`: for each term,
--             idf(term) * sum over fields of field_weight * tf / (tf + 1.2)
--             with idf = ln(1 + (rows - df + 0.5) / (df + 0.5)), where rows is
--             the number of live rows and df how many of them hold the term
--   score     matched + relevance / (1 + relevance), so ordering by score is
--             ordering by (matched, relevance); higher is better.
-- Field weights: projects name 3, description 1, project_idea 1;
--                documents title 2, content 1.

-- name: delete_search_terms(entity, entity_id)!
-- Forgets the indexed terms of one row (before re-indexing it, or on hard delete).
DELETE FROM search_terms
WHERE entity = :entity
  AND entity_id = :entity_id;

-- name: insert_search_terms(entity, entity_id, fields, terms, counts)!
-- Indexes one row: three equally long lists give each term's field and count.
INSERT INTO search_terms (entity, entity_id, field, term, tf)
SELECT :entity, :entity_id, unnest(CAST(:fields AS VARCHAR[])),
       unnest(CAST(:terms AS VARCHAR[])), unnest(CAST(:counts AS INTEGER[]));

-- name: insert_staged_search_terms()!
-- Indexes many rows at once from the Arrow table registered as staged_search_terms.
INSERT INTO search_terms (entity, entity_id, field, term, tf)
SELECT entity, entity_id, field, term, tf
FROM staged_search_terms;

-- name: delete_search_terms_of_project_documents(project_id)!
-- Forgets the terms of every document of a project (its hard delete).
DELETE FROM search_terms
WHERE entity = 'document'
  AND entity_id IN (SELECT id FROM documents WHERE project_id = :project_id);

-- name: search_projects(terms, limit)
-- Live projects containing any of the stemmed :terms, best first (see the
-- header for matched, relevance and score).
WITH wanted AS (
    SELECT DISTINCT unnest(CAST(:terms AS VARCHAR[])) AS term
),
hits AS (
    SELECT s.entity_id,
           s.term,
           sum(CASE s.field WHEN 'name' THEN 3.0 ELSE 1.0 END * s.tf / (s.tf + 1.2)) AS weight
    FROM search_terms AS s
    JOIN wanted USING (term)
    JOIN projects AS live ON live.id = s.entity_id AND live.deleted_at IS NULL
    WHERE s.entity = 'project'
    GROUP BY s.entity_id, s.term
),
document_frequency AS (
    SELECT term, count(*) AS df FROM hits GROUP BY term
),
corpus AS (
    SELECT count(*) AS rows FROM projects WHERE deleted_at IS NULL
),
ranked AS (
    SELECT h.entity_id AS id,
           count(*) AS matched,
           sum(h.weight * ln(1 + (corpus.rows - f.df + 0.5) / (f.df + 0.5))) AS relevance
    FROM hits AS h
    JOIN document_frequency AS f USING (term)
    CROSS JOIN corpus
    GROUP BY h.entity_id
)
SELECT p.*, r.matched + r.relevance / (1 + r.relevance) AS score
FROM ranked AS r
JOIN projects AS p ON p.id = r.id
WHERE p.deleted_at IS NULL
ORDER BY r.matched DESC, r.relevance DESC, p.id
LIMIT :limit;

-- name: search_documents(terms, project_id, doc_type, limit)
-- Live documents containing any of the stemmed :terms, optionally only of one
-- project and/or one type, best first (see the header for the score).
WITH wanted AS (
    SELECT DISTINCT unnest(CAST(:terms AS VARCHAR[])) AS term
),
hits AS (
    SELECT s.entity_id,
           s.term,
           sum(CASE s.field WHEN 'title' THEN 2.0 ELSE 1.0 END * s.tf / (s.tf + 1.2)) AS weight
    FROM search_terms AS s
    JOIN wanted USING (term)
    JOIN documents AS live ON live.id = s.entity_id AND live.deleted_at IS NULL
    WHERE s.entity = 'document'
    GROUP BY s.entity_id, s.term
),
document_frequency AS (
    SELECT term, count(*) AS df FROM hits GROUP BY term
),
corpus AS (
    SELECT count(*) AS rows FROM documents WHERE deleted_at IS NULL
),
ranked AS (
    SELECT h.entity_id AS id,
           count(*) AS matched,
           sum(h.weight * ln(1 + (corpus.rows - f.df + 0.5) / (f.df + 0.5))) AS relevance
    FROM hits AS h
    JOIN document_frequency AS f USING (term)
    CROSS JOIN corpus
    GROUP BY h.entity_id
)
SELECT d.*, r.matched + r.relevance / (1 + r.relevance) AS score
FROM ranked AS r
JOIN documents AS d ON d.id = r.id
WHERE d.deleted_at IS NULL
  AND (CAST(:project_id AS BIGINT) IS NULL OR d.project_id = :project_id)
  AND (CAST(:doc_type AS VARCHAR) IS NULL OR d.doc_type = :doc_type)
ORDER BY r.matched DESC, r.relevance DESC, d.id
LIMIT :limit;
