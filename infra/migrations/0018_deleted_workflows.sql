-- Workflow deletions as a fact the projection keeps. Deleting a workflow removes its
-- executions and counters; the executions topic and the definitions topic are read
-- in no fixed order relative to each other (a replay interleaves them otherwise than
-- the live projection did), so a record of such an execution can arrive after the
-- deletion. With this row it is counted nowhere and stored nowhere, whatever the
-- order: an execution that pinned a version at or below `version` is dropped.
CREATE TABLE deleted_workflows (
    workflow_id  text NOT NULL,
    workspace_id text NOT NULL,
    version      integer NOT NULL,
    deleted_at   timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, workspace_id)
);
