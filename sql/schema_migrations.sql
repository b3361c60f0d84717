-- Bookkeeping for the numbered scripts in sql/migrations/.

-- name: create_schema_migrations#
-- The table recording which migrations this database file has applied.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- name: applied_migrations()
-- The versions already applied, in order.
SELECT version, name, applied_at
FROM schema_migrations
ORDER BY version;

-- name: record_migration(version, name)!
-- Marks one migration as applied, in the same transaction as its script.
INSERT INTO schema_migrations (version, name) VALUES (:version, :name);

-- name: migrations_table_exists()$
-- Whether this database has ever been migrated (read-only engines cannot create the table).
SELECT count(*) > 0
FROM information_schema.tables
WHERE table_name = 'schema_migrations';
