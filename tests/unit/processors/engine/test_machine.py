"""The execution state machine, without Kafka: the same `advance` the executor runs.

Most tests drive whole executions through `simulate` (virtual clock, a stand-in
for node workers); a few step `advance` by hand to pin exact record sequences,
and a property-based test delivers records in random orders with duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.engine.machine import advance, result_id
from processors.engine.policies import RetryPolicy
from processors.engine.simulate import Simulation, simulate
from schemas.codec import decode
from schemas.envelope import Envelope, RecordData, make_envelope
from schemas.records import (
    ExecutionCancelled,
    ExecutionCancelRequested,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionSteps,
    FailureNotified,
    NodeError,
    NodeFailed,
    NodeRetryScheduled,
    NodeScheduled,
    NodeSucceeded,
    NodeWorkOrdered,
    TimerCancelled,
    TimerFired,
    TimerScheduled,
)
from schemas.topics import EXECUTIONS, NODE_WORK, TIMERS
from schemas.workflow import Edge, Node, NodeType, Port, WorkflowSettings, WorkflowSnapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- building blocks ------------------------------------------------------------
def node(id: str, kind: str = "action", **config: Any) -> Node:
    return Node(id=id, node_type=NodeType(kind), config=config)


def hook(id: str, **extra: Any) -> Node:
    return node(id, "action", action_type="webhook", url=f"http://sink/{id}", **extra)


def edge(source: str, target: str, label: str | None = None, condition: str | None = None) -> Edge:
    return Edge(id=f"{source}->{target}", source_node=source, target_node=target, label=label, condition=condition)


def flow(nodes: list[Node], edges: list[Edge], **overrides: Any) -> WorkflowSnapshot:
    base: dict[str, Any] = {
        "id": "wf", "workspace_id": "ws", "version": 3, "name": "test flow", "created_at": T0, "updated_at": T0,
        "nodes": tuple(nodes), "edges": tuple(edges),
    }
    base.update(overrides)
    return WorkflowSnapshot(**base)


def slice_flow(**overrides: Any) -> WorkflowSnapshot:
    return flow(
        [
            node("t", "trigger"),
            node("c", "condition", condition="user.email.endsWith('@example.com')"),
            node("w", "action", action_type="webhook", url="http://x/h", payload={"e": "{{user.email}}"}),
        ],
        [edge("t", "c"), edge("c", "w", "true")],
        **overrides,
    )


def started(wf: WorkflowSnapshot, email: str = "ada@example.com", **extra: Any) -> ExecutionStarted:
    context = {"user": {"id": "u1", "email": email}, "event": {"data": {"items": ["a", "b", "c"]}}, "input_data": {"k": 1}}
    return ExecutionStarted(execution_id="ex", workflow=wf, trigger_type="event", context=context, **extra)


def ok(order: NodeWorkOrdered) -> dict[str, Any]:
    return {"sent": order.config.get("url"), "iteration": order.iteration}


def run(wf: WorkflowSnapshot, perform: Any = ok, **kwargs: Any) -> Simulation:
    return simulate(started(wf, **kwargs.pop("start", {})), workspace_id="ws", now=T0, perform=perform, **kwargs)


def of(sim: Simulation, kind: type) -> list[Any]:
    return [r for r in sim.records if isinstance(r, kind)]


def env(data: RecordData, rid: str | None = None) -> Envelope:
    return make_envelope(data, id=rid, source="test", workspace_id="ws", execution_id="ex", time=T0)


def decoded(outputs: list[Any]) -> list[tuple[str, RecordData]]:
    return [(o.topic.name, decode(o.value)[1]) for o in outputs]


# -- the slice, step by step ------------------------------------------------------
def test_start_runs_inline_nodes_and_orders_the_webhook_with_no_timeout_timer() -> None:
    """A workflow without timeout_seconds is not bounded: no timer is armed for it."""
    s = started(slice_flow())
    state, outputs = advance(None, env(s), s, T0)
    out = decoded(outputs)
    # The trigger's and the condition's results and the webhook's scheduling: one record (issue 17).
    assert [type(d).__name__ for _, d in out] == ["ExecutionSteps", "NodeWorkOrdered"]
    steps = out[0][1]
    assert isinstance(steps, ExecutionSteps) and out[0][0] == EXECUTIONS.name
    assert [type(r).__name__ for r in steps.records()] == ["NodeSucceeded", "NodeSucceeded", "NodeScheduled"]
    order = out[1][1]
    assert isinstance(order, NodeWorkOrdered) and out[1][0] == NODE_WORK.name
    assert order.config["payload"] == {"e": "ada@example.com"}
    assert order.idempotency_key == "ex:w:1"
    assert state is not None and state["status"] == "running" and state["timers"] == {}


def test_a_workflow_timeout_arms_its_timer_at_start() -> None:
    s = started(slice_flow(settings=WorkflowSettings(timeout_seconds=300)))
    _, outputs = advance(None, env(s), s, T0)
    out = decoded(outputs)
    assert [type(d).__name__ for _, d in out][-1] == "TimerScheduled"
    timer = out[-1][1]
    assert isinstance(timer, TimerScheduled) and out[-1][0] == TIMERS.name
    assert timer.purpose == "execution_timeout" and timer.fire_at == T0 + timedelta(seconds=300)


def test_worker_success_completes_and_reports_path_and_output() -> None:
    sim = run(slice_flow())
    assert sim.status == "completed"
    done = of(sim, ExecutionCompleted)[0]
    assert done.execution_path == ("t", "c", "w")
    assert done.output["sent"] == "http://x/h"
    assert done.workflow_version == 3
    assert not of(sim, TimerScheduled) and not of(sim, TimerCancelled)


def test_completion_cancels_the_timeout_timer() -> None:
    sim = run(slice_flow(settings=WorkflowSettings(timeout_seconds=300)))
    assert sim.status == "completed"
    assert [c.timer_id for c in of(sim, TimerCancelled)] == [t.timer_id for t in of(sim, TimerScheduled)]


def test_an_execution_that_ends_at_once_arms_no_timer() -> None:
    sim = run(slice_flow(), start={"email": "x@other.org"})
    assert sim.status == "completed"
    assert not of(sim, TimerScheduled) and not sim.work
    assert of(sim, ExecutionCompleted)[0].execution_path == ("t", "c")


@pytest.mark.parametrize("email,ordered", [("x@example.com", True), ("x@example.co", False), ("", False)])
def test_condition_table(email: str, ordered: bool) -> None:
    sim = run(slice_flow(), start={"email": email})
    assert bool(sim.work) is ordered
    assert sim.status == "completed"


# -- branching ----------------------------------------------------------------------
def branching(label_false: str = "false", **condition: Any) -> WorkflowSnapshot:
    cfg = condition or {"condition": "user.email.endsWith('@example.com')"}
    return flow(
        [node("t", "trigger"), node("c", "condition", **cfg), hook("yes"), hook("no")],
        [edge("t", "c"), edge("c", "yes", "true"), edge("c", "no", label_false)],
    )


@pytest.mark.parametrize("label", ["false", "no", "non", "faux", "invalid", "FALSE"])
def test_false_labelled_edge_is_taken_when_the_condition_fails(label: str) -> None:
    sim = run(branching(label), start={"email": "bob@elsewhere.org"})
    assert [w.node_id for w in sim.work] == ["no"]
    assert sim.status == "completed"


def test_true_branch_only_when_the_condition_holds() -> None:
    sim = run(branching())
    assert [w.node_id for w in sim.work] == ["yes"]


def test_true_path_and_false_path_in_the_condition_config() -> None:
    wf = flow(
        [node("t", "trigger"), node("c", "condition", condition="user.email == 'a@b.c'", true_path="yes", false_path="no"), hook("yes"), hook("no")],
        [edge("t", "c"), edge("c", "yes"), edge("c", "no")],
    )
    assert [w.node_id for w in run(wf, start={"email": "a@b.c"}).work] == ["yes"]
    assert [w.node_id for w in run(wf, start={"email": "z@b.c"}).work] == ["no"]


def test_edge_condition_in_cel_over_the_source_output() -> None:
    wf = flow(
        [node("t", "trigger"), hook("a"), hook("big"), hook("small")],
        [edge("t", "a"), edge("a", "big", condition="output.n > 10"), edge("a", "small", condition="nodes.a.n <= 10")],
    )
    assert [w.node_id for w in run(wf, perform=lambda o: {"n": 42}).work] == ["a", "big"]
    assert [w.node_id for w in run(wf, perform=lambda o: {"n": 3}).work] == ["a", "small"]


def test_an_edge_condition_over_a_missing_field_reads_null_and_is_not_taken() -> None:
    wf = flow([node("t", "trigger"), hook("a")], [edge("t", "a", condition="nodes.missing.field > 1")])
    sim = run(wf)
    assert not sim.work and sim.status == "completed"


def test_an_edge_condition_that_cannot_be_evaluated_fails_its_source_node() -> None:
    # Seed 004's `validation_result == true`, out of a node that outputs no such name.
    wf = flow([node("t", "trigger"), hook("a"), hook("b")], [edge("t", "a"), edge("a", "b", condition="validation_result == true")])
    sim = run(wf)
    assert [w.node_id for w in sim.work] == ["a"]
    assert sim.status == "failed"
    failure = of(sim, ExecutionFailed)[0]
    assert failure.failed_node == "a" and failure.error.code == "AUTO_007"
    assert "edge a->b" in failure.error.message and "validation_result" in failure.error.message


def test_an_edge_condition_error_out_of_a_worker_node_takes_its_error_edge_once() -> None:
    wf = flow([node("t", "trigger"), hook("a"), hook("b"), hook("c")],
              [edge("t", "a"), edge("a", "b", condition="nope == 1"), edge("a", "c", "error")])
    sim = run(wf)
    assert [w.node_id for w in sim.work] == ["a", "c"]
    assert sim.status == "completed"
    assert of(sim, ExecutionCompleted)[0].execution_path == ("t", "a", "c")
    assert sim.state is not None and sim.state["nodes"]["a"]["status"] == "failed"
    assert "edge a->b" in sim.state["nodes"]["a"]["output"]["error"]["message"]


def test_an_edge_condition_error_out_of_an_inline_node_fails_that_node_before_its_success() -> None:
    wf = flow([node("t", "trigger"), hook("a")], [edge("t", "a", condition="nope == 1")])
    sim = run(wf)
    assert sim.status == "failed" and not sim.work
    assert [d.node_id for d in of(sim, NodeFailed)] == ["t"]
    assert not [d for d in of(sim, NodeSucceeded) if d.node_id == "t"]


def test_an_edge_condition_error_takes_the_error_edge_when_there_is_one() -> None:
    wf = flow([node("t", "trigger"), node("c", "condition", condition="true"), hook("ok"), hook("oops")],
              [edge("t", "c"), edge("c", "ok", condition="1 + 'a' == 2"), edge("c", "oops", "error")])
    sim = run(wf)
    assert [w.node_id for w in sim.work] == ["oops"]
    assert sim.status == "completed"


def test_a_non_boolean_edge_condition_is_an_error_not_a_dead_edge() -> None:
    wf = flow([node("t", "trigger"), hook("a")], [edge("t", "a", condition="input_data")])
    sim = run(wf)
    assert sim.status == "failed" and "boolean" in of(sim, ExecutionFailed)[0].error.message


def test_a_condition_node_answers_under_result_validation_result_and_its_ports() -> None:
    c = Node(id="c", node_type=NodeType.CONDITION, config={"condition": "input_data.k == 1"},
             outputs=(Port(name="is_ok", type="boolean"),))
    wf = flow([node("t", "trigger"), c, hook("yes"), hook("no")],
              [edge("t", "c"), edge("c", "yes", condition="validation_result == true"),
               edge("c", "no", condition="is_ok == false")])
    sim = run(wf)
    assert [w.node_id for w in sim.work] == ["yes"]
    done = next(d for d in of(sim, NodeSucceeded) if d.node_id == "c")
    assert done.output == {"result": True, "validation_result": True, "is_ok": True}


def test_seed_004_missing_input_field_is_null_and_the_output_names_it() -> None:
    wf = flow([node("t", "trigger"), node("c", "condition", condition="input_data.client_exists == true"), hook("yes"), hook("no")],
              [edge("t", "c"), edge("c", "yes", "true"), edge("c", "no", "false")])
    seed_input = {"client_id": 123, "client_email": "newclient@example.com", "client_name": "Nouveau Client"}
    start = ExecutionStarted(execution_id="ex", workflow=wf, trigger_type="manual", context={"input_data": seed_input, "user": {}})
    sim = simulate(start, workspace_id="ws", now=T0, perform=ok)
    assert sim.status == "completed"
    assert [w.node_id for w in sim.work] == ["no"]
    done = next(d for d in of(sim, NodeSucceeded) if d.node_id == "c")
    assert done.output["missing_fields"] == ["input_data.client_exists"] and done.output["result"] is False


def test_a_condition_reading_no_missing_field_says_nothing_of_missing_fields() -> None:
    sim = run(branching())
    done = next(d for d in of(sim, NodeSucceeded) if d.node_id == "c")
    assert "missing_fields" not in done.output


@pytest.mark.parametrize("key", ["true_path", "false_path"])
def test_a_dangling_true_or_false_path_fails_the_condition_and_runs_no_branch(key: str) -> None:
    paths = {"true_path": "yes", "false_path": "no", key: "node-uuid-4"}
    wf = flow([node("t", "trigger"), node("c", "condition", condition="true", **paths), hook("yes"), hook("no")],
              [edge("t", "c"), edge("c", "yes"), edge("c", "no")])
    sim = run(wf)
    assert not sim.work
    assert sim.status == "failed"
    failure = of(sim, ExecutionFailed)[0]
    assert failure.failed_node == "c" and failure.error.code == "AUTO_007"
    assert f"config.{key}" in failure.error.message and "node-uuid-4" in failure.error.message


def test_filter_tree_conditions_in_condition_nodes() -> None:
    tree = {"operator": "and", "conditions": [{"field": "user.email", "operator": "ends_with", "value": "@example.com"}]}
    wf = flow([node("t", "trigger"), node("c", "condition", filters=tree), hook("a")], [edge("t", "c"), edge("c", "a")])
    assert [w.node_id for w in run(wf).work] == ["a"]
    assert not run(wf, start={"email": "a@b.org"}).work


# -- fan-out and joins ------------------------------------------------------------------
def diamond(join: str | None = None) -> WorkflowSnapshot:
    j = hook("j", join=join) if join else hook("j")
    return flow([node("t", "trigger"), hook("a"), hook("b"), j], [edge("t", "a"), edge("t", "b"), edge("a", "j"), edge("b", "j")])


def test_fan_out_runs_both_branches_and_the_join_once_after_both() -> None:
    sim = run(diamond())
    assert [w.node_id for w in sim.work] == ["a", "b", "j"]
    assert sim.status == "completed"
    path = of(sim, ExecutionCompleted)[0].execution_path
    assert path.index("j") > path.index("a") and path.index("j") > path.index("b")


def test_join_waits_for_the_slower_branch() -> None:
    s = started(diamond())
    state, out = advance(None, env(s), s, T0)
    orders = {d.node_id: d for _, d in decoded(out) if isinstance(d, NodeWorkOrdered)}
    assert set(orders) == {"a", "b"}
    a_done = NodeSucceeded(execution_id="ex", node_id="a", node_type=NodeType.ACTION, attempt=1, started_at=T0, completed_at=T0)
    state, out = advance(state, env(a_done, result_id("succeeded", orders["a"])), a_done, T0)
    assert not any(isinstance(d, NodeWorkOrdered) for _, d in decoded(out)), "join must wait for b"
    b_done = NodeSucceeded(execution_id="ex", node_id="b", node_type=NodeType.ACTION, attempt=1, started_at=T0, completed_at=T0)
    state, out = advance(state, env(b_done, result_id("succeeded", orders["b"])), b_done, T0)
    assert [d.node_id for _, d in decoded(out) if isinstance(d, NodeWorkOrdered)] == ["j"]


def test_join_any_runs_on_the_first_arrival_only_once() -> None:
    sim = run(diamond(join="any"))
    assert [w.node_id for w in sim.work].count("j") == 1
    assert sim.status == "completed"


def test_join_after_a_condition_does_not_wait_for_the_dead_branch() -> None:
    wf = flow(
        [node("t", "trigger"), node("c", "condition", condition="user.email.endsWith('@example.com')"), hook("x"), hook("y"), hook("z")],
        [edge("t", "c"), edge("c", "x", "true"), edge("c", "y", "false"), edge("x", "z"), edge("y", "z")],
    )
    assert [w.node_id for w in run(wf).work] == ["x", "z"]
    assert [w.node_id for w in run(wf, start={"email": "q@q.q"}).work] == ["y", "z"]


def test_a_node_behind_only_dead_branches_is_skipped_transitively() -> None:
    wf = flow(
        [node("t", "trigger"), node("c", "condition", condition="false"), hook("x"), hook("y"), hook("z")],
        [edge("t", "c"), edge("c", "x", "true"), edge("x", "y"), edge("y", "z")],
    )
    sim = run(wf)
    assert not sim.work and sim.status == "completed"
    assert sim.state is not None


# -- transforms and templates -----------------------------------------------------------
def test_transform_maps_fields_with_templates_for_later_nodes() -> None:
    wf = flow(
        [node("t", "trigger"), node("m", "transform", mapping={"greeting": "Hello {{user.email}}", "k": "{{input_data.k}}"}),
         hook("w", payload={"text": "{{nodes.m.greeting}}"})],
        [edge("t", "m"), edge("m", "w")],
    )
    sim = run(wf)
    assert sim.work[0].config["payload"] == {"text": "Hello ada@example.com"}


def test_a_template_error_fails_the_node_with_its_path() -> None:
    wf = flow([node("t", "trigger"), hook("w", payload={"x": "{{ user.email | nosuchfilter }}"})], [edge("t", "w")])
    sim = run(wf)
    assert sim.status == "failed"
    failure = of(sim, ExecutionFailed)[0]
    assert failure.error.code == "TEMPLATE_ERROR" and failure.failed_node == "w"
    assert "payload" in failure.error.message


def test_an_invalid_condition_fails_with_auto_007() -> None:
    wf = flow([node("t", "trigger"), node("c", "condition", condition="user.email ==")], [edge("t", "c")])
    sim = run(wf)
    assert of(sim, ExecutionFailed)[0].error.code == "AUTO_007"


# -- failures, retries, failure paths ----------------------------------------------------
def failing(times: int, retryable: bool = True) -> Any:
    calls: dict[str, int] = {}

    def perform(order: NodeWorkOrdered) -> Any:
        calls[order.node_id] = calls.get(order.node_id, 0) + 1
        if calls[order.node_id] <= times:
            return NodeError(code="HTTP_503", message="unavailable", retryable=retryable)
        return {"ok": True, "attempt": order.attempt}

    return perform


def retrying(max_retries: int = 3, error_edge: bool = False, **settings_: Any) -> WorkflowSnapshot:
    nodes = [node("t", "trigger"), hook("w"), hook("after")]
    edges = [edge("t", "w"), edge("w", "after")]
    if error_edge:
        nodes.append(hook("on-error", payload={"why": "{{nodes.w.error.code}}"}))
        edges.append(edge("w", "on-error", "error"))
    cfg = {"retry_on_failure": True, "max_retries": max_retries, "retry_backoff_seconds": 2.0, "retry_max_backoff_seconds": 60.0}
    cfg.update(settings_)
    return flow(nodes, edges, settings=WorkflowSettings(**cfg))


def test_non_retryable_failure_fails_the_execution_at_once() -> None:
    sim = run(retrying(), perform=failing(1, retryable=False))
    assert sim.status == "failed"
    assert not of(sim, NodeRetryScheduled)
    failure = of(sim, ExecutionFailed)[0]
    assert failure.failed_node == "w" and failure.error.code == "HTTP_503"


def test_retryable_failure_is_retried_with_exponential_backoff_then_succeeds() -> None:
    sim = run(retrying(max_retries=3), perform=failing(2))
    assert sim.status == "completed"
    retries = [r for r in of(sim, NodeRetryScheduled) if r.node_id == "w"]
    assert [(r.attempt, r.next_attempt) for r in retries] == [(1, 2), (2, 3)]
    # equal jitter: each delay is within [ceiling/2, ceiling]
    assert 1.0 <= retries[0].delay_seconds <= 2.0
    assert 2.0 <= retries[1].delay_seconds <= 4.0
    assert [w.attempt for w in sim.work if w.node_id == "w"] == [1, 2, 3]
    assert [w.idempotency_key for w in sim.work if w.node_id == "w"] == ["ex:w:1", "ex:w:2", "ex:w:3"]
    after = [r for r in of(sim, NodeRetryScheduled) if r.node_id == "after"]
    assert sim.clock == T0 + timedelta(seconds=sum(r.delay_seconds for r in retries + after))


def test_backoff_is_capped_and_deterministic() -> None:
    policy = RetryPolicy(max_retries=10, backoff_seconds=1.0, max_backoff_seconds=8.0)
    delays = [policy.delay("ex:w", n) for n in range(1, 11)]
    assert delays == [policy.delay("ex:w", n) for n in range(1, 11)]
    assert all(d <= 8.0 for d in delays) and all(d >= 4.0 for d in delays[3:])
    assert policy.delay("ex:w", 1) != policy.delay("other:w", 1)
    assert RetryPolicy(3, 0, 10).delay("k", 2) == 0


def test_exhausted_retries_fail_the_execution_and_notify() -> None:
    wf = retrying(max_retries=2, notifications={"on_failure": {"webhook_url": "http://ops/alerts"}})
    sim = run(wf, perform=failing(10))
    assert sim.status == "failed"
    assert len(of(sim, NodeRetryScheduled)) == 2
    notified = of(sim, FailureNotified)
    assert notified and notified[0].channel == "webhook" and notified[0].target == "http://ops/alerts"
    alert = [w for w in sim.work if w.node_id == "__on_failure__"]
    assert alert[0].config["payload"]["failed_node"] == "w"
    assert alert[0].config["payload"]["error"]["code"] == "HTTP_503"


def test_exhausted_retries_take_the_failure_path_and_the_execution_completes() -> None:
    sim = run(retrying(max_retries=1, error_edge=True), perform=lambda o: {"ok": True} if o.node_id != "w" else NodeError(code="HTTP_500", message="boom", retryable=True))
    assert sim.status == "completed"
    assert [w.node_id for w in sim.work] == ["w", "w", "on-error"]
    assert sim.work[-1].config["payload"] == {"why": "HTTP_500"}
    assert "after" not in [w.node_id for w in sim.work]


def test_a_success_never_takes_the_failure_path() -> None:
    sim = run(retrying(error_edge=True))
    assert [w.node_id for w in sim.work] == ["w", "after"]


def test_a_node_retry_policy_overrides_the_workflow_settings() -> None:
    wf = flow([node("t", "trigger"), hook("w", retry={"max_retries": 4, "backoff_seconds": 0})], [edge("t", "w")])
    sim = run(wf, perform=failing(4))
    assert sim.status == "completed"
    assert [w.attempt for w in sim.work] == [1, 2, 3, 4, 5]
    assert sim.clock == T0  # zero backoff retries at once, without timers


def test_no_retries_unless_asked() -> None:
    wf = flow([node("t", "trigger"), hook("w")], [edge("t", "w")])
    sim = run(wf, perform=failing(1))
    assert sim.status == "failed" and len(sim.work) == 1


def test_a_stale_result_of_an_earlier_attempt_is_ignored() -> None:
    s = started(retrying(max_retries=3))
    state, _ = advance(None, env(s), s, T0)
    fail1 = NodeFailed(execution_id="ex", node_id="w", node_type=NodeType.ACTION, attempt=1, error=NodeError(code="X", message="x", retryable=True), started_at=T0, completed_at=T0)
    state, out = advance(state, env(fail1), fail1, T0)
    timer = next(d for _, d in decoded(out) if isinstance(d, TimerScheduled))
    fired = TimerFired(timer_id=timer.timer_id, execution_id="ex", purpose="retry", node_id="w", attempt=2, fire_at=timer.fire_at, fired_at=timer.fire_at)
    state, out = advance(state, env(fired), fired, timer.fire_at)
    assert [d.attempt for _, d in decoded(out) if isinstance(d, NodeWorkOrdered)] == [2]
    late = NodeSucceeded(execution_id="ex", node_id="w", node_type=NodeType.ACTION, attempt=1, started_at=T0, completed_at=T0)
    state2, out = advance(state, env(late), late, T0)
    assert out == [] and state2 is not None and state2["status"] == "running"
    # the same timer firing twice does nothing the second time
    _, out = advance(state, env(fired), fired, timer.fire_at)
    assert out == []


# -- waits and timers -------------------------------------------------------------------
@pytest.mark.parametrize(
    "config,seconds",
    [
        ({"delay_seconds": 2}, 2),
        ({"seconds": 90}, 90),
        ({"duration": 10, "unit": "minutes"}, 600),
        ({"delay": {"value": 2, "unit": "hours"}}, 7200),
        ({"days": 3}, 3 * 86400),
        ({"until": "2026-01-02T00:00:00+00:00"}, 86400),
    ],
)
def test_a_wait_node_sleeps_on_a_durable_timer(config: dict[str, Any], seconds: int) -> None:
    wf = flow([node("t", "trigger"), node("d", "delay", **config), hook("after")], [edge("t", "d"), edge("d", "after")],
              settings=WorkflowSettings(timeout_seconds=30 * 86400))
    sim = run(wf)
    assert sim.status == "completed"
    waits = [t for t in of(sim, TimerScheduled) if t.purpose == "wait"]
    assert len(waits) == 1 and waits[0].fire_at == T0 + timedelta(seconds=seconds)
    assert sim.clock == T0 + timedelta(seconds=seconds)
    done = next(r for r in of(sim, NodeSucceeded) if r.node_id == "d")
    assert done.output["waited_seconds"] == seconds
    assert [w.node_id for w in sim.work] == ["after"]


def test_the_seed_003_wait_action_is_a_durable_wait() -> None:
    wf = flow([node("t", "trigger"), node("w", "action", action_type="wait", duration=10, unit="minutes"), hook("after")],
              [edge("t", "w"), edge("w", "after")], settings=WorkflowSettings(timeout_seconds=3600))
    sim = run(wf)
    assert [w.node_id for w in sim.work] == ["after"]
    assert sim.clock == T0 + timedelta(minutes=10)


def test_an_action_delay_waits_before_it_runs() -> None:
    wf = flow([node("t", "trigger"), hook("w", delay=30)], [edge("t", "w")])
    sim = run(wf)
    assert [t.purpose for t in of(sim, TimerScheduled)] == ["pre_delay"]
    assert sim.status == "completed" and sim.clock == T0 + timedelta(seconds=30)


@pytest.mark.parametrize("config", [{}, {"delay_seconds": -1}, {"duration": 1, "unit": "fortnights"}, {"until": "tomorrow"}, {"days": 400}])
def test_an_invalid_wait_fails_clearly(config: dict[str, Any]) -> None:
    wf = flow([node("t", "trigger"), node("d", "delay", **config)], [edge("t", "d")])
    sim = run(wf)
    assert sim.status == "failed" and of(sim, ExecutionFailed)[0].error.code == "AUTO_007"


def test_a_zero_wait_does_not_arm_a_timer() -> None:
    wf = flow([node("t", "trigger"), node("d", "delay", delay_seconds=0)], [edge("t", "d")])
    sim = run(wf)
    assert sim.status == "completed" and not of(sim, TimerScheduled)


def test_the_workflow_timeout_fails_a_long_wait_and_cancels_its_timer() -> None:
    wf = flow([node("t", "trigger"), node("d", "delay", delay_seconds=120), hook("after")], [edge("t", "d"), edge("d", "after")],
              settings=WorkflowSettings(timeout_seconds=60))
    sim = run(wf)
    assert sim.status == "failed"
    failure = of(sim, ExecutionFailed)[0]
    assert failure.error.code == "AUTO_006" and failure.failed_node == "d"
    assert sim.clock == T0 + timedelta(seconds=60)
    assert any(c.timer_id == next(t.timer_id for t in of(sim, TimerScheduled) if t.purpose == "wait") for c in of(sim, TimerCancelled))
    assert not sim.work


# -- cancel ----------------------------------------------------------------------------
def test_cancel_stops_at_the_next_boundary_and_cancels_pending_timers() -> None:
    wf = flow([node("t", "trigger"), node("d", "delay", seconds=3600), hook("after")], [edge("t", "d"), edge("d", "after")])
    cancel = ExecutionCancelRequested(execution_id="ex", requested_by="user-1", reason="changed my mind")
    sim = run(wf, extra=[(T0 + timedelta(seconds=10), cancel)])
    assert sim.status == "cancelled"
    cancelled = of(sim, ExecutionCancelled)[0]
    assert cancelled.reason == "changed my mind" and cancelled.execution_path == ("t",)
    assert {c.timer_id for c in of(sim, TimerCancelled)} == {t.timer_id for t in of(sim, TimerScheduled)}
    assert not sim.work


def test_cancel_after_the_end_changes_nothing() -> None:
    cancel = ExecutionCancelRequested(execution_id="ex", requested_by="user-1")
    sim = run(slice_flow(), extra=[(T0 + timedelta(seconds=10), cancel)])
    assert sim.status == "completed" and not of(sim, ExecutionCancelled)


# -- loops --------------------------------------------------------------------------------
def looping(items: Any = "event.data.items", **config: Any) -> WorkflowSnapshot:
    return flow(
        [node("t", "trigger"), node("l", "loop", items=items, **config), hook("each", payload={"item": "{{item}}", "i": "{{loop.index}}"}), hook("after")],
        [edge("t", "l"), edge("l", "each", "body"), edge("each", "l"), edge("l", "after", "done")],
    )


def test_a_loop_runs_its_body_once_per_item_in_order_then_continues() -> None:
    sim = run(looping())
    assert sim.status == "completed"
    body = [w for w in sim.work if w.node_id == "each"]
    assert [w.config["payload"] for w in body] == [{"item": "a", "i": 0}, {"item": "b", "i": 1}, {"item": "c", "i": 2}]
    assert [w.iteration for w in body] == [0, 1, 2]
    assert len({w.idempotency_key for w in body}) == 3
    assert sim.work[-1].node_id == "after"
    loop_done = next(r for r in of(sim, NodeSucceeded) if r.node_id == "l")
    assert loop_done.output["iterations"] == 3
    assert [r["each"]["iteration"] for r in loop_done.output["results"]] == [0, 1, 2]


def test_a_loop_is_bounded_by_max_iterations() -> None:
    sim = run(looping(max_iterations=2))
    assert [w.iteration for w in sim.work if w.node_id == "each"] == [0, 1]
    assert next(r for r in of(sim, NodeSucceeded) if r.node_id == "l").output["truncated"] is True


def test_a_loop_over_nothing_goes_straight_on() -> None:
    sim = run(looping(items="[]"))
    assert [w.node_id for w in sim.work] == ["after"]


def test_a_loop_over_a_template_list() -> None:
    sim = run(looping(items="{{ event.data['items'] }}"))
    assert [w.config["payload"]["item"] for w in sim.work if w.node_id == "each"] == ["a", "b", "c"]


def test_a_loop_over_something_not_a_list_fails() -> None:
    sim = run(looping(items="user.email"))
    assert sim.status == "failed" and of(sim, ExecutionFailed)[0].error.code == "AUTO_007"


def test_a_failing_iteration_fails_the_loop_execution() -> None:
    sim = run(looping(), perform=lambda o: NodeError(code="BAD", message="no") if o.iteration == 1 else {"ok": True})
    assert sim.status == "failed" and of(sim, ExecutionFailed)[0].failed_node == "each"
    assert [w.iteration for w in sim.work] == [0, 1]


def test_a_wait_inside_a_loop_body_waits_each_iteration() -> None:
    wf = flow(
        [node("t", "trigger"), node("l", "loop", items="[1, 2]"), node("d", "delay", seconds=5), hook("each")],
        [edge("t", "l"), edge("l", "d", "body"), edge("d", "each")],
    )
    sim = run(wf)
    assert sim.status == "completed" and sim.clock == T0 + timedelta(seconds=10)
    assert [w.iteration for w in sim.work] == [0, 1]


def test_nested_loops_are_refused_clearly() -> None:
    wf = flow(
        [node("t", "trigger"), node("l", "loop", items="[1]"), node("inner", "loop", items="[1]")],
        [edge("t", "l"), edge("l", "inner", "body")],
    )
    sim = run(wf)
    assert sim.status == "failed" and of(sim, ExecutionFailed)[0].error.code == "NODE_UNSUPPORTED"


# -- retry from a node, version pinning, duplicates -----------------------------------------
def test_resume_from_a_node_reuses_earlier_outputs() -> None:
    wf = flow(
        [node("t", "trigger"), hook("a"), hook("b", payload={"prev": "{{nodes.a.token}}"}), hook("c")],
        [edge("t", "a"), edge("a", "b"), edge("b", "c")],
    )
    extra = {"retry_of": "original", "resume_from": "b", "prior_nodes": {"t": {"k": 1}, "a": {"token": "T-1"}}, "prior_path": ("t", "a")}
    sim = run(wf, start=extra)
    assert [w.node_id for w in sim.work] == ["b", "c"]
    assert sim.work[0].config["payload"] == {"prev": "T-1"}
    assert of(sim, ExecutionCompleted)[0].execution_path == ("t", "a", "b", "c")


def test_resume_from_an_unknown_node_fails_clearly() -> None:
    sim = run(slice_flow(), start={"resume_from": "ghost"})
    assert sim.status == "failed" and of(sim, ExecutionFailed)[0].error.code == "AUTO_001"


def test_the_execution_keeps_the_version_it_started_on() -> None:
    s = started(slice_flow(version=3))
    state, _ = advance(None, env(s), s, T0)
    newer = started(flow([node("t", "trigger")], [], version=4))
    state, out = advance(state, env(newer), newer, T0)  # a second start for the same id
    assert out == [] and state is not None and state["workflow_version"] == 3
    done = NodeSucceeded(execution_id="ex", node_id="w", node_type=NodeType.ACTION, attempt=1, started_at=T0, completed_at=T0)
    _, out = advance(state, env(done), done, T0)
    completed = next(d for _, d in decoded(out) if isinstance(d, ExecutionCompleted))
    assert completed.workflow_version == 3 and completed.execution_path == ("t", "c", "w")


def test_unknown_execution_and_our_own_echoes_are_ignored() -> None:
    done = NodeSucceeded(execution_id="ex", node_id="w", node_type=NodeType.ACTION, attempt=1, started_at=T0, completed_at=T0)
    assert advance(None, env(done), done, T0) == (None, [])
    s = started(slice_flow())
    state, out = advance(None, env(s), s, T0)
    for _, record in decoded(out):
        if isinstance(record, NodeScheduled | NodeWorkOrdered | TimerScheduled):
            assert advance(state, env(record), record, T0)[1] == []


def test_unsupported_node_type_fails_clearly() -> None:
    wf = flow([node("t", "trigger"), Node(id="q", node_type=NodeType.DATABASE_QUERY, config={"query": "select 1"})], [edge("t", "q")])
    sim = run(wf, perform=lambda o: NodeError(code="AUTO_004", message="no connector"))
    assert of(sim, ExecutionFailed)[0].error.code == "AUTO_004"


def test_replay_of_the_same_inputs_emits_identical_records() -> None:
    a, b = run(diamond()), run(diamond())
    assert [r.model_dump() for r in a.records] == [r.model_dump() for r in b.records]


# -- property: random interleavings with duplicates converge ----------------------------------
def property_flow() -> WorkflowSnapshot:
    return flow(
        [node("t", "trigger"), hook("a"), hook("b"), node("d", "delay", seconds=5), hook("j"),
         node("c", "condition", condition="nodes.j.ok == true"), hook("yes"), hook("no")],
        [edge("t", "a"), edge("t", "b"), edge("a", "d"), edge("d", "j"), edge("b", "j"), edge("j", "c"),
         edge("c", "yes", "true"), edge("c", "no", "false")],
        settings=WorkflowSettings(retry_on_failure=True, max_retries=2, retry_backoff_seconds=1),
    )


def _deliver_randomly(data: st.DataObject, fail_first: bool) -> tuple[dict[str, Any], list[str]]:
    """A world where Kafka may re-deliver anything and results race each other."""
    s = started(property_flow())
    inflight: list[tuple[Envelope, RecordData]] = [(env(s, "start"), s)]
    state: dict[str, Any] | None = None
    emitted: list[str] = []
    attempts: dict[str, int] = {}
    redeliveries = 0
    for _ in range(400):
        if not inflight:
            break
        index = data.draw(st.integers(0, len(inflight) - 1))
        envelope, record = inflight[index]
        keep = redeliveries < 12 and data.draw(st.booleans())
        if keep:
            redeliveries += 1
        else:
            inflight.pop(index)
        state, outputs = advance(state, envelope, record, T0)
        for out in outputs:
            out_env, out_data = decode(out.value)
            emitted.append(out_env.id)
            if isinstance(out_data, NodeWorkOrdered):
                attempts[out_data.node_id] = attempts.get(out_data.node_id, 0) + 1
                result: RecordData
                if fail_first and out_data.node_id == "a" and out_data.attempt == 1:
                    result = NodeFailed(execution_id="ex", node_id="a", node_type=NodeType.ACTION, attempt=1,
                                        error=NodeError(code="T", message="t", retryable=True), started_at=T0, completed_at=T0)
                    inflight.append((env(result, result_id("failed", out_data)), result))
                else:
                    result = NodeSucceeded(execution_id="ex", node_id=out_data.node_id, node_type=NodeType.ACTION,
                                           attempt=out_data.attempt, output={"ok": True}, started_at=T0, completed_at=T0)
                    inflight.append((env(result, result_id("succeeded", out_data)), result))
            elif isinstance(out_data, TimerScheduled) and out_data.purpose != "execution_timeout":
                fired = TimerFired(timer_id=out_data.timer_id, execution_id="ex", purpose=out_data.purpose, node_id=out_data.node_id,
                                   attempt=out_data.attempt, iteration=out_data.iteration, fire_at=out_data.fire_at, fired_at=out_data.fire_at)
                inflight.append((env(fired, f"fired-{out_data.timer_id}"), fired))
    assert state is not None
    return state, emitted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fail_first=st.booleans())
def test_random_interleavings_with_duplicates_reach_the_same_final_state(data: st.DataObject, fail_first: bool) -> None:
    state, emitted = _deliver_randomly(data, fail_first)
    assert state["status"] == "completed"
    assert sorted(state["path"]) == sorted(["t", "a", "b", "d", "j", "c", "yes"])
    finals = {k: (v["status"], v["output"]) for k, v in state["nodes"].items() if k != "d"}
    assert finals == {
        "t": ("succeeded", {"k": 1}), "a": ("succeeded", {"ok": True}), "b": ("succeeded", {"ok": True}),
        "j": ("succeeded", {"ok": True}), "c": ("succeeded", {"result": True, "validation_result": True}), "yes": ("succeeded", {"ok": True}),
        "no": ("skipped", {}),
    }
    # Nothing was emitted twice: a re-delivered input never repeats a step.
    assert len(emitted) == len(set(emitted))


# -- contact actions ----------------------------------------------------------------------
def test_a_tag_action_emits_a_tag_added_event_and_later_nodes_see_the_tag() -> None:
    from schemas.records import EventIngested
    from schemas.topics import EVENTS

    wf = flow(
        [node("t", "trigger"), node("tag", "action", action_type="add_tag", tag_name="{{ 'vip' if user.email.endswith('@example.com') else 'std' }}"),
         hook("w", payload={"tags": "{{user.tags}}"})],
        [edge("t", "tag"), edge("tag", "w")],
    )
    s = started(wf, subject="u1")
    _state, outputs = advance(None, env(s), s, T0)
    events = [(o, decode(o.value)) for o in outputs if o.topic == EVENTS]
    assert len(events) == 1
    out, (event_env, event) = events[0]
    assert isinstance(event, EventIngested) and event.event_type == "TAG_ADDED" and event.data == {"tag_name": "vip"}
    assert out.key == "ws:u1" and event.user_id == "u1" and event_env.executionid == "ex"
    order = next(d for _, d in decoded(outputs) if isinstance(d, NodeWorkOrdered))
    assert order.config["payload"] == {"tags": ["vip"]}
    _again, outputs2 = advance(None, env(s), s, T0)
    assert [decode(o.value)[0].id for o in outputs2 if o.topic == EVENTS] == [event_env.id], "replay gives the same event id"


def test_a_contact_action_without_a_contact_fails_clearly() -> None:
    wf = flow([node("t", "trigger"), node("tag", "action", action_type="add_tag", tag_name="x")], [edge("t", "tag")])
    sim = run(wf)
    failure = of(sim, ExecutionFailed)[0]
    assert failure.error.code == "AUTO_007" and "no contact" in failure.error.message


# -- seed 003 linear action lists -------------------------------------------------------------
def test_a_workflow_without_edges_runs_its_actions_in_order_with_their_delays() -> None:
    wf = flow(
        [node("t", "trigger"), hook("third", order=3), hook("first", order=1, delay=5), hook("second", order=2), hook("unordered")],
        [],
    )
    sim = run(wf)
    assert [w.node_id for w in sim.work] == ["first", "second", "third", "unordered"]
    assert sim.status == "completed" and sim.clock == T0 + timedelta(seconds=5)
    assert of(sim, ExecutionCompleted)[0].execution_path == ("t", "first", "second", "third", "unordered")


def test_a_single_node_workflow_without_edges_just_runs() -> None:
    sim = run(flow([node("t", "trigger")], []))
    assert sim.status == "completed" and of(sim, ExecutionCompleted)[0].execution_path == ("t",)


def test_create_record_emits_a_data_record_and_fills_output_ports() -> None:
    from schemas.records import DataRecordCreated
    from schemas.workflow import Port

    task = Node(id="task", node_type=NodeType.ACTION, outputs=(Port(name="task_id"),), config={
        "action_type": "create_record", "table": "taches",
        "data": {"titre": "Suivi client {{input_data.k}}", "date_echeance": "{{now() + 7 days}}"}})
    sim = run(flow([node("t", "trigger"), task, hook("w", payload={"task": "{{nodes.task.task_id}}"})], [edge("t", "task"), edge("task", "w")]))
    created = of(sim, DataRecordCreated)[0]
    assert created.table == "taches" and created.data["titre"] == "Suivi client 1"
    assert created.data["date_echeance"].startswith("2026-01-08")
    assert sim.work[0].config["payload"] == {"task": created.record_id}
    bad = run(flow([node("t", "trigger"), node("r", "action", action_type="create_record", table="bad name!", data={})], [edge("t", "r")]))
    assert bad.status == "failed" and of(bad, ExecutionFailed)[0].error.code == "AUTO_007"


def test_advance_leaves_the_start_record_as_it_was() -> None:
    """Contact actions change the execution's user; the record that started it stays as given."""
    wf = flow([node("t", "trigger"), node("tag", "action", action_type="add_tag", tag="vip")], [edge("t", "tag")])
    s = started(wf, subject="u1")
    before = s.context["user"].copy()
    e = env(s)
    first, _ = advance(None, e, s, T0)
    assert s.context["user"] == before
    assert first is not None and "vip" in first["context"]["user"]["tags"]
    second, _ = advance(None, e, s, T0)
    assert first == second
