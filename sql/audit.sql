-- The audit trail: one row per create, update, delete and restore of any entity,
-- written in the same transaction as the change it records.

-- name: insert_audit_entry(entity, entity_id, action, changes)!
-- Records one change. changes is a JSON object (see 0001_initial.sql).
INSERT INTO audit_log (entity, entity_id, action, changes)
VALUES (:entity, :entity_id, :action, :changes);

-- name: insert_audit_entries(entity, entity_ids, action, changes)!
-- Records the same change for many rows of one entity at once (cascades).
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT :entity, entity_id, :action, :changes
FROM unnest(CAST(:entity_ids AS BIGINT[])) AS ids (entity_id);

-- name: audit_history(entity, entity_id)
-- Every recorded change of one row, oldest first.
SELECT id, entity, entity_id, action, changes, "at"
FROM audit_log
WHERE entity = :entity
  AND entity_id = :entity_id
ORDER BY id;

-- name: next_ids(sequence_name, n)^
-- Draws n ids from a table's sequence, for bulk inserts that must know ids
-- before writing (to audit them and keep input order): one list, ascending
-- (one value crosses into Python instead of n rows).
SELECT list(id ORDER BY id) AS ids
FROM (SELECT nextval(:sequence_name) AS id FROM range(:n));

-- name: insert_staged_audit_entries()!
-- Records many changes at once from the Arrow table registered as
-- staged_audit_entries (entity, entity_id, action, changes as JSON text).
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT entity, entity_id, action, changes::JSON
FROM staged_audit_entries;
