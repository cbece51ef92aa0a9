-- Flow control (README "Journeys"): what happened to each matched start of a workflow with
-- `settings.throttle` / `settings.concurrency`, listed with the event that matched, and how
-- many starts wait for a concurrency slot per workflow.
CREATE TABLE flow_decisions (
    execution_id text NOT NULL,
    decision     text NOT NULL,
    workspace_id text NOT NULL,
    workflow_id  text NOT NULL,
    event_id     text,
    flow_key     text NOT NULL,
    reason       text NOT NULL,
    decided_at   timestamptz NOT NULL,
    PRIMARY KEY (execution_id, decision)
);
CREATE INDEX flow_decisions_event ON flow_decisions (event_id);
ALTER TABLE workflow_stats ADD COLUMN waiting bigint NOT NULL DEFAULT 0;
