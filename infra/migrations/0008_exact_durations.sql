-- Summed durations in exact arithmetic: a float sum depends on the order the
-- records are applied in, so a replay (a different interleaving of
-- partitions) would not reproduce it bit for bit.
ALTER TABLE workflow_stats ALTER COLUMN total_duration_ms TYPE numeric USING total_duration_ms::numeric;
