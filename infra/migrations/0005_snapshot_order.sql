-- Keep definition snapshots as written: jsonb reorders object keys, and the
-- order of a user's mapping (sheet columns, payload fields) is meaningful.
ALTER TABLE workflows ALTER COLUMN snapshot TYPE json USING snapshot::json;
ALTER TABLE workflow_versions ALTER COLUMN snapshot TYPE json USING snapshot::json;
ALTER TABLE integrations ALTER COLUMN config TYPE json USING config::json;
