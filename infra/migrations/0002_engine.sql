-- Engine: loop iterations, retries with backoff, cancel and retry-from-node.

-- A loop body node runs once per iteration; -1 means "not in a loop" so the
-- key stays a plain primary key.
ALTER TABLE execution_steps ADD COLUMN iteration integer NOT NULL DEFAULT -1;
ALTER TABLE execution_steps DROP CONSTRAINT execution_steps_pkey;
ALTER TABLE execution_steps ADD PRIMARY KEY (execution_id, node_id, attempt, iteration);
-- Set when a failed attempt is to be retried after a backoff.
ALTER TABLE execution_steps ADD COLUMN retry_at timestamptz;

ALTER TABLE executions ADD COLUMN retry_of text;
ALTER TABLE executions ADD COLUMN resume_from text;
ALTER TABLE executions ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE executions ADD COLUMN cancel_reason text;
-- The context the execution started with, so retry-from-node can start again from it.
ALTER TABLE executions ADD COLUMN context jsonb NOT NULL DEFAULT '{}';
ALTER TABLE executions ADD COLUMN failure_notified text;

ALTER TABLE workflow_stats ADD COLUMN cancellations bigint NOT NULL DEFAULT 0;
CREATE INDEX executions_retry_of ON executions (retry_of) WHERE retry_of IS NOT NULL;
