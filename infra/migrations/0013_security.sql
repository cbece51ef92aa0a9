-- Security and tenancy (issue 7): people's profiles and preferences, API keys,
-- invitations, and two tables of operational security state.

-- A user's records are all keyed under one workspace (`{ws}:user:{id}`) so they stay
-- in one partition, in order: the projection remembers which one.
ALTER TABLE users ADD COLUMN home_workspace_id text;
ALTER TABLE users ADD COLUMN first_name text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_name text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN profile jsonb NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}';

ALTER TABLE workspaces ADD COLUMN created_by text;

CREATE INDEX memberships_workspace ON memberships (workspace_id);

CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    name          text NOT NULL,
    prefix        text NOT NULL UNIQUE,
    digest        text NOT NULL,
    role          text NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    revoked_by    text
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at DESC);

CREATE TABLE invitations (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    email         text NOT NULL,
    role          text NOT NULL,
    token_digest  text NOT NULL UNIQUE,
    invited_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    accepted_by   text,
    revoked_at    timestamptz
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, created_at DESC);

-- Operational state written directly by the API, not read models: replay leaves them
-- alone (projections/replay.py SKIPPED_TABLES). Login failures are per identifier and
-- short-lived, and the last use of a key changes on nearly every request: neither is a
-- fact worth a Kafka record.
CREATE TABLE api_key_usage (
    key_id        text PRIMARY KEY,
    last_used_at  timestamptz NOT NULL
);

CREATE TABLE login_failures (
    identifier         text PRIMARY KEY,
    failures           integer NOT NULL,
    window_started_at  timestamptz NOT NULL,
    locked_until       timestamptz
);
