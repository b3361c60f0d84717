-- Projects: the software projects that conversations, documents and
-- repositories belong to. Soft-deleted rows keep deleted_at set.

-- name: get_project(id, include_deleted)^
-- One project by id; a soft-deleted one only when include_deleted is true.
SELECT *
FROM projects
WHERE id = :id
  AND (deleted_at IS NULL OR :include_deleted);

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

-- name: insert_project(name, description, project_idea, architecture, status)<!
-- A new project. completed_at is stamped when it starts out completed.
INSERT INTO projects (name, description, project_idea, architecture, status, completed_at)
VALUES (
    :name, :description, :project_idea, :architecture, :status,
    CASE WHEN :status = 'completed' THEN now() END
)
RETURNING *;

-- name: update_project(id, version, name, description, project_idea, architecture, status)^
-- Writes every updatable column of a live project, provided its version is still
-- the one the library just read (it merged the caller's changes into that row).
-- No row back means a concurrent change won. Bumps version, stamps updated_at,
-- and keeps completed_at in step with status: stamped on entering 'completed',
-- kept while it stays there, cleared on leaving it.
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
RETURNING *;

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

-- name: missing_live_projects(project_ids)
-- Which of the given project ids name no live project (bulk inserts of children
-- refuse the whole batch when any does).
SELECT DISTINCT wanted.project_id
FROM unnest(CAST(:project_ids AS BIGINT[])) AS wanted (project_id)
WHERE wanted.project_id NOT IN (SELECT id FROM projects WHERE deleted_at IS NULL)
ORDER BY 1;

-- name: projects_by_ids(ids)
-- The live projects with these ids (a primary-key index scan), in no order: the
-- rows a search ranked best.
SELECT *
FROM projects
WHERE list_contains(CAST(:ids AS BIGINT[]), id)
  AND deleted_at IS NULL;

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
