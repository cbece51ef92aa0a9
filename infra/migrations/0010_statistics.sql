-- Statistics served by the dashboard and statistics endpoints, kept
-- incrementally by the projection (never recomputed by scanning executions).
--
-- Executions are bucketed by the hour they started in: "today", "this week",
-- "last 30 days" and per-day series are sums over at most a few hundred rows,
-- in any time zone with whole-hour offsets.
CREATE TABLE execution_hourly_stats (
    workflow_id   text NOT NULL,
    hour          timestamptz NOT NULL,
    workspace_id  text NOT NULL,
    started       bigint NOT NULL DEFAULT 0,
    completed     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    cancelled     bigint NOT NULL DEFAULT 0,
    -- summed over completed and failed executions, exact (see 0008)
    duration_ms   numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, hour)
);
CREATE INDEX execution_hourly_stats_workspace ON execution_hourly_stats (workspace_id, hour);

-- Per node of a workflow: every attempt of every execution.
CREATE TABLE node_stats (
    workflow_id       text NOT NULL,
    node_id           text NOT NULL,
    workspace_id      text NOT NULL,
    node_type         text NOT NULL,
    executions        bigint NOT NULL DEFAULT 0,
    successes         bigint NOT NULL DEFAULT 0,
    failures          bigint NOT NULL DEFAULT 0,
    duration_ms       numeric NOT NULL DEFAULT 0,
    fastest_ms        double precision,
    slowest_ms        double precision,
    last_executed_at  timestamptz,
    PRIMARY KEY (workflow_id, node_id)
);

-- Replaced by the hourly buckets (which are by start time, like "executions today").
DROP TABLE workflow_daily_stats;

-- Lists filtered by status and by node result, and retention by age.
CREATE INDEX executions_workspace_status ON executions (workspace_id, status, started_at DESC);
CREATE INDEX executions_completed ON executions (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX execution_steps_workspace ON execution_steps (workspace_id, node_type, status);

-- All executions started, next to the outcome counters (running = started - ended).
ALTER TABLE workflow_stats ADD COLUMN started bigint NOT NULL DEFAULT 0;
