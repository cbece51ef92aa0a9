-- Counters behind /metrics (seed 001's automation_* metrics), kept by the
-- projection as node results arrive, so a scrape never scans the history.
CREATE TABLE connector_metrics (
    workspace_id    text NOT NULL,
    connector_type  text NOT NULL,
    status          text NOT NULL,
    workflow_id     text NOT NULL,
    count           bigint NOT NULL DEFAULT 0,
    duration_sum    numeric NOT NULL DEFAULT 0,
    -- cumulative-bucket counts for the duration histogram (seconds, see METRIC_BUCKETS)
    buckets         bigint[] NOT NULL,
    PRIMARY KEY (workspace_id, connector_type, status, workflow_id)
);
