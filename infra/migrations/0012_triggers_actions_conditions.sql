-- Seed 003's reusable definitions: triggers, actions, conditions. Each row is the
-- latest snapshot of its record (fluxo.{trigger,action,condition}.defined.v1);
-- the filter columns serve the list endpoints, the snapshot serves the rest.
CREATE TABLE triggers (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    version       integer NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    trigger_type  text NOT NULL,
    is_active     boolean NOT NULL,
    snapshot      json NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX triggers_workspace ON triggers (workspace_id, trigger_type);

CREATE TABLE actions (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    version       integer NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    action_type   text NOT NULL,
    is_active     boolean NOT NULL,
    workflow_id   text,
    sort_order    integer NOT NULL DEFAULT 0,
    snapshot      json NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX actions_workspace ON actions (workspace_id, action_type);

CREATE TABLE conditions (
    id               text PRIMARY KEY,
    workspace_id     text NOT NULL,
    version          integer NOT NULL,
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    use_custom_code  boolean NOT NULL,
    is_active        boolean NOT NULL,
    snapshot         json NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX conditions_workspace ON conditions (workspace_id);
