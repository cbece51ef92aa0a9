-- Integrations: the plain configuration only. Sealed secrets stay in the
-- definitions topic and in the processors' memory; the read model records
-- which secret fields are configured, never their values.
CREATE TABLE integrations (
    id             text PRIMARY KEY,
    workspace_id   text NOT NULL,
    version        integer NOT NULL,
    name           text NOT NULL,
    type           text NOT NULL,
    provider       text NOT NULL,
    description    text NOT NULL DEFAULT '',
    config         jsonb NOT NULL,
    settings       jsonb NOT NULL,
    secret_fields  text[] NOT NULL DEFAULT '{}',
    sealed         text,
    is_active      boolean NOT NULL,
    test_mode      boolean NOT NULL,
    created_by     text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    calls_total    bigint NOT NULL DEFAULT 0,
    calls_failed   bigint NOT NULL DEFAULT 0,
    last_used_at   timestamptz,
    last_error     text
);
CREATE INDEX integrations_workspace ON integrations (workspace_id, type);
