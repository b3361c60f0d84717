-- Full-text search over projects and documents, ranked.
--
-- The index (search_terms) holds the stemmed terms of live rows per field; the
-- library stems the search text the same way and passes the distinct stems as
-- :terms. A search is two statements: rank ids from the index table alone (a
-- vectorized scan of its term column, no join), then fetch the winning rows by
-- primary key.
--
-- Ranking:
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
-- Forgets the indexed terms of one row (before re-indexing it, or when it is
-- deleted, softly or for good).
DELETE FROM search_terms
WHERE entity_id = :entity_id
  AND entity = :entity;

-- name: delete_search_terms_of_many(entity, entity_ids)!
-- Forgets the indexed terms of many rows of one entity (cascading deletes).
DELETE FROM search_terms
WHERE list_contains(CAST(:entity_ids AS BIGINT[]), entity_id)
  AND entity = :entity;

-- name: insert_search_terms(entity, entity_id, fields, terms, counts)!
-- Indexes one row: three equally long lists give each term's field and count.
INSERT INTO search_terms (entity, entity_id, field, term, tf)
SELECT :entity, :entity_id, unnest(CAST(:fields AS VARCHAR[])),
       unnest(CAST(:terms AS VARCHAR[])), unnest(CAST(:counts AS INTEGER[]));

-- name: distinct_staged_words()
-- The distinct words of the Arrow table registered as staged_search_words
-- (entity_id, field, words: the field's words as the library's tokenizer finds
-- them, lower-cased, separated by one or more spaces, so splitting gives empty
-- strings between words, which are dropped). The library stems each of them once.
SELECT DISTINCT word
FROM (
    SELECT unnest(string_split(words, ' ')) AS word
    FROM staged_search_words
)
WHERE word <> '';

-- name: insert_staged_search_words(entity)!
-- Indexes many rows at once from staged_search_words (above) and staged_stems,
-- which maps every indexable word to its stem (stop words, overlong words and
-- the empty strings between spaces are absent, so the join drops them). A term's tf is how many words of the
-- field share that stem, exactly as the library counts when it indexes one row.
INSERT INTO search_terms (entity, entity_id, field, term, tf)
SELECT :entity, w.entity_id, w.field, s.stem, count(*)
FROM (
    SELECT entity_id, field, unnest(string_split(words, ' ')) AS word
    FROM staged_search_words
) AS w
JOIN staged_stems AS s USING (word)
GROUP BY w.entity_id, w.field, s.stem
-- In entity_id order, so a row's terms sit together and deleting them reads
-- one row group (the table has no index on entity_id; zone maps do the job).
ORDER BY w.entity_id;

-- name: delete_search_terms_of_project_documents(project_id)!
-- Forgets the terms of every document of a project (its hard delete).
DELETE FROM search_terms
WHERE entity = 'document'
  AND entity_id IN (SELECT id FROM documents WHERE project_id = :project_id);

-- name: rank_projects(terms, limit)
-- Ids and scores of the best :limit live projects holding any of :terms (see
-- the header for matched, relevance and score), best first.
WITH hits AS (
    SELECT entity_id,
           term,
           sum(CASE field WHEN 'name' THEN 3.0 ELSE 1.0 END * tf / (tf + 1.2)) AS weight
    FROM search_terms
    WHERE list_contains(CAST(:terms AS VARCHAR[]), term)
      AND entity = 'project'
    GROUP BY entity_id, term
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
SELECT id, matched + relevance / (1 + relevance) AS score
FROM ranked
ORDER BY matched DESC, relevance DESC, id
LIMIT :limit;


-- name: rank_documents(terms, project_id, doc_type, limit)
-- Ids and scores of the best :limit live documents holding any of :terms,
-- optionally only of one project and/or one type. Term rarity (idf) is taken
-- over all live documents, whatever the filters.
WITH all_hits AS (
    SELECT entity_id,
           term,
           sum(CASE field WHEN 'title' THEN 2.0 ELSE 1.0 END * tf / (tf + 1.2)) AS weight
    FROM search_terms
    WHERE list_contains(CAST(:terms AS VARCHAR[]), term)
      AND entity = 'document'
    GROUP BY entity_id, term
),
document_frequency AS (
    SELECT term, count(*) AS df FROM all_hits GROUP BY term
),
corpus AS (
    SELECT count(*) AS rows FROM documents WHERE deleted_at IS NULL
),
hits AS (
    SELECT *
    FROM all_hits
    WHERE (CAST(:project_id AS BIGINT) IS NULL AND CAST(:doc_type AS VARCHAR) IS NULL)
       OR entity_id IN (
            SELECT id
            FROM documents
            WHERE (CAST(:project_id AS BIGINT) IS NULL OR project_id = :project_id)
              AND (CAST(:doc_type AS VARCHAR) IS NULL OR doc_type = :doc_type)
              AND deleted_at IS NULL
          )
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
SELECT id, matched + relevance / (1 + relevance) AS score
FROM ranked
ORDER BY matched DESC, relevance DESC, id
LIMIT :limit;

