-- Who did what through the API, projected from fluxo.api_call.audited.v1 on the
-- audit topic. Rows come only from records (id = the record's id), so a replay
-- yields the same rows. workspace_id '' holds calls tied to no workspace
-- (unknown webhook tokens, failed logins of unknown people): no one lists them.
CREATE TABLE audit_logs (
    id                text PRIMARY KEY,
    workspace_id      text NOT NULL,
    occurred_at       timestamptz NOT NULL,
    actor_type        text NOT NULL,
    actor_user_id     text,
    actor_email       text,
    actor_api_key_id  text,
    action            text NOT NULL,
    method            text NOT NULL,
    route             text NOT NULL,
    resource_type     text,
    resource_id       text,
    status_code       integer NOT NULL,
    outcome           text NOT NULL,
    client_ip         text,
    user_agent        text,
    request_id        text NOT NULL,
    duration_ms       double precision NOT NULL,
    changed_fields    text[] NOT NULL
);
-- The listing is newest first within a workspace; the common filters narrow it further.
CREATE INDEX audit_logs_listing ON audit_logs (workspace_id, occurred_at DESC, id);
CREATE INDEX audit_logs_actor ON audit_logs (workspace_id, actor_user_id, occurred_at DESC);
CREATE INDEX audit_logs_resource ON audit_logs (workspace_id, resource_id, occurred_at DESC);
