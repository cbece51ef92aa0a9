-- Read models. Every table that holds state is rebuilt by replaying topics
-- (fluxo replay); only projection_offsets says how far each projection got.

CREATE TABLE projection_offsets (
    projection   text    NOT NULL,
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint  NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);

CREATE TABLE workspaces (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    plan        text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE users (
    id             text PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    username       text NOT NULL UNIQUE,
    password_hash  text NOT NULL,
    is_active      boolean NOT NULL,
    created_at     timestamptz NOT NULL
);

CREATE TABLE memberships (
    user_id       text NOT NULL,
    workspace_id  text NOT NULL,
    role          text NOT NULL,
    PRIMARY KEY (user_id, workspace_id)
);

CREATE TABLE workflows (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    version       integer NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL,
    status        text NOT NULL,
    trigger_type  text NOT NULL,
    project       text,
    snapshot      jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX workflows_workspace ON workflows (workspace_id, updated_at DESC);

CREATE TABLE workflow_versions (
    workflow_id   text NOT NULL,
    version       integer NOT NULL,
    workspace_id  text NOT NULL,
    snapshot      jsonb NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE executions (
    id                text PRIMARY KEY,
    workspace_id      text NOT NULL,
    workflow_id       text NOT NULL,
    workflow_version  integer NOT NULL,
    workflow_name     text NOT NULL,
    status            text NOT NULL,
    trigger_type      text NOT NULL,
    event_id          text,
    subject           text,
    performed_by      text NOT NULL,
    -- node id -> {name, type} of the pinned version, for naming steps on read
    nodes             jsonb NOT NULL DEFAULT '{}',
    input_data        jsonb NOT NULL,
    output_data       jsonb,
    error_message     text,
    failed_node       text,
    execution_path    jsonb NOT NULL DEFAULT '[]',
    nodes_executed    integer NOT NULL DEFAULT 0,
    nodes_success     integer NOT NULL DEFAULT 0,
    nodes_failed      integer NOT NULL DEFAULT 0,
    started_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    duration_ms       double precision
);
CREATE INDEX executions_workspace_started ON executions (workspace_id, started_at DESC);
CREATE INDEX executions_workflow ON executions (workflow_id, started_at DESC);

CREATE TABLE execution_steps (
    execution_id  text NOT NULL,
    node_id       text NOT NULL,
    attempt       integer NOT NULL,
    workspace_id  text NOT NULL,
    node_type     text NOT NULL,
    status        text NOT NULL,
    input_data    jsonb,
    output_data   jsonb,
    error         jsonb,
    seq           bigint NOT NULL,
    scheduled_at  timestamptz,
    started_at    timestamptz,
    completed_at  timestamptz,
    duration_ms   double precision,
    PRIMARY KEY (execution_id, node_id, attempt)
);

CREATE TABLE event_logs (
    id                 text PRIMARY KEY,
    workspace_id       text NOT NULL,
    event_type         text NOT NULL,
    user_id            text,
    conversation_id    text,
    data               jsonb NOT NULL,
    matched_workflows  integer NOT NULL,
    evaluations        jsonb NOT NULL,
    received_at        timestamptz NOT NULL
);
CREATE INDEX event_logs_workspace ON event_logs (workspace_id, received_at DESC);

-- Counters kept incrementally by the projection (never recomputed by scans).
CREATE TABLE workflow_stats (
    workflow_id        text PRIMARY KEY,
    workspace_id       text NOT NULL,
    executions_total   bigint NOT NULL DEFAULT 0,
    successes          bigint NOT NULL DEFAULT 0,
    failures           bigint NOT NULL DEFAULT 0,
    total_duration_ms  double precision NOT NULL DEFAULT 0,
    fastest_ms         double precision,
    slowest_ms         double precision,
    last_status        text,
    last_execution_at  timestamptz
);

CREATE TABLE workflow_daily_stats (
    workflow_id   text NOT NULL,
    day           date NOT NULL,
    workspace_id  text NOT NULL,
    executions    bigint NOT NULL DEFAULT 0,
    successes     bigint NOT NULL DEFAULT 0,
    failures      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, day)
);
