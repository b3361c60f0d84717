-- 0003_search_terms_without_indexes: the full-text index table keeps no ART
-- indexes. Measured on 2.7 million index rows (100,000 projects), DuckDB 2.0.1:
--   * committing a bulk load with both indexes took 2.1 s, without them 0.01 s
--     (ART inserts of a key shared by ~900 rows are slow);
--   * ranking 1-3 common words scanned about as fast without them (16-18 ms
--     against 20 ms: the scan is vectorized, the index lookup is not), and
--     rare words took 5.7 ms instead of 2.2 ms;
--   * deleting one row's terms took 1.3 ms instead of 1.5 ms: rows are written
--     in entity_id order, so DuckDB's per-row-group min/max (zone maps) skip
--     all but one row group.
DROP INDEX search_terms_term_idx;
DROP INDEX search_terms_entity_id_idx;
