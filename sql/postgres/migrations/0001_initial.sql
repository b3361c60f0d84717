-- 0001_initial (PostgreSQL): the schema that sql/migrations/0001..0004 leave on
-- DuckDB, made in one step: the four entities, the messages of conversations
-- (one row per message, as 0004 left them), the audit trail, the full-text
-- index table and the stored analytics summaries (0002). schema_migrations is
-- not made here: the library makes it with create_schema_migrations.
--
-- Same tables, columns (in the same order), sequences (same names: next_ids
-- draws from them by name), defaults and CHECK constraints as on DuckDB. What
-- differs, and why:
--   * Every VARCHAR is TEXT COLLATE "C": DuckDB compares and sorts text by its
--     bytes (UTF-8 code point order); "C" does the same whatever the
--     database's default collation, so ORDER BY name, GROUP BY, min/max and
--     comparisons give the same rows in the same order on both engines.
--   * JSON columns are jsonb. jsonb keeps the value, not the text: whitespace
--     and key order change and a duplicate key keeps its last value, so the
--     library compares stored JSON by value (json.loads), never by text.
--   * Child tables get real FOREIGN KEY constraints (no cascade), checked when
--     the transaction commits (DEFERRABLE INITIALLY DEFERRED). The DuckDB 2.0
--     limits that made 0001 leave them out do not exist here. A hard delete
--     removes the parent and its children (and a conversation's messages) in
--     one transaction, parent first, so the check must wait for the commit;
--     a child is inserted only when its parent is live, so the check is a
--     guard that never fires for the library's own writes.
--   * Indexes fit a row store with btrees: every index DuckDB has, one on each
--     foreign key, two for lists of live projects newest first, and the
--     search_terms indexes 0003 dropped on DuckDB (there they slowed bulk
--     commits; a btree does not suffer ART's shared-key cost):
--     term for ranking (term = ANY($terms)), (entity, entity_id) for deleting
--     one row's terms.

-- Conventions shared by every entity table (see sql/migrations/0001_initial.sql):
--   id          BIGINT from the table's own sequence
--   version     starts at 1, goes up by one on every update (optimistic locking)
--   created_at  set by the database, UTC (timestamptz, session TimeZone UTC)
--   updated_at  NULL until the first update
--   deleted_at  NULL while the row is live; set by a soft delete

CREATE SEQUENCE projects_id_seq START 1;
CREATE TABLE projects (
    id           bigint PRIMARY KEY DEFAULT nextval('projects_id_seq'),
    name         text COLLATE "C" NOT NULL,
    description  text COLLATE "C",
    project_idea text COLLATE "C" NOT NULL,
    architecture jsonb,
    status       text COLLATE "C" NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'active', 'completed', 'archived')),
    completed_at timestamptz,
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz,
    deleted_at   timestamptz
);
ALTER SEQUENCE projects_id_seq OWNED BY projects.id;
-- The live projects newest first, with or without a status filter: a page of the
-- list is read off the index (0.2 ms for 100 of 100,000 rows) instead of sorting
-- every match (9 ms). DESC NULLS LAST and the id tiebreak are the order the
-- library's lists write (queries/filters.py, compile_order).
CREATE INDEX projects_live_created_at_idx ON projects (created_at DESC NULLS LAST, id)
    WHERE deleted_at IS NULL;
CREATE INDEX projects_live_status_created_at_idx
    ON projects (status, created_at DESC NULLS LAST, id)
    WHERE deleted_at IS NULL;

CREATE SEQUENCE conversations_id_seq START 1;
CREATE TABLE conversations (
    id         bigint PRIMARY KEY DEFAULT nextval('conversations_id_seq'),
    project_id bigint NOT NULL REFERENCES projects (id) DEFERRABLE INITIALLY DEFERRED,
    title      text COLLATE "C" NOT NULL,
    phase      text COLLATE "C" NOT NULL DEFAULT 'discovery'
               CHECK (phase IN ('discovery', 'requirements', 'design', 'implementation', 'review')),
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    deleted_at timestamptz
);
ALTER SEQUENCE conversations_id_seq OWNED BY conversations.id;
CREATE INDEX conversations_project_id_idx ON conversations (project_id);

-- One row per message of a conversation (sql/migrations/0004_messages_as_rows.sql):
-- position comes from one sequence for all conversations, so it only grows and
-- is unique, with gaps between one conversation's messages.
CREATE SEQUENCE messages_position_seq START 1;
CREATE TABLE messages (
    conversation_id bigint NOT NULL REFERENCES conversations (id) DEFERRABLE INITIALLY DEFERRED,
    position        bigint NOT NULL DEFAULT nextval('messages_position_seq'),
    role            text COLLATE "C" NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content         text COLLATE "C" NOT NULL,
    created_at      timestamptz NOT NULL,
    metadata        jsonb
);
ALTER SEQUENCE messages_position_seq OWNED BY messages.position;
-- The foreign key's index, in page order: messages_page and
-- messages_of_conversations read one conversation's messages by position.
CREATE INDEX messages_conversation_id_position_idx ON messages (conversation_id, position);

CREATE SEQUENCE documents_id_seq START 1;
CREATE TABLE documents (
    id               bigint PRIMARY KEY DEFAULT nextval('documents_id_seq'),
    project_id       bigint NOT NULL REFERENCES projects (id) DEFERRABLE INITIALLY DEFERRED,
    title            text COLLATE "C" NOT NULL,
    doc_type         text COLLATE "C" NOT NULL
                     CHECK (doc_type IN ('requirements', 'architecture', 'adr', 'api', 'guide', 'other')),
    content          text COLLATE "C" NOT NULL DEFAULT '',
    metadata         jsonb,
    access_count     bigint NOT NULL DEFAULT 0,
    last_accessed_at timestamptz,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz,
    deleted_at       timestamptz
);
ALTER SEQUENCE documents_id_seq OWNED BY documents.id;
CREATE INDEX documents_project_id_idx ON documents (project_id);

CREATE SEQUENCE repositories_id_seq START 1;
CREATE TABLE repositories (
    id               bigint PRIMARY KEY DEFAULT nextval('repositories_id_seq'),
    project_id       bigint NOT NULL REFERENCES projects (id) DEFERRABLE INITIALLY DEFERRED,
    name             text COLLATE "C" NOT NULL,
    url              text COLLATE "C" NOT NULL,
    provider         text COLLATE "C" NOT NULL
                     CHECK (provider IN ('github', 'gitlab', 'bitbucket', 'other')),
    default_branch   text COLLATE "C" NOT NULL DEFAULT 'main',
    primary_language text COLLATE "C",
    stars            bigint NOT NULL DEFAULT 0 CHECK (stars >= 0),
    open_issues      bigint NOT NULL DEFAULT 0 CHECK (open_issues >= 0),
    last_commit_at   timestamptz,
    metadata         jsonb,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz,
    deleted_at       timestamptz
);
ALTER SEQUENCE repositories_id_seq OWNED BY repositories.id;
CREATE INDEX repositories_project_id_idx ON repositories (project_id);

-- One row per create, update, delete and restore, written in the same
-- transaction as the change. `changes` holds the written values (create), the
-- changed fields as {"field": {"old": ..., "new": ...}} (update), or what the
-- delete/restore did. entity_id names a row of the entity's table: no foreign
-- key (one column, four tables), and entries outlive hard-deleted rows.
CREATE SEQUENCE audit_log_id_seq START 1;
CREATE TABLE audit_log (
    id        bigint PRIMARY KEY DEFAULT nextval('audit_log_id_seq'),
    entity    text COLLATE "C" NOT NULL
              CHECK (entity IN ('project', 'conversation', 'document', 'repository')),
    entity_id bigint NOT NULL,
    action    text COLLATE "C" NOT NULL CHECK (action IN ('create', 'update', 'delete', 'restore')),
    changes   jsonb NOT NULL,
    "at"      timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);

-- Full-text search index: one row per (live row, field, stemmed term) with the
-- term's count in that field, written by the library in the same transaction
-- as the change it follows (see sql/migrations/0001_initial.sql); sql/search.sql
-- ranks with it. No foreign key: entity_id names a project or a document.
CREATE TABLE search_terms (
    entity    text COLLATE "C" NOT NULL CHECK (entity IN ('project', 'document')),
    entity_id bigint NOT NULL,
    field     text COLLATE "C" NOT NULL,
    term      text COLLATE "C" NOT NULL,
    tf        integer NOT NULL
);
-- Ranking looks terms up (term = ANY($terms)); re-indexing and deletes find
-- one row's terms by (entity, entity_id).
CREATE INDEX search_terms_term_idx ON search_terms (term);
CREATE INDEX search_terms_entity_idx ON search_terms (entity, entity_id);

-- Stored results of the analytics queries (sql/migrations/0002_analytics_summaries.sql),
-- rebuilt together by BulkOperations.bulk_analytics_refresh. payload is the
-- JSON of the result model.
CREATE TABLE analytics_summaries (
    name     text COLLATE "C" PRIMARY KEY,
    built_at timestamptz NOT NULL,
    -- json, not jsonb: a summary is read back whole, and must read back as it was
    -- written (jsonb would reorder the keys of its distributions).
    payload  json NOT NULL
);
