-- Projects: the software projects that conversations, documents and
-- repositories belong to. Soft-deleted rows keep deleted_at set.

-- name: get_project(id)^
-- One live project by id (none when it is soft-deleted).
SELECT *
FROM projects
WHERE id = :id
  AND deleted_at IS NULL;

-- name: get_project_including_deleted(id)^
-- One project by id, live or soft-deleted. (A query of its own: folding the
-- choice into get_project as "deleted_at IS NULL OR :include_deleted" made
-- every lookup about 15% slower.)
SELECT *
FROM projects
WHERE id = :id;

-- name: list_projects()
-- Every project row, live and soft-deleted. The library narrows this with the
-- caller's filters (field names checked against the model, values bound as
-- parameters), then orders and pages it.
SELECT * FROM projects;

-- name: projects_by_status(status)
-- Live projects in one status, oldest first.
SELECT *
FROM projects
WHERE status = :status
  AND deleted_at IS NULL
ORDER BY id;

-- name: create_project(name, description, project_idea, architecture, status, changes, fields, terms, counts)<!
-- What ProjectRepository.create writes, in one statement (so all of it or
-- nothing, and one statement's cost instead of five): the new project
-- (completed_at stamped when it starts out completed), its 'create' audit entry (changes: the validated
-- input as JSON) and its search terms (three equally long lists give each
-- term's field and count, as insert_search_terms takes them).
WITH created AS (
    INSERT INTO projects (name, description, project_idea, architecture, status, completed_at)
    VALUES (
        :name, :description, :project_idea, :architecture, :status,
        CASE WHEN :status = 'completed' THEN now() END
    )
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'project', id, 'create', CAST(:changes AS JSON)
    FROM created
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'project', id, unnest(CAST(:fields AS VARCHAR[])),
           unnest(CAST(:terms AS VARCHAR[])), unnest(CAST(:counts AS INTEGER[]))
    FROM created
)
SELECT * FROM created;

-- name: create_projects(rows)<!
-- What ProjectRepository.create writes for several projects created at the same
-- moment (group commit, docs/design.md), in one statement: what
-- create_project writes, for each item of rows (a JSON array of objects with
-- create_project's parameters), as if they were created one by one in array
-- order: ids and audit entries are numbered in that order. Each written
-- row comes back with its 1-based place in the array as ordinal. The ids are
-- drawn from the sequences, then sorted and given out in array order: nextval
-- alone promises unique values, not values in the order of the rows.
-- (One statement for 8 projects costs about what two create_project cost.)
WITH given AS (
    SELECT unnest(CAST(CAST(:rows AS JSON) AS STRUCT(
               name VARCHAR, description VARCHAR, project_idea VARCHAR, architecture VARCHAR,
               status VARCHAR, changes VARCHAR, fields VARCHAR[], terms VARCHAR[], counts INTEGER[]
           )[])) AS item,
           generate_subscripts(CAST(CAST(:rows AS JSON) AS JSON[]), 1) AS ordinal
),
numbered AS MATERIALIZED (
    SELECT w.ordinal, w.item, r.id, a.id AS audit_id
    FROM (SELECT ordinal, item, row_number() OVER (ORDER BY ordinal) AS k FROM given) AS w
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('projects_id_seq') AS id FROM given)) AS r USING (k)
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('audit_log_id_seq') AS id FROM given)) AS a USING (k)
),
created AS (
    INSERT INTO projects (id, name, description, project_idea, architecture, status, completed_at)
    SELECT id, item.name, item.description, item.project_idea, CAST(item.architecture AS JSON),
           item.status, CASE WHEN item.status = 'completed' THEN now() END
    FROM numbered
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (id, entity, entity_id, action, changes)
    SELECT audit_id, 'project', id, 'create', CAST(item.changes AS JSON)
    FROM numbered
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'project', id, unnest(item.fields), unnest(item.terms), unnest(item.counts)
    FROM numbered
)
SELECT numbered.ordinal, created.*
FROM created
JOIN numbered USING (id)
ORDER BY numbered.ordinal;

-- name: update_project(id, version, name, description, project_idea, architecture, status, changes)^
-- What ProjectRepository.update writes when no searched text (name,
-- description, project_idea) changes, in one statement: every updatable
-- column of the live project, provided its version is still the one the
-- library just read (it merged the caller's changes into that row), bumping
-- version, stamping updated_at and keeping completed_at in step with status
-- (stamped on entering 'completed', kept while it stays there, cleared on
-- leaving it); and, only if that happened, its 'update' audit entry (changes: each
-- given field's old and new value, as JSON). No row back: a concurrent change
-- won, and nothing was written.
WITH updated AS (
    UPDATE projects
    SET name         = :name,
        description  = :description,
        project_idea = :project_idea,
        architecture = :architecture,
        status       = :status,
        completed_at = CASE WHEN :status = 'completed' THEN coalesce(completed_at, now()) END,
        version      = version + 1,
        updated_at   = now()
    WHERE id = :id
      AND version = :version
      AND deleted_at IS NULL
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'project', id, 'update', CAST(:changes AS JSON)
    FROM updated
)
SELECT * FROM updated;

-- name: update_project_reindexed(id, version, name, description, project_idea, architecture, status, changes, fields, terms, counts)^
-- The same as update_project when searched text changes: the project's
-- search terms are replaced too (fields, terms, counts as in create_project).
-- DuckDB runs the statements of a WITH in the order written, so the old terms
-- are deleted before the new ones go in; both only if the update happened.
-- Its UPDATE is update_project's, repeated (one statement is faster than
-- two): change both together (a test compares them).
WITH updated AS (
    UPDATE projects
    SET name         = :name,
        description  = :description,
        project_idea = :project_idea,
        architecture = :architecture,
        status       = :status,
        completed_at = CASE WHEN :status = 'completed' THEN coalesce(completed_at, now()) END,
        version      = version + 1,
        updated_at   = now()
    WHERE id = :id
      AND version = :version
      AND deleted_at IS NULL
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'project', id, 'update', CAST(:changes AS JSON)
    FROM updated
),
unindexed AS (
    DELETE FROM search_terms
    WHERE entity_id = :id
      AND entity = 'project'
      AND EXISTS (SELECT 1 FROM updated)
),
indexed AS (
    INSERT INTO search_terms (entity, entity_id, field, term, tf)
    SELECT 'project', id, unnest(CAST(:fields AS VARCHAR[])),
           unnest(CAST(:terms AS VARCHAR[])), unnest(CAST(:counts AS INTEGER[]))
    FROM updated
)
SELECT * FROM updated;

-- name: soft_delete_project(id)^
-- Marks a live project deleted; its children are marked by the queries in their
-- own files with the same deleted_at, so a restore can bring exactly them back.
UPDATE projects
SET deleted_at = now()
WHERE id = :id
  AND deleted_at IS NULL
RETURNING id, deleted_at;

-- name: restore_project(id)^
-- Brings a soft-deleted project back.
UPDATE projects
SET deleted_at = NULL
WHERE id = :id
  AND deleted_at IS NOT NULL
RETURNING *;

-- name: hard_delete_project(id)^
-- Removes a project for good; the library removes its children in the same transaction.
DELETE FROM projects
WHERE id = :id
RETURNING id;

-- name: bulk_insert_projects()<!
-- Inserts the rows of the Arrow table registered as staged_projects, whose ids
-- were drawn from projects_id_seq beforehand (so input order = id order).
INSERT INTO projects (id, name, description, project_idea, architecture, status, completed_at)
SELECT id, name, description, project_idea, architecture::JSON, status,
       CASE WHEN status = 'completed' THEN now() END
FROM staged_projects
RETURNING *;

-- name: audit_bulk_insert_projects()!
-- One 'create' audit entry per row of staged_projects, holding the values written.
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'project', id, 'create',
       json_object('name', name, 'description', description, 'project_idea', project_idea,
                   'architecture', architecture::JSON, 'status', status)
FROM staged_projects;

-- name: bulk_load_projects()!
-- What bulk_create writes when the caller wants no rows back: the rows of
-- staged_projects, as bulk_insert_projects inserts them, and their 'create'
-- audit entries, as audit_bulk_insert_projects writes them, in one statement.
-- Returning no rows matters: reading 10,000 rows back into Python cost more
-- than inserting them.
WITH inserted AS (
    INSERT INTO projects (id, name, description, project_idea, architecture, status, completed_at)
    SELECT id, name, description, project_idea, architecture::JSON, status,
           CASE WHEN status = 'completed' THEN now() END
    FROM staged_projects
)
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'project', id, 'create',
       json_object('name', name, 'description', description, 'project_idea', project_idea,
                   'architecture', architecture::JSON, 'status', status)
FROM staged_projects;

-- name: missing_live_projects(project_ids)
-- Which of the given project ids name no live project (bulk inserts of children
-- refuse the whole batch when any does).
SELECT DISTINCT wanted.project_id
FROM unnest(CAST(:project_ids AS BIGINT[])) AS wanted (project_id)
WHERE wanted.project_id NOT IN (SELECT id FROM projects WHERE deleted_at IS NULL)
ORDER BY 1;

-- name: projects_by_ids(ids)
-- The live projects with these ids, in no order: the rows a search ranked
-- best, and the projects of get_project calls made at the same moment, read
-- in one statement (coalesced reads). list_contains() is a primary-key index
-- scan: on 100,000 rows 0.8 ms for 2 ids, 2.5 ms for 16, 4.2 ms for 32 (a
-- lookup of one id by get_project costs 0.7 ms).
SELECT *
FROM projects
WHERE list_contains(CAST(:ids AS BIGINT[]), id)
  AND deleted_at IS NULL;

-- name: projects_by_ids_including_deleted(ids)
-- The projects with these ids, live or soft-deleted, in no order: the
-- get_project_including_deleted calls made at the same moment, in one
-- statement.
SELECT *
FROM projects
WHERE list_contains(CAST(:ids AS BIGINT[]), id);

-- name: projects_update_targets(ids)
-- What a bulk update of the live projects with these ids starts from: id, version
-- (to check and to guard the update) and the columns it may change (their old
-- values go to the audit trail). Missing ids are deleted or never existed. A
-- semi-join, not list_contains(): thousands of ids stay one hash lookup each.
SELECT id, version, name, description, project_idea, architecture, status
FROM projects
WHERE id IN (SELECT unnest(CAST(:ids AS BIGINT[])))
  AND deleted_at IS NULL;

-- name: bulk_update_projects()
-- Applies the Arrow table registered as staged_updates in one statement: per
-- row its id, the version the library just read (read_version), and for each
-- column a set_<column> flag with the new value. Only flagged columns change;
-- the version goes up by one. Returns the ids of the updated rows.
UPDATE projects AS p
SET
    name = CASE WHEN s.set_name THEN s.name ELSE p.name END,
    description = CASE WHEN s.set_description THEN s.description ELSE p.description END,
    project_idea = CASE WHEN s.set_project_idea THEN s.project_idea ELSE p.project_idea END,
    architecture = CASE WHEN s.set_architecture THEN s.architecture::JSON ELSE p.architecture END,
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
