-- Documents on PostgreSQL: the queries of sql/documents.sql whose DuckDB text
-- does not run here. Every other query of that file runs on PostgreSQL as
-- written. Each twin keeps its DuckDB query's name, parameters and suffix, and
-- says under its header which DuckDB text it follows (twin-of: file:query and
-- the sha256 of that text): change both together.

-- name: create_documents(rows)<!
-- twin-of: documents.sql:create_documents sha256:f42ae520c0cc
-- What DocumentRepository.create writes for several documents created at the same
-- moment (group commit, docs/design.md), in one statement: what
-- create_document writes, for each item of rows (a JSON array of objects with
-- create_document's parameters), as if they were created one by one in array
-- order: ids and audit entries are numbered in that order and only items of a
-- live project are written. Each written row comes back with its 1-based place
-- in the array as ordinal. The ids are drawn from the sequences, then sorted
-- and given out in array order: nextval alone promises unique values, not
-- values in the order of the rows.
-- PostgreSQL: no STRUCT cast of JSON; jsonb_to_recordset makes the items rows
-- (JSON arrays become text[] / integer[]) and WITH ORDINALITY numbers them, so
-- the item's fields are plain columns instead of item.field.
WITH given AS (
    SELECT *
    FROM ROWS FROM (
             jsonb_to_recordset(CAST(:rows AS jsonb)) AS (
                 project_id bigint, title text, doc_type text, content text, metadata text,
                 changes text, fields text[], terms text[], counts integer[]
             )
         ) WITH ORDINALITY
         AS item (project_id, title, doc_type, content, metadata, changes,
                  fields, terms, counts, ordinal)
),
live AS (
    SELECT *
    FROM given
    WHERE EXISTS (
        SELECT 1 FROM projects WHERE id = given.project_id AND deleted_at IS NULL
    )
),
numbered AS MATERIALIZED (
    SELECT w.*, r.id, a.id AS audit_id
    FROM (SELECT *, row_number() OVER (ORDER BY ordinal) AS k FROM live) AS w
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('documents_id_seq') AS id FROM live) AS drawn) AS r USING (k)
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('audit_log_id_seq') AS id FROM live) AS drawn) AS a USING (k)
),
created AS (
    INSERT INTO documents (id, project_id, title, doc_type, content, metadata)
    SELECT id, project_id, title, doc_type, content, CAST(metadata AS jsonb)
    FROM numbered
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (id, entity, entity_id, action, changes)
    SELECT audit_id, 'document', id, 'create', CAST(changes AS jsonb)
    FROM numbered
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'document', id, unnest(fields), unnest(terms), unnest(counts)
    FROM numbered
)
SELECT numbered.ordinal, created.*
FROM created
JOIN numbered USING (id)
ORDER BY numbered.ordinal;

-- name: audit_bulk_insert_documents()!
-- twin-of: documents.sql:audit_bulk_insert_documents sha256:81c90784ab0a
-- One 'create' audit entry per staged document.
-- PostgreSQL: jsonb_build_object instead of DuckDB's json_object (the stored
-- jsonb equals DuckDB's JSON by value; the text differs in spacing and key order).
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'document', id, 'create',
       jsonb_build_object('project_id', project_id, 'title', title, 'doc_type', doc_type,
                          'content', content, 'metadata', CAST(metadata AS jsonb))
FROM staged_documents;

-- name: bulk_load_documents()!
-- twin-of: documents.sql:bulk_load_documents sha256:13cdf4795af8
-- What bulk_create writes when the caller wants no rows back: the rows of
-- staged_documents, as bulk_insert_documents inserts them, and their 'create'
-- audit entries, as audit_bulk_insert_documents writes them, in one statement
-- (see bulk_load_projects).
-- PostgreSQL: jsonb_build_object instead of json_object, as in audit_bulk_insert_documents.
WITH inserted AS (
    INSERT INTO documents (id, project_id, title, doc_type, content, metadata)
    SELECT id, project_id, title, doc_type, content, CAST(metadata AS jsonb)
    FROM staged_documents
)
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'document', id, 'create',
       jsonb_build_object('project_id', project_id, 'title', title, 'doc_type', doc_type,
                          'content', content, 'metadata', CAST(metadata AS jsonb))
FROM staged_documents;

-- name: documents_by_ids(ids)
-- twin-of: documents.sql:documents_by_ids sha256:dc77a3f670c9
-- The live documents with these ids, in no order: the rows a search ranked
-- best, and the documents of get_document calls made at the same moment, read
-- in one statement (coalesced reads).
-- PostgreSQL: no list_contains(); id = ANY(array) is a primary-key index scan.
SELECT *
FROM documents
WHERE id = ANY (CAST(:ids AS bigint[]))
  AND deleted_at IS NULL;

-- name: documents_by_ids_including_deleted(ids)
-- twin-of: documents.sql:documents_by_ids_including_deleted sha256:346aeda071f2
-- The documents with these ids, live or soft-deleted, in no order: the
-- get_document_including_deleted calls made at the same moment, in one
-- statement.
-- PostgreSQL: no list_contains(); id = ANY(array) instead.
SELECT *
FROM documents
WHERE id = ANY (CAST(:ids AS bigint[]));

-- name: bulk_update_documents()
-- twin-of: documents.sql:bulk_update_documents sha256:834a43eff1d8
-- Applies the table staged_updates in one statement: per row its id, the
-- version the library just read (read_version), and for each column a
-- set_<column> flag with the new value. Only flagged columns change; the
-- version goes up by one. Returns the ids of the updated rows.
-- PostgreSQL: the staged metadata (text) is cast to jsonb, the column's type
-- (a CASE cannot mix json and jsonb).
UPDATE documents AS d
SET
    title = CASE WHEN s.set_title THEN s.title ELSE d.title END,
    doc_type = CASE WHEN s.set_doc_type THEN s.doc_type ELSE d.doc_type END,
    content = CASE WHEN s.set_content THEN s.content ELSE d.content END,
    metadata = CASE WHEN s.set_metadata THEN CAST(s.metadata AS jsonb) ELSE d.metadata END,
    version = d.version + 1,
    updated_at = now()
FROM staged_updates AS s
WHERE d.id = s.id
  AND d.version = s.read_version
  AND d.deleted_at IS NULL
RETURNING d.id;
