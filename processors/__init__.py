"""Stream processors: trigger matching, workflow execution and their pure helpers."""
