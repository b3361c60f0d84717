-- Copies of the whole database: engine.snapshot() and the command line's
-- snapshot, export and import (project_architect_db/core/snapshot.py runs them).
--
-- A snapshot is one worker-thread hop on one pooled connection:
--   snapshot_source_database        the name DuckDB gives this database (its catalog)
--   attach_snapshot_target          create the copy's file (under a temporary name)
--   BEGIN                           one transaction: one MVCC snapshot of every table
--   copy_database_to_snapshot       schema, sequences and rows into the copy
--   snapshot_tables + a count(*)    what the copy holds, table by table
--   COMMIT
--   detach_snapshot_target          close the copy (also after a failure); closing
--                                   checkpoints it, so no .wal is left beside it
-- and the library then renames the file to the name the caller asked for. The
-- live database keeps serving reads and writes meanwhile: DuckDB's MVCC lets the
-- copy read the moment its transaction began while other connections commit.
--
-- The alias snapshot_target is fixed, and an attached database is visible to every
-- connection of the DuckDB instance, so one engine takes one snapshot at a time.

-- name: snapshot_source_database()$
-- The catalog name of the engine's database: the file name without its
-- extension, or "memory" for :memory:. COPY FROM DATABASE needs it.
SELECT current_database();

-- name: attach_snapshot_target(path)!
-- Creates and opens the copy's file as the catalog snapshot_target. The path is
-- a bound parameter (DuckDB accepts one here). READ_WRITE: an engine opened
-- read_only would otherwise attach the new file read-only too, and fail.
ATTACH :path AS snapshot_target (TYPE duckdb, READ_WRITE);

-- name: copy_database_to_snapshot()!
-- Copies every schema, type, sequence (at its current value, so the copy's next
-- id follows the last one used), table with its defaults and constraints, index
-- and row of the engine's database into the copy, in the caller's transaction.
-- snapshot_source stands for the catalog name from snapshot_source_database:
-- an identifier cannot be a parameter, so the library puts it in as a quoted
-- identifier ("name", double quotes doubled).
COPY FROM DATABASE snapshot_source TO snapshot_target;

-- name: snapshot_tables(database)
-- The tables of one attached database (snapshot_target, or the engine's own for
-- export and import), in name order, for counting their rows.
SELECT schema_name, table_name
FROM duckdb_tables()
WHERE database_name = :database
  AND NOT temporary
ORDER BY schema_name, table_name;

-- name: detach_snapshot_target()!
-- Closes the copy's file, which writes everything committed into it (a
-- checkpoint: no write-ahead log is left beside it; the library checks). Runs
-- after a failure or cancellation too (IF EXISTS: the attach may not have
-- happened). A separate CHECKPOINT snapshot_target would do the same, but
-- check-sql could not prepare it (the alias does not exist there).
DETACH DATABASE IF EXISTS snapshot_target;

-- name: export_database_parquet()!
-- The command line's export: every table as a Parquet file, plus schema.sql and
-- load.sql, in a new directory. DuckDB's parser takes no parameter for the
-- directory, so the library puts it in for 'export_directory' as a SQL string
-- literal (single quotes doubled). Run on an engine opened read_only.
EXPORT DATABASE 'export_directory' (FORMAT parquet);

-- name: export_database_csv()!
-- The same as export_database_parquet, with one CSV file (with a header line)
-- per table: readable by any tool, and still an exact round trip with import.
EXPORT DATABASE 'export_directory' (FORMAT csv);

-- name: import_database()!
-- The command line's import: runs an export directory's schema.sql and load.sql
-- (DuckDB reads the data files from the directory given, wherever it was
-- written). The library runs it inside one transaction, so a failure leaves the
-- database as empty as it was, and puts the directory in for 'import_directory'
-- as a quoted string literal (no parameter is accepted here either).
IMPORT DATABASE 'import_directory';

-- name: checkpoint_database()!
-- Writes an import's committed rows into the database file itself (no .wal
-- left beside it), before the library gives the file its final name.
CHECKPOINT;

-- name: database_has_tables()$
-- Whether the engine's database holds any table; import refuses one that does.
SELECT count(*) > 0
FROM duckdb_tables()
WHERE database_name = current_database()
  AND NOT temporary;
