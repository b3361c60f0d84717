-- Documents: requirements, architecture notes, ADRs, API notes and guides of a
-- project. access_count and last_accessed_at track reads (record_access).

-- name: get_document(id)^
-- One live document by id (none when it is soft-deleted).
SELECT *
FROM documents
WHERE id = :id
  AND deleted_at IS NULL;

-- name: get_document_including_deleted(id)^
-- One document by id, live or soft-deleted. (A query of its own: folding the
-- choice into get_document as "deleted_at IS NULL OR :include_deleted" made
-- every lookup about 15% slower.)
SELECT *
FROM documents
WHERE id = :id;

-- name: list_documents()
-- Every document row, live and soft-deleted; the library filters, orders and
-- pages it.
SELECT * FROM documents;

-- name: documents_of_project(project_id)
-- The live documents of one project, oldest first.
SELECT *
FROM documents
WHERE project_id = :project_id
  AND deleted_at IS NULL
ORDER BY id;

-- name: documents_of_type(doc_type)
-- Live documents of one type, oldest first.
SELECT *
FROM documents
WHERE doc_type = :doc_type
  AND deleted_at IS NULL
ORDER BY id;

-- name: create_document(project_id, title, doc_type, content, metadata, changes, fields, terms, counts)<!
-- What DocumentRepository.create writes, in one statement (all of it or
-- nothing): the new document of a live project, its 'create' audit
-- entry (changes: the validated input as JSON) and its search terms (each
-- term's field and count, as insert_search_terms takes them). No row back: the
-- project is missing or deleted, and nothing was written.
WITH created AS (
    INSERT INTO documents (project_id, title, doc_type, content, metadata)
    SELECT :project_id, :title, :doc_type, :content, :metadata
    WHERE EXISTS (SELECT 1 FROM projects WHERE id = :project_id AND deleted_at IS NULL)
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'document', id, 'create', CAST(:changes AS JSON)
    FROM created
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'document', id, unnest(CAST(:fields AS VARCHAR[])),
           unnest(CAST(:terms AS VARCHAR[])), unnest(CAST(:counts AS INTEGER[]))
    FROM created
)
SELECT * FROM created;

-- name: create_documents(rows)<!
-- What DocumentRepository.create writes for several documents created at the same
-- moment (group commit, docs/design.md), in one statement: what
-- create_document writes, for each item of rows (a JSON array of objects with
-- create_document's parameters), as if they were created one by one in array
-- order: ids and audit entries are numbered in that order and only items of a live project are written. Each written
-- row comes back with its 1-based place in the array as ordinal. The ids are
-- drawn from the sequences, then sorted and given out in array order: nextval
-- alone promises unique values, not values in the order of the rows.
-- (One statement for 8 documents costs about what two create_document cost.)
WITH given AS (
    SELECT unnest(CAST(CAST(:rows AS JSON) AS STRUCT(
               project_id BIGINT, title VARCHAR, doc_type VARCHAR, content VARCHAR, metadata VARCHAR,
               changes VARCHAR, fields VARCHAR[], terms VARCHAR[], counts INTEGER[]
           )[])) AS item,
           generate_subscripts(CAST(CAST(:rows AS JSON) AS JSON[]), 1) AS ordinal
),
live AS (
    SELECT ordinal, item
    FROM given
    WHERE EXISTS (
        SELECT 1 FROM projects WHERE id = item.project_id AND deleted_at IS NULL
    )
),
numbered AS MATERIALIZED (
    SELECT w.ordinal, w.item, r.id, a.id AS audit_id
    FROM (SELECT ordinal, item, row_number() OVER (ORDER BY ordinal) AS k FROM live) AS w
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('documents_id_seq') AS id FROM live)) AS r USING (k)
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('audit_log_id_seq') AS id FROM live)) AS a USING (k)
),
created AS (
    INSERT INTO documents (id, project_id, title, doc_type, content, metadata)
    SELECT id, item.project_id, item.title, item.doc_type, item.content, CAST(item.metadata AS JSON)
    FROM numbered
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (id, entity, entity_id, action, changes)
    SELECT audit_id, 'document', id, 'create', CAST(item.changes AS JSON)
    FROM numbered
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'document', id, unnest(item.fields), unnest(item.terms), unnest(item.counts)
    FROM numbered
)
SELECT numbered.ordinal, created.*
FROM created
JOIN numbered USING (id)
ORDER BY numbered.ordinal;

-- name: update_document(id, version, title, doc_type, content, metadata, changes)^
-- What DocumentRepository.update writes when neither title nor content
-- changes, in one statement: the updatable columns of the live document if
-- its version is still the one the library read (bumping version, stamping
-- updated_at) and, only if that happened, its 'update' audit entry (changes: each given field's old and new
-- value). No row back: a concurrent change won, and nothing was written.
WITH updated AS (
    UPDATE documents
    SET title      = :title,
        doc_type   = :doc_type,
        content    = :content,
        metadata   = :metadata,
        version    = version + 1,
        updated_at = now()
    WHERE id = :id
      AND version = :version
      AND deleted_at IS NULL
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'document', id, 'update', CAST(:changes AS JSON)
    FROM updated
)
SELECT * FROM updated;

-- name: update_document_reindexed(id, version, title, doc_type, content, metadata, changes, fields, terms, counts)^
-- The same as update_document when the title or the content changes:
-- the document's search terms are replaced too. DuckDB runs the statements of
-- a WITH in the order written, so the old terms are deleted before the new
-- ones go in; both only if the update happened.
-- Its UPDATE is update_document's, repeated (one statement is faster than
-- two): change both together (a test compares them).
WITH updated AS (
    UPDATE documents
    SET title      = :title,
        doc_type   = :doc_type,
        content    = :content,
        metadata   = :metadata,
        version    = version + 1,
        updated_at = now()
    WHERE id = :id
      AND version = :version
      AND deleted_at IS NULL
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'document', id, 'update', CAST(:changes AS JSON)
    FROM updated
),
unindexed AS (
    DELETE FROM search_terms
    WHERE entity_id = :id
      AND entity = 'document'
      AND EXISTS (SELECT 1 FROM updated)
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'document', id, unnest(CAST(:fields AS VARCHAR[])),
           unnest(CAST(:terms AS VARCHAR[])), unnest(CAST(:counts AS INTEGER[]))
    FROM updated
)
SELECT * FROM updated;

-- name: record_document_access(id)^
-- Counts one read of a live document. Not a content change: no version bump.
UPDATE documents
SET access_count     = access_count + 1,
    last_accessed_at = now()
WHERE id = :id
  AND deleted_at IS NULL
RETURNING *;

-- name: soft_delete_document(id)^
-- Marks a live document deleted.
UPDATE documents
SET deleted_at = now()
WHERE id = :id
  AND deleted_at IS NULL
RETURNING id, deleted_at;

-- name: soft_delete_documents_of_project(project_id, deleted_at)
-- Cascade of a project's soft delete (see conversations.sql).
UPDATE documents
SET deleted_at = :deleted_at
WHERE project_id = :project_id
  AND deleted_at IS NULL
RETURNING id;

-- name: restore_document(id)^
-- Brings a soft-deleted document back, if its project is live.
UPDATE documents
SET deleted_at = NULL
WHERE id = :id
  AND deleted_at IS NOT NULL
  AND project_id IN (SELECT id FROM projects WHERE deleted_at IS NULL)
RETURNING *;

-- name: restore_documents_of_project(project_id, deleted_at)
-- Undoes the cascade: the documents deleted together with the project (whole
-- rows back, so the library can put them back in the search index).
UPDATE documents
SET deleted_at = NULL
WHERE project_id = :project_id
  AND deleted_at = :deleted_at
RETURNING *;

-- name: hard_delete_document(id)^
-- Removes a document for good.
DELETE FROM documents
WHERE id = :id
RETURNING id;

-- name: hard_delete_documents_of_project(project_id)
-- Removes every document of a project, live or not (its hard delete).
DELETE FROM documents
WHERE project_id = :project_id
RETURNING id;

-- name: bulk_insert_documents()<!
-- Inserts the rows of the Arrow table registered as staged_documents.
INSERT INTO documents (id, project_id, title, doc_type, content, metadata)
SELECT id, project_id, title, doc_type, content, metadata::JSON
FROM staged_documents
RETURNING *;

-- name: audit_bulk_insert_documents()!
-- One 'create' audit entry per staged document.
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'document', id, 'create',
       json_object('project_id', project_id, 'title', title, 'doc_type', doc_type,
                   'content', content, 'metadata', metadata::JSON)
FROM staged_documents;

-- name: bulk_load_documents()!
-- What bulk_create writes when the caller wants no rows back: the rows of
-- staged_documents, as bulk_insert_documents inserts them, and their 'create'
-- audit entries, as audit_bulk_insert_documents writes them, in one statement
-- (see bulk_load_projects).
WITH inserted AS (
    INSERT INTO documents (id, project_id, title, doc_type, content, metadata)
    SELECT id, project_id, title, doc_type, content, metadata::JSON
    FROM staged_documents
)
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'document', id, 'create',
       json_object('project_id', project_id, 'title', title, 'doc_type', doc_type,
                   'content', content, 'metadata', metadata::JSON)
FROM staged_documents;

-- name: documents_by_ids(ids)
-- The live documents with these ids, in no order: the rows a search ranked
-- best, and the documents of get_document calls made at the same moment, read
-- in one statement (coalesced reads). list_contains() is a primary-key index
-- scan: on 100,000 rows 0.8 ms for 2 ids, 2.5 ms for 16, 4.2 ms for 32 (a
-- lookup of one id by get_document costs 0.7 ms).
SELECT *
FROM documents
WHERE list_contains(CAST(:ids AS BIGINT[]), id)
  AND deleted_at IS NULL;

-- name: documents_by_ids_including_deleted(ids)
-- The documents with these ids, live or soft-deleted, in no order: the
-- get_document_including_deleted calls made at the same moment, in one
-- statement.
SELECT *
FROM documents
WHERE list_contains(CAST(:ids AS BIGINT[]), id);

-- name: documents_update_targets(ids)
-- What a bulk update of the live documents with these ids starts from: id, version
-- (to check and to guard the update) and the columns it may change (their old
-- values go to the audit trail). Missing ids are deleted or never existed. A
-- semi-join, not list_contains(): thousands of ids stay one hash lookup each.
SELECT id, version, title, doc_type, content, metadata
FROM documents
WHERE id IN (SELECT unnest(CAST(:ids AS BIGINT[])))
  AND deleted_at IS NULL;

-- name: bulk_update_documents()
-- Applies the Arrow table registered as staged_updates in one statement: per
-- row its id, the version the library just read (read_version), and for each
-- column a set_<column> flag with the new value. Only flagged columns change;
-- the version goes up by one. Returns the ids of the updated rows.
UPDATE documents AS d
SET
    title = CASE WHEN s.set_title THEN s.title ELSE d.title END,
    doc_type = CASE WHEN s.set_doc_type THEN s.doc_type ELSE d.doc_type END,
    content = CASE WHEN s.set_content THEN s.content ELSE d.content END,
    metadata = CASE WHEN s.set_metadata THEN s.metadata::JSON ELSE d.metadata END,
    version = d.version + 1,
    updated_at = now()
FROM staged_updates AS s
WHERE d.id = s.id
  AND d.version = s.read_version
  AND d.deleted_at IS NULL
RETURNING d.id;
