-- Full-text search on PostgreSQL: the queries of sql/search.sql whose DuckDB
-- text does not run here, or runs but answers differently. Every other query
-- of that file runs on PostgreSQL as written. Each twin keeps its DuckDB
-- query's name, parameters and suffix, and says under its header which DuckDB
-- text it follows (twin-of: file:query and the sha256 of that text): change
-- both together. Ranking is explained at the top of sql/search.sql.
--
-- The ranking twins compute in double precision as DuckDB does: DuckDB keeps
-- 3.0 * tf and tf + 1.2 as DECIMAL and divides two DECIMALs in DOUBLE, so each
-- operand is made in numeric (exact) and cast to double before the division
-- (PostgreSQL would otherwise divide in numeric and answer decimal.Decimal
-- scores). The sums add their terms in a fixed order (ORDER BY field, ORDER BY
-- term): a sum of doubles depends on the order of its terms in its last bit,
-- and two rows holding the same terms must get the very same relevance so
-- that `id` breaks their tie. (DuckDB sums in whatever order its threads
-- meet the rows: two such rows can differ in the last bit there, and their
-- order then changes from run to run.)

-- name: delete_search_terms_of_many(entity, entity_ids)!
-- twin-of: search.sql:delete_search_terms_of_many sha256:af634fdea0f2
-- Forgets the indexed terms of many rows of one entity (cascading deletes).
-- PostgreSQL: no list_contains(); entity_id = ANY(array) instead (an index
-- scan of search_terms_entity_idx).
DELETE FROM search_terms
WHERE entity_id = ANY (CAST(:entity_ids AS bigint[]))
  AND entity = :entity;

-- name: distinct_staged_words()
-- twin-of: search.sql:distinct_staged_words sha256:dc77c342c71a
-- The distinct words of the table staged_search_words (entity_id, field,
-- words: the field's words as the library's tokenizer finds them, lower-cased,
-- separated by one or more spaces, so splitting gives empty strings between
-- words, which are dropped). The library stems each of them once.
-- PostgreSQL: string_to_table instead of unnest(string_split(...)); a derived
-- table needs an alias.
SELECT DISTINCT word
FROM (
    SELECT string_to_table(words, ' ') AS word
    FROM staged_search_words
) AS split
WHERE word <> '';

-- name: insert_staged_search_words(entity)!
-- twin-of: search.sql:insert_staged_search_words sha256:4eefea5839fe
-- Indexes many rows at once from staged_search_words (above) and staged_stems,
-- which maps every indexable word to its stem (stop words, overlong words and
-- the empty strings between spaces are absent, so the join drops them). A
-- term's tf is how many words of the field share that stem, exactly as the
-- library counts when it indexes one row.
-- PostgreSQL: string_to_table instead of unnest(string_split(...)).
INSERT INTO search_terms (entity, entity_id, field, term, tf)
SELECT :entity, w.entity_id, w.field, s.stem, count(*)
FROM (
    SELECT entity_id, field, string_to_table(words, ' ') AS word
    FROM staged_search_words
) AS w
JOIN staged_stems AS s USING (word)
GROUP BY w.entity_id, w.field, s.stem
ORDER BY w.entity_id;

-- name: rank_projects(terms, limit)
-- twin-of: search.sql:rank_projects sha256:789c9252f699
-- Ids and scores of the best :limit live projects holding any of :terms (see
-- the header of sql/search.sql for matched, relevance and score), best first.
-- PostgreSQL: term = ANY(array) instead of list_contains(); the weights and
-- idf in double precision made as DuckDB makes them, summed in a fixed order
-- (see above).
WITH hits AS (
    SELECT entity_id,
           term,
           sum(CAST(CASE field WHEN 'name' THEN 3.0 ELSE 1.0 END * tf AS double precision)
               / CAST(tf + 1.2 AS double precision)
               ORDER BY field) AS weight
    FROM search_terms
    WHERE term = ANY (CAST(:terms AS text[]))
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
           sum(h.weight * ln(1 + CAST(corpus.rows - f.df + 0.5 AS double precision)
                                 / CAST(f.df + 0.5 AS double precision))
               ORDER BY h.term) AS relevance
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
-- twin-of: search.sql:rank_documents sha256:67770ae51aac
-- Ids and scores of the best :limit live documents holding any of :terms,
-- optionally only of one project and/or one type. Term rarity (idf) is taken
-- over all live documents, whatever the filters.
-- PostgreSQL: term = ANY(array) instead of list_contains(); the weights and
-- idf in double precision made as DuckDB makes them, summed in a fixed order
-- (see above).
WITH all_hits AS (
    SELECT entity_id,
           term,
           sum(CAST(CASE field WHEN 'title' THEN 2.0 ELSE 1.0 END * tf AS double precision)
               / CAST(tf + 1.2 AS double precision)
               ORDER BY field) AS weight
    FROM search_terms
    WHERE term = ANY (CAST(:terms AS text[]))
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
    WHERE (CAST(:project_id AS bigint) IS NULL AND CAST(:doc_type AS text) IS NULL)
       OR entity_id IN (
            SELECT id
            FROM documents
            WHERE (CAST(:project_id AS bigint) IS NULL OR project_id = :project_id)
              AND (CAST(:doc_type AS text) IS NULL OR doc_type = :doc_type)
              AND deleted_at IS NULL
          )
),
ranked AS (
    SELECT h.entity_id AS id,
           count(*) AS matched,
           sum(h.weight * ln(1 + CAST(corpus.rows - f.df + 0.5 AS double precision)
                                 / CAST(f.df + 0.5 AS double precision))
               ORDER BY h.term) AS relevance
    FROM hits AS h
    JOIN document_frequency AS f USING (term)
    CROSS JOIN corpus
    GROUP BY h.entity_id
)
SELECT id, matched + relevance / (1 + relevance) AS score
FROM ranked
ORDER BY matched DESC, relevance DESC, id
LIMIT :limit;
