-- Inbound webhooks (seed 002) and the log of their calls. Both come only from
-- records: webhooks from fluxo.webhook.defined.v1 on the definitions topic,
-- webhook_logs from fluxo.webhook.called.v1 on the trigger-log topic.
-- A deleted webhook stays as a row with deleted = true, so a call record
-- projected after the deletion (another topic, another order on replay)
-- lands the same way whatever the order.
CREATE TABLE webhooks (
    id                        text PRIMARY KEY,
    workspace_id              text NOT NULL,
    version                   integer NOT NULL,
    name                      text NOT NULL,
    description               text NOT NULL DEFAULT '',
    workflow_id               text NOT NULL,
    token                     text NOT NULL,
    methods                   text[] NOT NULL,
    auth_mode                 text NOT NULL,
    -- AES-GCM sealed HMAC secret (never the secret itself)
    sealed                    text,
    response_mode             text NOT NULL,
    response_timeout_seconds  double precision NOT NULL,
    is_active                 boolean NOT NULL,
    deleted                   boolean NOT NULL DEFAULT false,
    created_by                text,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id, created_at, id) WHERE NOT deleted;
CREATE INDEX webhooks_token ON webhooks (token) WHERE NOT deleted;
CREATE INDEX webhooks_workflow ON webhooks (workspace_id, workflow_id) WHERE NOT deleted;

CREATE TABLE webhook_logs (
    id                  text PRIMARY KEY,
    workspace_id        text NOT NULL,
    webhook_id          text NOT NULL,
    workflow_id         text NOT NULL,
    execution_id        text,
    test                boolean NOT NULL,
    method              text NOT NULL,
    path                text NOT NULL,
    query               jsonb NOT NULL,
    headers             jsonb NOT NULL,
    request_body        jsonb,
    request_size        integer NOT NULL,
    request_truncated   boolean NOT NULL,
    response_status     integer NOT NULL,
    response_body       jsonb,
    response_truncated  boolean NOT NULL,
    duration_ms         double precision NOT NULL,
    outcome             text NOT NULL,
    error               text,
    success             boolean NOT NULL,
    received_at         timestamptz NOT NULL
);
-- The log listing: one webhook's calls, newest first, optionally by success or status.
CREATE INDEX webhook_logs_listing ON webhook_logs (webhook_id, received_at DESC, id);
CREATE INDEX webhook_logs_status ON webhook_logs (webhook_id, response_status, received_at DESC);
