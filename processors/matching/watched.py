"""Which event types a workspace's workflows watch, and how far back. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.workflow import NodeType, WorkflowSnapshot


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return 0.0
    return float(value)


def watched_types(workflows: Iterable[WorkflowSnapshot]) -> tuple[dict[str, float], dict[str, float]]:
    """(event type -> longest lookback) for waits on the contact's own events (and exit rules
    and goals, lookback 0), and for waits on any contact's (`any_subject`)."""
    own: dict[str, float] = {}
    anyone: dict[str, float] = {}
    for workflow in workflows:
        for node in workflow.nodes:
            if node.node_type != NodeType.WAIT_FOR_EVENT:
                continue
            event_type = node.config.get("event_type")
            if not isinstance(event_type, str) or "{{" in event_type:
                continue  # a templated type is known at run time only: its watch keeps the grace window
            target = anyone if node.config.get("any_subject") else own
            target[event_type] = max(target.get(event_type, 0.0), _seconds(node.config.get("lookback_seconds")))
        for rule in workflow.settings.exit_when:
            own.setdefault(rule.event_type, 0.0)
        if workflow.settings.goal is not None:
            own.setdefault(workflow.settings.goal.event_type, 0.0)
    return own, anyone
