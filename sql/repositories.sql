-- Repositories: the code repositories of a project (GitHub, GitLab, ...).

-- name: get_repository(id)^
-- One live repository by id (none when it is soft-deleted).
SELECT *
FROM repositories
WHERE id = :id
  AND deleted_at IS NULL;

-- name: get_repository_including_deleted(id)^
-- One repository by id, live or soft-deleted. (A query of its own: folding the
-- choice into get_repository as "deleted_at IS NULL OR :include_deleted" made
-- every lookup about 15% slower.)
SELECT *
FROM repositories
WHERE id = :id;

-- name: list_repositories()
-- Every repository row, live and soft-deleted; the library filters, orders and
-- pages it.
SELECT * FROM repositories;

-- name: repositories_of_project(project_id)
-- The live repositories of one project, oldest first.
SELECT *
FROM repositories
WHERE project_id = :project_id
  AND deleted_at IS NULL
ORDER BY id;

-- name: stale_repositories(days)
-- Live repositories with no commit in the last :days days, or none recorded.
SELECT *
FROM repositories
WHERE deleted_at IS NULL
  AND (last_commit_at IS NULL OR last_commit_at < now() - to_days(CAST(:days AS INTEGER)))
ORDER BY id;

-- name: create_repository(project_id, name, url, provider, default_branch, primary_language, stars, open_issues, last_commit_at, metadata, changes)<!
-- What RepositoryRepository.create writes, in one statement (both or
-- neither): the new repository of a live project and its 'create'
-- audit entry (changes: the validated input as JSON). No row back: the project
-- is missing or deleted, and nothing was written.
WITH created AS (
    INSERT INTO repositories (project_id, name, url, provider, default_branch, primary_language,
                              stars, open_issues, last_commit_at, metadata)
    SELECT :project_id, :name, :url, :provider, :default_branch, :primary_language,
           :stars, :open_issues, :last_commit_at, :metadata
    WHERE EXISTS (SELECT 1 FROM projects WHERE id = :project_id AND deleted_at IS NULL)
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'repository', id, 'create', CAST(:changes AS JSON)
    FROM created
)
SELECT * FROM created;

-- name: create_repositories(rows)<!
-- What RepositoryRepository.create writes for several repositories created at the same
-- moment (group commit, docs/design.md), in one statement: what
-- create_repository writes, for each item of rows (a JSON array of objects with
-- create_repository's parameters), as if they were created one by one in array
-- order: ids and audit entries are numbered in that order and only items of a live project are written. Each written
-- row comes back with its 1-based place in the array as ordinal. The ids are
-- drawn from the sequences, then sorted and given out in array order: nextval
-- alone promises unique values, not values in the order of the rows.
-- (One statement for 8 repositories costs about what two create_repository cost.)
WITH given AS (
    SELECT unnest(CAST(CAST(:rows AS JSON) AS STRUCT(
               project_id BIGINT, name VARCHAR, url VARCHAR, provider VARCHAR, default_branch VARCHAR,
               primary_language VARCHAR, stars BIGINT, open_issues BIGINT,
               last_commit_at TIMESTAMPTZ, metadata VARCHAR, changes VARCHAR
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
          FROM (SELECT nextval('repositories_id_seq') AS id FROM live)) AS r USING (k)
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('audit_log_id_seq') AS id FROM live)) AS a USING (k)
),
created AS (
    INSERT INTO repositories (id, project_id, name, url, provider, default_branch, primary_language, stars,
                        open_issues, last_commit_at, metadata)
    SELECT id, item.project_id, item.name, item.url, item.provider, item.default_branch,
           item.primary_language, item.stars, item.open_issues, item.last_commit_at,
           CAST(item.metadata AS JSON)
    FROM numbered
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (id, entity, entity_id, action, changes)
    SELECT audit_id, 'repository', id, 'create', CAST(item.changes AS JSON)
    FROM numbered
)
SELECT numbered.ordinal, created.*
FROM created
JOIN numbered USING (id)
ORDER BY numbered.ordinal;

-- name: update_repository(id, version, name, url, provider, default_branch, primary_language, stars, open_issues, last_commit_at, metadata, changes)^
-- What RepositoryRepository.update writes, in one statement: the updatable
-- columns of the live repository if its version is still the one the library
-- read (bumping version, stamping updated_at) and, only if that happened, its
-- 'update' audit entry (changes: each
-- given field's old and new value). No row back: a concurrent change won, and
-- nothing was written.
WITH updated AS (
    UPDATE repositories
    SET name             = :name,
        url              = :url,
        provider         = :provider,
        default_branch   = :default_branch,
        primary_language = :primary_language,
        stars            = :stars,
        open_issues      = :open_issues,
        last_commit_at   = :last_commit_at,
        metadata         = :metadata,
        version          = version + 1,
        updated_at       = now()
    WHERE id = :id
      AND version = :version
      AND deleted_at IS NULL
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (entity, entity_id, action, changes)
    SELECT 'repository', id, 'update', CAST(:changes AS JSON)
    FROM updated
)
SELECT * FROM updated;

-- name: soft_delete_repository(id)^
-- Marks a live repository deleted.
UPDATE repositories
SET deleted_at = now()
WHERE id = :id
  AND deleted_at IS NULL
RETURNING id, deleted_at;

-- name: soft_delete_repositories_of_project(project_id, deleted_at)
-- Cascade of a project's soft delete (see conversations.sql).
UPDATE repositories
SET deleted_at = :deleted_at
WHERE project_id = :project_id
  AND deleted_at IS NULL
RETURNING id;

-- name: restore_repository(id)^
-- Brings a soft-deleted repository back, if its project is live.
UPDATE repositories
SET deleted_at = NULL
WHERE id = :id
  AND deleted_at IS NOT NULL
  AND project_id IN (SELECT id FROM projects WHERE deleted_at IS NULL)
RETURNING *;

-- name: restore_repositories_of_project(project_id, deleted_at)
-- Undoes the cascade: the repositories deleted together with the project.
UPDATE repositories
SET deleted_at = NULL
WHERE project_id = :project_id
  AND deleted_at = :deleted_at
RETURNING id;

-- name: hard_delete_repository(id)^
-- Removes a repository for good.
DELETE FROM repositories
WHERE id = :id
RETURNING id;

-- name: hard_delete_repositories_of_project(project_id)
-- Removes every repository of a project, live or not (its hard delete).
DELETE FROM repositories
WHERE project_id = :project_id
RETURNING id;

-- name: bulk_insert_repositories()<!
-- Inserts the rows of the Arrow table registered as staged_repositories.
INSERT INTO repositories (id, project_id, name, url, provider, default_branch,
                          primary_language, stars, open_issues, last_commit_at, metadata)
SELECT id, project_id, name, url, provider, default_branch,
       primary_language, stars, open_issues, last_commit_at, metadata::JSON
FROM staged_repositories
RETURNING *;

-- name: audit_bulk_insert_repositories()!
-- One 'create' audit entry per staged repository.
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'repository', id, 'create',
       json_object('project_id', project_id, 'name', name, 'url', url, 'provider', provider,
                   'default_branch', default_branch, 'primary_language', primary_language,
                   'stars', stars, 'open_issues', open_issues,
                   'last_commit_at', last_commit_at, 'metadata', metadata::JSON)
FROM staged_repositories;

-- name: bulk_load_repositories()!
-- What bulk_create writes when the caller wants no rows back: the rows of
-- staged_repositories, as bulk_insert_repositories inserts them, and their
-- 'create' audit entries, as audit_bulk_insert_repositories writes them, in one
-- statement (see bulk_load_projects).
WITH inserted AS (
    INSERT INTO repositories (id, project_id, name, url, provider, default_branch,
                              primary_language, stars, open_issues, last_commit_at, metadata)
    SELECT id, project_id, name, url, provider, default_branch,
           primary_language, stars, open_issues, last_commit_at, metadata::JSON
    FROM staged_repositories
)
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'repository', id, 'create',
       json_object('project_id', project_id, 'name', name, 'url', url, 'provider', provider,
                   'default_branch', default_branch, 'primary_language', primary_language,
                   'stars', stars, 'open_issues', open_issues,
                   'last_commit_at', last_commit_at, 'metadata', metadata::JSON)
FROM staged_repositories;

-- name: repositories_by_ids(ids)
-- The live repositories with these ids, in no order: the rows a search ranked
-- best, and the repositories of get_repository calls made at the same moment, read
-- in one statement (coalesced reads). list_contains() is a primary-key index
-- scan: on 100,000 rows 0.8 ms for 2 ids, 2.5 ms for 16, 4.2 ms for 32 (a
-- lookup of one id by get_repository costs 0.7 ms).
SELECT *
FROM repositories
WHERE list_contains(CAST(:ids AS BIGINT[]), id)
  AND deleted_at IS NULL;

-- name: repositories_by_ids_including_deleted(ids)
-- The repositories with these ids, live or soft-deleted, in no order: the
-- get_repository_including_deleted calls made at the same moment, in one
-- statement.
SELECT *
FROM repositories
WHERE list_contains(CAST(:ids AS BIGINT[]), id);

-- name: repositories_update_targets(ids)
-- What a bulk update of the live repositories with these ids starts from: id,
-- version (to check and to guard the update) and the columns it may change (their old
-- values go to the audit trail). Missing ids are deleted or never existed. A
-- semi-join, not list_contains(): thousands of ids stay one hash lookup each.
SELECT id, version, name, url, provider, default_branch, primary_language, stars,
       open_issues, last_commit_at, metadata
FROM repositories
WHERE id IN (SELECT unnest(CAST(:ids AS BIGINT[])))
  AND deleted_at IS NULL;

-- name: bulk_update_repositories()
-- Applies the Arrow table registered as staged_updates in one statement: per
-- row its id, the version the library just read (read_version), and for each
-- column a set_<column> flag with the new value. Only flagged columns change;
-- the version goes up by one. Returns the ids of the updated rows.
UPDATE repositories AS r
SET
    name = CASE WHEN s.set_name THEN s.name ELSE r.name END,
    url = CASE WHEN s.set_url THEN s.url ELSE r.url END,
    provider = CASE WHEN s.set_provider THEN s.provider ELSE r.provider END,
    default_branch = CASE WHEN s.set_default_branch THEN s.default_branch ELSE r.default_branch END,
    primary_language = CASE WHEN s.set_primary_language THEN s.primary_language ELSE r.primary_language END,
    stars = CASE WHEN s.set_stars THEN s.stars ELSE r.stars END,
    open_issues = CASE WHEN s.set_open_issues THEN s.open_issues ELSE r.open_issues END,
    last_commit_at = CASE WHEN s.set_last_commit_at THEN s.last_commit_at ELSE r.last_commit_at END,
    metadata = CASE WHEN s.set_metadata THEN s.metadata::JSON ELSE r.metadata END,
    version = r.version + 1,
    updated_at = now()
FROM staged_updates AS s
WHERE r.id = s.id
  AND r.version = s.read_version
  AND r.deleted_at IS NULL
RETURNING r.id;
