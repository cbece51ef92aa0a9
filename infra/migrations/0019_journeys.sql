-- Journeys (README "Journeys"): an execution converted by its workflow's goal, counted
-- per workflow and per hour of the execution's start (like every other counter).
ALTER TABLE executions ADD COLUMN converted_at timestamptz;
ALTER TABLE workflow_stats ADD COLUMN conversions bigint NOT NULL DEFAULT 0;
ALTER TABLE execution_hourly_stats ADD COLUMN converted bigint NOT NULL DEFAULT 0;
