-- Workspace data tables (seed 004's create_record into `taches`): rows written
-- by create_record nodes, projected from the executions topic.
CREATE TABLE data_records (
    workspace_id  text NOT NULL,
    table_name    text NOT NULL,
    id            text NOT NULL,
    data          jsonb NOT NULL,
    execution_id  text NOT NULL,
    node_id       text NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, table_name, id)
);
CREATE INDEX data_records_data ON data_records USING gin (data jsonb_path_ops);
CREATE INDEX data_records_recent ON data_records (workspace_id, table_name, created_at DESC);
