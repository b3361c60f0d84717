-- Bookkeeping for the numbered scripts in sql/postgres/migrations/: the
-- queries of sql/schema_migrations.sql whose DuckDB text does not fit
-- PostgreSQL. The others run as written. Each twin keeps its DuckDB query's
-- name, parameters and suffix, and says under its header which DuckDB text it
-- follows (twin-of: file:query and the sha256 of that text): change both together.

-- name: create_schema_migrations#
-- twin-of: schema_migrations.sql:create_schema_migrations sha256:7a4df7a9eb30
-- The table recording which migrations this database has applied.
-- PostgreSQL: name is text COLLATE "C", as every VARCHAR of the schema
-- (sql/postgres/migrations/0001_initial.sql): byte order, as on DuckDB.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text COLLATE "C" NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: migrations_table_exists()$
-- twin-of: schema_migrations.sql:migrations_table_exists sha256:34a0184c2c1f
-- Whether this database has ever been migrated (read-only engines cannot create the table).
-- PostgreSQL: to_regclass finds the table the library's statements would use
-- (through search_path), where information_schema would also see tables of
-- other schemas. The column keeps DuckDB's name for its count(*) > 0.
SELECT to_regclass('schema_migrations') IS NOT NULL AS "(count_star() > 0)";
