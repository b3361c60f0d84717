-- Projects on PostgreSQL: the queries of sql/projects.sql whose DuckDB text
-- does not run here, or runs but answers differently. Every other query of
-- that file runs on PostgreSQL as written. Each twin keeps its DuckDB query's
-- name, parameters and suffix, and says under its header which DuckDB text it
-- follows (twin-of: file:query and the sha256 of that text): change both together.

-- name: create_projects(rows)<!
-- twin-of: projects.sql:create_projects sha256:b926a41d92fd
-- What ProjectRepository.create writes for several projects created at the same
-- moment (group commit, docs/design.md), in one statement: what
-- create_project writes, for each item of rows (a JSON array of objects with
-- create_project's parameters), as if they were created one by one in array
-- order: ids and audit entries are numbered in that order. Each written
-- row comes back with its 1-based place in the array as ordinal. The ids are
-- drawn from the sequences, then sorted and given out in array order: nextval
-- alone promises unique values, not values in the order of the rows.
-- PostgreSQL: no STRUCT cast of JSON; jsonb_to_recordset makes the items rows
-- (JSON arrays become text[] / integer[]) and WITH ORDINALITY numbers them, so
-- the item's fields are plain columns instead of item.field.
WITH given AS (
    SELECT *
    FROM ROWS FROM (
             jsonb_to_recordset(CAST(:rows AS jsonb)) AS (
                 name text, description text, project_idea text, architecture text,
                 status text, changes text, fields text[], terms text[], counts integer[]
             )
         ) WITH ORDINALITY
         AS item (name, description, project_idea, architecture, status, changes,
                  fields, terms, counts, ordinal)
),
numbered AS MATERIALIZED (
    SELECT w.*, r.id, a.id AS audit_id
    FROM (SELECT *, row_number() OVER (ORDER BY ordinal) AS k FROM given) AS w
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('projects_id_seq') AS id FROM given) AS drawn) AS r USING (k)
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('audit_log_id_seq') AS id FROM given) AS drawn) AS a USING (k)
),
created AS (
    INSERT INTO projects (id, name, description, project_idea, architecture, status, completed_at)
    SELECT id, name, description, project_idea, CAST(architecture AS jsonb),
           status, CASE WHEN status = 'completed' THEN now() END
    FROM numbered
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (id, entity, entity_id, action, changes)
    SELECT audit_id, 'project', id, 'create', CAST(changes AS jsonb)
    FROM numbered
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'project', id, unnest(fields), unnest(terms), unnest(counts)
    FROM numbered
)
SELECT numbered.ordinal, created.*
FROM created
JOIN numbered USING (id)
ORDER BY numbered.ordinal;

-- name: audit_bulk_insert_projects()!
-- twin-of: projects.sql:audit_bulk_insert_projects sha256:cf33a503dd79
-- One 'create' audit entry per row of staged_projects, holding the values written.
-- PostgreSQL: jsonb_build_object instead of DuckDB's json_object (the stored
-- jsonb equals DuckDB's JSON by value; the text differs in spacing and key order).
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'project', id, 'create',
       jsonb_build_object('name', name, 'description', description, 'project_idea', project_idea,
                          'architecture', CAST(architecture AS jsonb), 'status', status)
FROM staged_projects;

-- name: bulk_load_projects()!
-- twin-of: projects.sql:bulk_load_projects sha256:d2e5ca5e7816
-- What bulk_create writes when the caller wants no rows back: the rows of
-- staged_projects, as bulk_insert_projects inserts them, and their 'create'
-- audit entries, as audit_bulk_insert_projects writes them, in one statement.
-- PostgreSQL: jsonb_build_object instead of json_object, as in audit_bulk_insert_projects.
WITH inserted AS (
    INSERT INTO projects (id, name, description, project_idea, architecture, status, completed_at)
    SELECT id, name, description, project_idea, CAST(architecture AS jsonb), status,
           CASE WHEN status = 'completed' THEN now() END
    FROM staged_projects
)
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'project', id, 'create',
       jsonb_build_object('name', name, 'description', description, 'project_idea', project_idea,
                          'architecture', CAST(architecture AS jsonb), 'status', status)
FROM staged_projects;

-- name: projects_by_ids(ids)
-- twin-of: projects.sql:projects_by_ids sha256:81174afa92d5
-- The live projects with these ids, in no order: the rows a search ranked
-- best, and the projects of get_project calls made at the same moment, read
-- in one statement (coalesced reads).
-- PostgreSQL: no list_contains(); id = ANY(array) is a primary-key index scan.
SELECT *
FROM projects
WHERE id = ANY (CAST(:ids AS bigint[]))
  AND deleted_at IS NULL;

-- name: projects_by_ids_including_deleted(ids)
-- twin-of: projects.sql:projects_by_ids_including_deleted sha256:2c4960a3cf50
-- The projects with these ids, live or soft-deleted, in no order: the
-- get_project_including_deleted calls made at the same moment, in one
-- statement.
-- PostgreSQL: no list_contains(); id = ANY(array) instead.
SELECT *
FROM projects
WHERE id = ANY (CAST(:ids AS bigint[]));

-- name: bulk_update_projects()
-- twin-of: projects.sql:bulk_update_projects sha256:901d876042ac
-- Applies the table staged_updates in one statement: per row its id, the
-- version the library just read (read_version), and for each column a
-- set_<column> flag with the new value. Only flagged columns change; the
-- version goes up by one. Returns the ids of the updated rows.
-- PostgreSQL: the staged architecture (text) is cast to jsonb, the column's
-- type (a CASE cannot mix json and jsonb).
UPDATE projects AS p
SET
    name = CASE WHEN s.set_name THEN s.name ELSE p.name END,
    description = CASE WHEN s.set_description THEN s.description ELSE p.description END,
    project_idea = CASE WHEN s.set_project_idea THEN s.project_idea ELSE p.project_idea END,
    architecture = CASE WHEN s.set_architecture THEN CAST(s.architecture AS jsonb) ELSE p.architecture END,
    status = CASE WHEN s.set_status THEN s.status ELSE p.status END,
    completed_at = CASE WHEN (CASE WHEN s.set_status THEN s.status ELSE p.status END) = 'completed'
                        THEN coalesce(p.completed_at, now()) END,
    version = p.version + 1,
    updated_at = now()
FROM staged_updates AS s
WHERE p.id = s.id
  AND p.version = s.read_version
  AND p.deleted_at IS NULL
RETURNING p.id;
