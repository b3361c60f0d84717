-- 0001_initial: the four entities and the audit trail.
--
-- Conventions shared by every entity table:
--   id          BIGINT from the table's own sequence
--   version     starts at 1, goes up by one on every update (optimistic locking)
--   created_at  set by the database, UTC (TIMESTAMPTZ, session time zone UTC)
--   updated_at  NULL until the first update
--   deleted_at  NULL while the row is live; set by a soft delete
--
-- Child tables hold project_id without a FOREIGN KEY constraint. DuckDB 2.0's
-- foreign keys refuse too much that this library needs: an UPDATE ... RETURNING
-- of a project that has children fails with "Violates foreign key constraint"
-- (so does any UPDATE of an indexed column of it), and a transaction cannot
-- delete children and their project together. The library keeps the reference
-- sound itself: a child is inserted only by a statement that checks, in the same
-- statement, that its project is live; project_id never changes afterwards; and
-- a hard delete removes a project's children in the same transaction as the
-- project. tests/test_schema.py shows the DuckDB behaviour this works around.

CREATE SEQUENCE projects_id_seq START 1;
CREATE TABLE projects (
    id           BIGINT PRIMARY KEY DEFAULT nextval('projects_id_seq'),
    name         VARCHAR NOT NULL,
    description  VARCHAR,
    project_idea VARCHAR NOT NULL,
    architecture JSON,
    status       VARCHAR NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'active', 'completed', 'archived')),
    completed_at TIMESTAMPTZ,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ,
    deleted_at   TIMESTAMPTZ
);

-- One message of a conversation, kept in order inside conversations.messages.
CREATE TYPE message AS STRUCT (
    role       VARCHAR,
    content    VARCHAR,
    created_at TIMESTAMPTZ,
    metadata   JSON
);

CREATE SEQUENCE conversations_id_seq START 1;
CREATE TABLE conversations (
    id         BIGINT PRIMARY KEY DEFAULT nextval('conversations_id_seq'),
    project_id BIGINT NOT NULL,
    title      VARCHAR NOT NULL,
    phase      VARCHAR NOT NULL DEFAULT 'discovery'
               CHECK (phase IN ('discovery', 'requirements', 'design', 'implementation', 'review')),
    messages   message[] NOT NULL DEFAULT [],
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX conversations_project_id_idx ON conversations (project_id);

CREATE SEQUENCE documents_id_seq START 1;
CREATE TABLE documents (
    id               BIGINT PRIMARY KEY DEFAULT nextval('documents_id_seq'),
    project_id       BIGINT NOT NULL,
    title            VARCHAR NOT NULL,
    doc_type         VARCHAR NOT NULL
                     CHECK (doc_type IN ('requirements', 'architecture', 'adr', 'api', 'guide', 'other')),
    content          VARCHAR NOT NULL DEFAULT '',
    metadata         JSON,
    access_count     BIGINT NOT NULL DEFAULT 0,
    last_accessed_at TIMESTAMPTZ,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ
);
CREATE INDEX documents_project_id_idx ON documents (project_id);

CREATE SEQUENCE repositories_id_seq START 1;
CREATE TABLE repositories (
    id               BIGINT PRIMARY KEY DEFAULT nextval('repositories_id_seq'),
    project_id       BIGINT NOT NULL,
    name             VARCHAR NOT NULL,
    url              VARCHAR NOT NULL,
    provider         VARCHAR NOT NULL
                     CHECK (provider IN ('github', 'gitlab', 'bitbucket', 'other')),
    default_branch   VARCHAR NOT NULL DEFAULT 'main',
    primary_language VARCHAR,
    stars            BIGINT NOT NULL DEFAULT 0 CHECK (stars >= 0),
    open_issues      BIGINT NOT NULL DEFAULT 0 CHECK (open_issues >= 0),
    last_commit_at   TIMESTAMPTZ,
    metadata         JSON,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ
);
CREATE INDEX repositories_project_id_idx ON repositories (project_id);

-- One row per create, update, delete and restore, written in the same
-- transaction as the change. `changes` holds the written values (create), the
-- changed fields as {"field": {"old": ..., "new": ...}} (update), or what the
-- delete/restore did.
CREATE SEQUENCE audit_log_id_seq START 1;
CREATE TABLE audit_log (
    id        BIGINT PRIMARY KEY DEFAULT nextval('audit_log_id_seq'),
    entity    VARCHAR NOT NULL
              CHECK (entity IN ('project', 'conversation', 'document', 'repository')),
    entity_id BIGINT NOT NULL,
    action    VARCHAR NOT NULL CHECK (action IN ('create', 'update', 'delete', 'restore')),
    changes   JSON NOT NULL,
    "at"      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);

-- Full-text search index: one row per (live row, field, stemmed term) with the
-- term's count in that field. The library writes it in the same transaction as
-- the change it follows (create, update of a searched field, soft delete,
-- restore, hard delete), from Python's tokenizer and English Snowball stemmer
-- (project_architect_db/search.py), so searches read their own writes; it holds
-- live rows only, so ranking never joins the entity tables. sql/search.sql
-- ranks with it. DuckDB's fts extension is not used: its index does not follow
-- table changes and it is not bundled in the duckdb wheel.
CREATE TABLE search_terms (
    entity    VARCHAR NOT NULL CHECK (entity IN ('project', 'document')),
    entity_id BIGINT NOT NULL,
    field     VARCHAR NOT NULL,
    term      VARCHAR NOT NULL,
    tf        INTEGER NOT NULL
);
-- Single-column ART indexes: DuckDB answers `list_contains($terms, term)` and
-- `entity_id = $id` with index scans instead of reading millions of rows.
CREATE INDEX search_terms_term_idx ON search_terms (term);
CREATE INDEX search_terms_entity_id_idx ON search_terms (entity_id);
