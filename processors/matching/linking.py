"""Seed 003's reusable triggers and actions, attached to workflows by reference. Pure.

* `match_linked`: which attached trigger (if any) an event fires for a workflow: an
  active trigger whose type is the event's type (case-insensitive), whose filters and
  the link's `specific_conditions` hold; the highest priority wins.
* `api_call` triggers with an `event_type` fire like event triggers, but only on events
  that came in through the API (POST /triggers/process_event: an envelope source
  `urn:fluxo:api/...`), never on those workflows emit themselves or direct producers write.
* `run_trigger`: which attached `manual` (or event-less `api_call`) trigger a run of
  POST /workflows/{id}/execute is attributed to; `trigger_webhook_id` and
  `webhook_trigger`: the inbound webhook an attached `webhook` trigger gives a workflow.
* `compile_actions`: the workflow as it runs, its attached active actions turned into
  action nodes (in `order`, with their configuration and own delay). The matcher pins
  this snapshot in `execution.started`, so editing an action later never changes an
  execution that already started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from processors.engine.graph import derived_edge_id
from processors.expressions.conditions import ConditionError, evaluate_condition
from processors.matching.condition_refs import inline_conditions
from schemas.envelope import SOURCE_PREFIX, deterministic_id
from schemas.records import ActionDefined, TriggerDefined
from schemas.workflow import Edge, Node, NodeType, TriggerRef, WorkflowSnapshot

# Seed 003's event types, stored in upper case.
EVENT_TYPES: Final = (
    "MESSAGE_RECEIVED",
    "MESSAGE_SENT",
    "USER_CREATED",
    "USER_UPDATED",
    "CONVERSATION_CREATED",
    "CONVERSATION_CLOSED",
    "CONVERSATION_STATUS_CHANGED",
    "TAG_ADDED",
    "TAG_REMOVED",
    "NOTE_ADDED",
    "SCHEDULED",
)
# Trigger kinds that are not an event code, stored in lower case. `event` names its code
# in `event_type` (any code, for producers' own event types).
TRIGGER_KINDS: Final = ("event", "webhook", "cron", "manual", "api_call")
# Action types whose wait is their configuration: their own `delay` is not added on top.
_WAIT_ACTIONS: Final = frozenset({"wait", "delay", "sleep"})
TRIGGER_NODE_ID: Final = "trigger"
# Kinds a manual run (POST /workflows/{id}/execute) is attributed to.
RUN_KINDS: Final = ("manual", "api_call")
# Where events ingested by the API come from (schemas.envelope source): what api_call triggers hear.
API_SOURCE_PREFIX: Final = f"{SOURCE_PREFIX}api/"


def normalize_trigger_type(value: str) -> str | None:
    """The stored spelling of a trigger type (MESSAGE_RECEIVED, webhook, ...), None if unknown."""
    text = value.strip()
    if text.upper() in EVENT_TYPES:
        return text.upper()
    if text.lower() in TRIGGER_KINDS:
        return text.lower()
    return None


def listens_to(trigger: TriggerDefined) -> str | None:
    """The event code a trigger fires on, upper case; None for webhook/cron/manual, and for
    an api_call trigger without an event_type (started by POST /workflows/{id}/execute)."""
    if trigger.trigger_type in ("event", "api_call"):
        return trigger.event_type.upper() if trigger.event_type else None
    if trigger.trigger_type in TRIGGER_KINDS:
        return None
    return trigger.trigger_type.upper()


@dataclass(frozen=True)
class LinkedMatch:
    ref: TriggerRef
    trigger: TriggerDefined


def link_problem(
    ref: TriggerRef, trigger: TriggerDefined | None, workspace_id: str, event_type: str, context: Mapping[str, Any],
    source: str = "",
) -> str | None:
    """None when this attached trigger fires for the event (written by `source`); otherwise
    why it does not."""
    if trigger is None or trigger.deleted or trigger.workspace_id != workspace_id:
        return f"trigger {ref.trigger_id} no longer exists"
    if not trigger.is_active:
        return f"trigger {trigger.name!r} is inactive"
    wanted = listens_to(trigger)
    if wanted is None:
        return f"trigger {trigger.name!r} is a {trigger.trigger_type} trigger"
    if wanted.casefold() != event_type.casefold():
        return f"trigger {trigger.name!r} listens to {wanted}, not {event_type}"
    if trigger.trigger_type == "api_call" and not source.startswith(API_SOURCE_PREFIX):
        return f"trigger {trigger.name!r} is an api_call trigger: it fires on {wanted} events sent through the API, not from {source or 'elsewhere'}"
    for label, spec in (("filters", trigger.filters), ("specific_conditions", ref.specific_conditions)):
        if not spec:
            continue
        try:
            if not evaluate_condition(spec, context):
                return f"trigger {trigger.name!r}: {label} did not match"
        except ConditionError as exc:
            return f"trigger {trigger.name!r}: {label} are invalid: {exc}"
    return None


def match_linked(
    workflow: WorkflowSnapshot, event_type: str, context: Mapping[str, Any], triggers: Mapping[str, TriggerDefined],
    source: str = "",
) -> tuple[LinkedMatch | None, str]:
    """The highest-priority attached trigger that fires, or None and why none does."""
    reasons: list[str] = []
    for ref in sorted(workflow.triggers, key=lambda r: (-r.priority, r.trigger_id)):
        trigger = triggers.get(ref.trigger_id)
        problem = link_problem(ref, trigger, workflow.workspace_id, event_type, context, source)
        if problem is None:
            assert trigger is not None
            return LinkedMatch(ref, trigger), "matched"
        reasons.append(problem)
    return None, "; ".join(reasons) if reasons else "no trigger attached"


def run_trigger(
    workflow: WorkflowSnapshot, triggers: Mapping[str, TriggerDefined], wanted: str | None = None,
) -> tuple[LinkedMatch | None, str | None]:
    """The attached trigger a manual run is attributed to, and None; or None and why the
    trigger asked for (`wanted`) cannot start it.

    Without `wanted`: the highest-priority active attached `manual` trigger (or `api_call`
    one without an event_type), else none (the run is still allowed, unattributed).
    """
    for ref in sorted(workflow.triggers, key=lambda r: (-r.priority, r.trigger_id)):
        trigger = triggers.get(ref.trigger_id)
        if wanted is not None and ref.trigger_id != wanted:
            continue
        if trigger is None or trigger.deleted or trigger.workspace_id != workflow.workspace_id:
            if wanted is not None:
                return None, f"trigger {wanted} no longer exists"
            continue
        runs = trigger.trigger_type in RUN_KINDS and listens_to(trigger) is None
        if wanted is not None and not runs:
            how = "fires on its events" if listens_to(trigger) else f"is a {trigger.trigger_type} trigger"
            return None, f"trigger {trigger.name!r} {how}; only a manual or api_call trigger starts a manual run"
        if wanted is not None and not trigger.is_active:
            return None, f"trigger {trigger.name!r} is inactive"
        if runs and trigger.is_active:
            return LinkedMatch(ref, trigger), None
    if wanted is not None:
        return None, f"trigger {wanted} is not attached to this workflow"
    return None, None


def trigger_webhook_id(workflow_id: str, trigger_id: str) -> str:
    """The id of the inbound webhook an attached `webhook` trigger gives a workflow: one per
    (workflow, trigger), so attaching again finds the same webhook."""
    return deterministic_id("trigger-webhook", workflow_id, trigger_id)


def webhook_trigger(workflow: WorkflowSnapshot, webhook_id: str | None) -> TriggerRef | None:
    """The attached trigger whose webhook `webhook_id` is, if it is one."""
    if not webhook_id:
        return None
    return next((r for r in workflow.triggers if trigger_webhook_id(workflow.id, r.trigger_id) == webhook_id), None)


def trigger_context(match: LinkedMatch) -> dict[str, Any]:
    """What an execution started through an attached trigger says about it (`context.trigger`)."""
    trigger = match.trigger
    return {"id": trigger.id, "name": trigger.name, "type": trigger.trigger_type,
            "version": trigger.version, "priority": match.ref.priority}


def link_priority(workflow: WorkflowSnapshot) -> int | None:
    """The highest priority among a workflow's attached triggers (None without any)."""
    return max((r.priority for r in workflow.triggers), default=None)


def action_node_id(action_id: str) -> str:
    return f"action-{action_id}"[:100]


def action_node(action: ActionDefined, order: int) -> Node:
    config: dict[str, Any] = {**action.configuration, "action_type": action.action_type, "order": order}
    if action.action_type in _WAIT_ACTIONS:
        pass  # a wait's duration is its configuration
    elif action.delay > 0:
        config["delay"] = action.delay  # waited (durably) before the action runs
    else:
        config.pop("delay", None)
    return Node(id=action_node_id(action.id), name=action.name, node_type=NodeType.ACTION, config=config)


def attached_actions(
    workflow: WorkflowSnapshot, actions: Mapping[str, ActionDefined]
) -> list[tuple[int, ActionDefined]]:
    """The attached actions that exist and are active, with their effective order, in order."""
    found: list[tuple[int, int, ActionDefined]] = []
    for index, ref in enumerate(workflow.actions):
        action = actions.get(ref.action_id)
        if action is None or action.deleted or not action.is_active or action.workspace_id != workflow.workspace_id:
            continue
        found.append((ref.order if ref.order is not None else action.order, index, action))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(order, action) for order, _, action in found]


def compile_actions(
    workflow: WorkflowSnapshot,
    actions: Mapping[str, ActionDefined],
    trigger: TriggerDefined | None = None,
) -> WorkflowSnapshot:
    """The snapshot an execution pins: attached actions become action nodes.

    Reusable conditions a node references are inlined from their pins (condition_refs).
    Without edges (seed 003's linear lists) the nodes run one after the other in
    `config.order` after a trigger node (added when the workflow has none). With a
    graph, the actions run after it: chained from every node that has no outgoing edge.
    """
    if not workflow.actions:
        return inline_conditions(workflow)
    taken = {n.id for n in workflow.nodes}
    compiled = [action_node(action, order) for order, action in attached_actions(workflow, actions)]
    compiled = [n for n in compiled if n.id not in taken]
    nodes = list(workflow.nodes)
    edges = list(workflow.edges)
    if not edges:
        if not any(n.node_type == NodeType.TRIGGER for n in nodes) and TRIGGER_NODE_ID not in taken:
            name = trigger.name if trigger is not None else "Trigger"
            nodes.insert(0, Node(id=TRIGGER_NODE_ID, name=name, node_type=NodeType.TRIGGER))
        nodes.extend(compiled)
    else:
        sources = {e.source_node for e in edges}
        sinks = [n.id for n in nodes if n.id not in sources]
        if compiled:
            edges += [Edge(id=derived_edge_id("actions", s, compiled[0].id), source_node=s, target_node=compiled[0].id) for s in sinks]
            edges += [Edge(id=derived_edge_id("actions", a.id, b.id), source_node=a.id, target_node=b.id) for a, b in pairwise(compiled)]
        nodes.extend(compiled)
    return inline_conditions(workflow.model_copy(update={"nodes": tuple(nodes), "edges": tuple(edges)}))
