-- The SSRF allow-list of each workspace, for checks the API makes itself
-- (POST /integrations/{id}/test).
ALTER TABLE workspaces ADD COLUMN allowed_hosts text[] NOT NULL DEFAULT '{}';
