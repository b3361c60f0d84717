-- Repositories on PostgreSQL: the queries of sql/repositories.sql whose DuckDB
-- text does not run here. Every other query of that file runs on PostgreSQL as
-- written. Each twin keeps its DuckDB query's name, parameters and suffix, and
-- says under its header which DuckDB text it follows (twin-of: file:query and
-- the sha256 of that text): change both together.

-- name: stale_repositories(days)
-- twin-of: repositories.sql:stale_repositories sha256:b9aa38e20e76
-- Live repositories with no commit in the last :days days, or none recorded.
-- PostgreSQL: days of 24 hours (CAST(:days AS integer) * INTERVAL '24 hours')
-- for DuckDB's to_days(:days), which the library's UTC session makes 24-hour
-- days; a PostgreSQL day would follow the session's time zone across
-- daylight-saving changes.
SELECT *
FROM repositories
WHERE deleted_at IS NULL
  AND (last_commit_at IS NULL OR last_commit_at < now() - CAST(:days AS integer) * INTERVAL '24 hours')
ORDER BY id;

-- name: create_repositories(rows)<!
-- twin-of: repositories.sql:create_repositories sha256:8b72ae5fe028
-- What RepositoryRepository.create writes for several repositories created at the same
-- moment (group commit, docs/design.md), in one statement: what
-- create_repository writes, for each item of rows (a JSON array of objects with
-- create_repository's parameters), as if they were created one by one in array
-- order: ids and audit entries are numbered in that order and only items of a
-- live project are written. Each written row comes back with its 1-based place
-- in the array as ordinal. The ids are drawn from the sequences, then sorted
-- and given out in array order: nextval alone promises unique values, not
-- values in the order of the rows.
-- PostgreSQL: no STRUCT cast of JSON; jsonb_to_recordset makes the items rows
-- (last_commit_at text read as timestamptz, in the session time zone when it
-- has no offset, as DuckDB does) and WITH ORDINALITY numbers them, so the
-- item's fields are plain columns instead of item.field.
WITH given AS (
    SELECT *
    FROM ROWS FROM (
             jsonb_to_recordset(CAST(:rows AS jsonb)) AS (
                 project_id bigint, name text, url text, provider text, default_branch text,
                 primary_language text, stars bigint, open_issues bigint,
                 last_commit_at timestamptz, metadata text, changes text
             )
         ) WITH ORDINALITY
         AS item (project_id, name, url, provider, default_branch, primary_language, stars,
                  open_issues, last_commit_at, metadata, changes, ordinal)
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
          FROM (SELECT nextval('repositories_id_seq') AS id FROM live) AS drawn) AS r USING (k)
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k
          FROM (SELECT nextval('audit_log_id_seq') AS id FROM live) AS drawn) AS a USING (k)
),
created AS (
    INSERT INTO repositories (id, project_id, name, url, provider, default_branch, primary_language, stars,
                              open_issues, last_commit_at, metadata)
    SELECT id, project_id, name, url, provider, default_branch,
           primary_language, stars, open_issues, last_commit_at,
           CAST(metadata AS jsonb)
    FROM numbered
    RETURNING *
),
audited AS (
    INSERT INTO audit_log (id, entity, entity_id, action, changes)
    SELECT audit_id, 'repository', id, 'create', CAST(changes AS jsonb)
    FROM numbered
)
SELECT numbered.ordinal, created.*
FROM created
JOIN numbered USING (id)
ORDER BY numbered.ordinal;

-- name: audit_bulk_insert_repositories()!
-- twin-of: repositories.sql:audit_bulk_insert_repositories sha256:4f704be93367
-- One 'create' audit entry per staged repository.
-- PostgreSQL: jsonb_build_object instead of DuckDB's json_object (the stored
-- jsonb equals DuckDB's JSON by value; the text differs in spacing and key
-- order). last_commit_at goes in as DuckDB writes a TIMESTAMPTZ into JSON:
-- its text in the session time zone, '2024-05-01 01:02:03.4+00' (to_jsonb
-- would write ISO 8601 with a T); timestamptz::text gives exactly that under
-- the library's TimeZone 'UTC' and PostgreSQL's ISO DateStyle.
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'repository', id, 'create',
       jsonb_build_object('project_id', project_id, 'name', name, 'url', url, 'provider', provider,
                          'default_branch', default_branch, 'primary_language', primary_language,
                          'stars', stars, 'open_issues', open_issues,
                          'last_commit_at', CAST(last_commit_at AS text),
                          'metadata', CAST(metadata AS jsonb))
FROM staged_repositories;

-- name: bulk_load_repositories()!
-- twin-of: repositories.sql:bulk_load_repositories sha256:977589a249f5
-- What bulk_create writes when the caller wants no rows back: the rows of
-- staged_repositories, as bulk_insert_repositories inserts them, and their
-- 'create' audit entries, as audit_bulk_insert_repositories writes them, in one
-- statement (see bulk_load_projects).
-- PostgreSQL: jsonb_build_object instead of json_object, as in
-- audit_bulk_insert_repositories (last_commit_at as DuckDB's text of it).
WITH inserted AS (
    INSERT INTO repositories (id, project_id, name, url, provider, default_branch,
                              primary_language, stars, open_issues, last_commit_at, metadata)
    SELECT id, project_id, name, url, provider, default_branch,
           primary_language, stars, open_issues, last_commit_at, CAST(metadata AS jsonb)
    FROM staged_repositories
)
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'repository', id, 'create',
       jsonb_build_object('project_id', project_id, 'name', name, 'url', url, 'provider', provider,
                          'default_branch', default_branch, 'primary_language', primary_language,
                          'stars', stars, 'open_issues', open_issues,
                          'last_commit_at', CAST(last_commit_at AS text),
                          'metadata', CAST(metadata AS jsonb))
FROM staged_repositories;

-- name: repositories_by_ids(ids)
-- twin-of: repositories.sql:repositories_by_ids sha256:95e4c082a212
-- The live repositories with these ids, in no order: the rows a search ranked
-- best, and the repositories of get_repository calls made at the same moment,
-- read in one statement (coalesced reads).
-- PostgreSQL: no list_contains(); id = ANY(array) is a primary-key index scan.
SELECT *
FROM repositories
WHERE id = ANY (CAST(:ids AS bigint[]))
  AND deleted_at IS NULL;

-- name: repositories_by_ids_including_deleted(ids)
-- twin-of: repositories.sql:repositories_by_ids_including_deleted sha256:eb259070cd4b
-- The repositories with these ids, live or soft-deleted, in no order: the
-- get_repository_including_deleted calls made at the same moment, in one
-- statement.
-- PostgreSQL: no list_contains(); id = ANY(array) instead.
SELECT *
FROM repositories
WHERE id = ANY (CAST(:ids AS bigint[]));

-- name: bulk_update_repositories()
-- twin-of: repositories.sql:bulk_update_repositories sha256:5fa55b761757
-- Applies the table staged_updates in one statement: per row its id, the
-- version the library just read (read_version), and for each column a
-- set_<column> flag with the new value. Only flagged columns change; the
-- version goes up by one. Returns the ids of the updated rows.
-- PostgreSQL: the staged metadata (text) is cast to jsonb, the column's type
-- (a CASE cannot mix json and jsonb).
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
    metadata = CASE WHEN s.set_metadata THEN CAST(s.metadata AS jsonb) ELSE r.metadata END,
    version = r.version + 1,
    updated_at = now()
FROM staged_updates AS s
WHERE r.id = s.id
  AND r.version = s.read_version
  AND r.deleted_at IS NULL
RETURNING r.id;
