"""The published stream contract (schemas/json/, docs/streams/asyncapi.json) against the code.

A breaking change fails with what breaks; a compatible change that was not
re-exported fails with "run make schemas", so the committed snapshot always
says what the code writes. Real encoded records of every type validate
against the published JSON Schemas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas.asyncapi import REPO_SCHEMA_BASE, asyncapi_document
from schemas.codec import decode, encode
from schemas.compat import breaking, compare, snapshot_of
from schemas.envelope import RecordData, make_envelope
from schemas.export import ENVELOPE_FILE, json_schemas
from schemas.records import (
    RECORD_TYPES,
    ActionDefined,
    ApiCallAudited,
    ApiKeyDefined,
    AuditActor,
    ConditionDefined,
    DataRecordCreated,
    EventIngested,
    ExecutionCancelled,
    ExecutionCancelRequested,
    ExecutionCompleted,
    ExecutionConverted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionSteps,
    FailureNotified,
    FlowReleased,
    IntegrationDefined,
    InvitationDefined,
    Membership,
    NodeError,
    NodeFailed,
    NodeRetryScheduled,
    NodeScheduled,
    NodeSucceeded,
    NodeWorkOrdered,
    RecordDeadLettered,
    StartDecided,
    StartRequested,
    TimerCancelled,
    TimerFired,
    TimerScheduled,
    TriggerDefined,
    TriggerEvaluated,
    TriggerEvaluation,
    UserDefined,
    UserPreferences,
    UserProfile,
    WatchDropped,
    WatchRegistered,
    WatchResolved,
    WebhookCalled,
    WebhookDefined,
    WorkflowDefined,
    WorkspaceDefined,
)
from schemas.topics import ALL_TOPICS, EVENTS
from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

ROOT = Path(__file__).resolve().parents[3]
SNAPSHOT = ROOT / "schemas" / "json"
ASYNCAPI = ROOT / "docs" / "streams" / "asyncapi.json"
REEXPORT = "run `make schemas` (fluxo schemas export) and commit schemas/json and docs/streams/asyncapi.json"


def committed() -> dict[str, Any]:
    assert SNAPSHOT.is_dir(), f"no committed snapshot in {SNAPSHOT}: {REEXPORT}"
    return {p.name: orjson.loads(p.read_bytes()) for p in sorted(SNAPSHOT.glob("*.json"))}


# -- the snapshot ---------------------------------------------------------------
def test_no_change_breaks_consumers_of_the_published_streams() -> None:
    changes = breaking(compare(snapshot_of(committed()), snapshot_of(json_schemas())))
    assert not changes, (
        "These changes break readers of records already on the topics or consumers of the "
        "published contract:\n  " + "\n  ".join(str(c) for c in changes) + "\n"
        "Make a new record type instead (….v2: a new model, and an upcaster from the old type in schemas/upcasting.py), "
        "or, if consumers were told and it is meant, `fluxo schemas export --allow-breaking`."
    )


def test_the_committed_schemas_are_current() -> None:
    published, current = committed(), json_schemas()
    changes = compare(snapshot_of(published), snapshot_of(current))
    stale = sorted(name for name in published.keys() | current.keys() if published.get(name) != current.get(name))
    assert not stale, (
        f"The committed JSON Schemas differ from the code in {stale}"
        + ("".join(f"\n  {c}" for c in changes) if changes else " (descriptions or titles only)")
        + (f"\nThe changes are compatible: {REEXPORT}." if not breaking(changes)
           else "\nSome break consumers: see test_no_change_breaks_consumers_of_the_published_streams.")
    )


def test_the_committed_asyncapi_document_is_current() -> None:
    assert ASYNCAPI.is_file(), f"no {ASYNCAPI}: {REEXPORT}"
    assert orjson.loads(ASYNCAPI.read_bytes()) == asyncapi_document(), f"docs/streams/asyncapi.json is stale: {REEXPORT}"


def test_the_consumer_guide_names_every_topic_and_record_type() -> None:
    guide = (ROOT / "docs" / "streams.md").read_text()
    missing = [t.name for t in ALL_TOPICS if f"`{t.name}`" not in guide]
    missing += [name for name in RECORD_TYPES if f"`{name}`" not in guide]
    assert not missing, f"docs/streams.md does not mention {missing}"


# -- the AsyncAPI document ------------------------------------------------------
def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_topic_is_a_channel_and_every_record_type_a_message() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {t.name for t in ALL_TOPICS}
    on_a_topic = {name for t in ALL_TOPICS for name in t.type_names}
    assert on_a_topic == set(RECORD_TYPES), "every record type must be declared on the topic it is written to"
    assert on_a_topic <= set(document["components"]["messages"])
    executions = next(c for c in document["channels"].values() if c["address"] == "fluxo.executions.v1")
    assert "fluxo.execution.completed.v1" in executions["messages"]
    assert "FLUXO_TOPIC_PREFIX" in executions["description"]
    assert executions["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["delete"]


def test_every_reference_resolves() -> None:
    document = asyncapi_document()
    local = [r for r in _refs(document) if r.startswith("#/")]
    files = [r for r in _refs(document) if not r.startswith("#/")]
    for ref in local:
        _resolve(document, ref)
    assert files, "payloads refer to the exported JSON Schemas"
    exported = json_schemas()
    for ref in files:
        assert ref.startswith(REPO_SCHEMA_BASE) and ref.removeprefix(REPO_SCHEMA_BASE) in exported, ref
        # The repo copy's relative paths land in schemas/json/.
        assert (ASYNCAPI.parent / ref).resolve().parent == SNAPSHOT


def test_each_message_names_its_cloudevents_type_and_key() -> None:
    document = asyncapi_document()
    for name in RECORD_TYPES:
        message = document["components"]["messages"][name]
        envelope, specific = message["payload"]["allOf"]
        assert envelope["$ref"].endswith(ENVELOPE_FILE)
        assert specific["properties"]["type"] == {"const": name}
        assert specific["properties"]["data"]["$ref"].endswith(f"{name}.json")
        assert message["headers"]["properties"]["content-type"]["const"] == "application/cloudevents+json"
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_the_served_document_refers_to_the_served_schemas() -> None:
    served = asyncapi_document(schema_base="schemas/")
    payload = served["components"]["messages"]["fluxo.execution.completed.v1"]["payload"]
    assert payload["allOf"][1]["properties"]["data"] == {"$ref": "schemas/fluxo.execution.completed.v1.json"}


# -- real records against the published schemas ---------------------------------
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(seconds=2)


def examples() -> dict[str, RecordData]:
    """One record of each type, built at test time (a model change fails a test, not collection)."""
    workflow = WorkflowSnapshot(
        id="wf-1", workspace_id="ws-1", version=3, name="Welcome", created_at=T0, updated_at=T0,
        trigger_config={"event_type": "USER_CREATED"},
        nodes=(Node(id="trigger", node_type=NodeType.TRIGGER),
               Node(id="call", node_type=NodeType.ACTION, config={"action_type": "webhook", "url": "http://x"})),
        edges=(Edge(id="e1", source_node="trigger", target_node="call", label="true"),),
    )
    error = NodeError(code="HTTP_500", message="upstream failed", retryable=True, integration_id="int-1")
    node = {"execution_id": "ex-1", "node_id": "call", "node_type": NodeType.ACTION, "attempt": 1}
    records: list[RecordData] = [
        EventIngested(event_type="USER_CREATED", data={"email": "ada@example.com"}, user_id="u-1",
                      user={"first_name": "Ada"}, occurred_at=T0),
        WorkspaceDefined(id="ws-1", name="Acme", created_at=T0, allowed_hosts=("127.0.0.1",)),
        UserDefined(id="u-1", email="ada@example.com", username="ada", password_hash="$argon2id$...",
                    memberships=(Membership(workspace_id="ws-1", role="owner"),), created_at=T0,
                    profile=UserProfile(first_name="Ada", avatar_color="#7C3AED", timezone="Europe/London"),
                    preferences=UserPreferences(theme="dark", dashboard_layout={"widgets": ["executions"]})),
        ApiKeyDefined(id="key-1", workspace_id="ws-1", name="CRM sync", prefix="ab12cd34", digest="0" * 64,
                      role="editor", created_by="u-1", created_at=T0, expires_at=T1, revoked_at=T1, revoked_by="u-1"),
        InvitationDefined(id="inv-1", workspace_id="ws-1", email="bob@example.com", role="viewer",
                          token_digest="f" * 64, invited_by="u-1", created_at=T0, expires_at=T1,
                          accepted_at=T1, accepted_by="u-2"),
        WorkflowDefined(workflow=workflow),
        IntegrationDefined(id="int-1", workspace_id="ws-1", version=1, name="CRM", integration_type="webhook",
                           provider="custom", secrets_sealed="k1:abc", secret_fields=("api_key",),
                           created_at=T0, updated_at=T0),
        WebhookDefined(id="wh-1", workspace_id="ws-1", version=1, name="Leads", workflow_id="wf-1",
                       token_digest="e" * 64, token_prefix="tttttttt", auth_mode="hmac", secret_sealed="k1:abc", response_mode="last_node",
                       created_at=T0, updated_at=T0),
        TriggerDefined(id="tr-1", workspace_id="ws-1", version=1, name="Coupon", trigger_type="MESSAGE_RECEIVED",
                       filters={"field": "event.data.text", "operator": "icontains", "value": "coupon"},
                       created_at=T0, updated_at=T0),
        ActionDefined(id="ac-1", workspace_id="ws-1", version=1, name="Reply", action_type="send_message",
                      configuration={"message": "Hi {{user.first_name}}"}, order=1, delay=5, workflow_id="wf-1",
                      created_at=T0, updated_at=T0),
        ConditionDefined(id="co-1", workspace_id="ws-1", version=1, name="VIP", operator="and",
                         conditions=({"field": "user.vip", "operator": "equals", "value": True},),
                         created_at=T0, updated_at=T0),
        WebhookCalled(call_id="call-1", webhook_id="wh-1", workflow_id="wf-1", execution_id="ex-1", method="POST",
                      path="/api/v1/hooks/t", query={"a": "1"}, headers={"content-type": "application/json"},
                      request_body={"email": "ada@example.com"}, request_size=27, response_status=202,
                      response_body={"execution_id": "ex-1"}, duration_ms=3.5, outcome="accepted", received_at=T0),
        TriggerEvaluated(event_id="ev-1", event_type="USER_CREATED", user_id="u-1", event_data={"a": 1},
                         evaluations=(TriggerEvaluation(workflow_id="wf-1", workflow_version=3, matched=True,
                                                        reason="matched", execution_id="ex-1"),),
                         profile={"email": "ada@example.com"}),
        ExecutionStarted(execution_id="ex-1", workflow=workflow, trigger_type="event", event_id="ev-1",
                         subject="u-1", context={"event": {"type": "USER_CREATED"}}, prior_path=("trigger",)),
        NodeScheduled(**node, iteration=0, input={"url": "http://x"}),
        NodeSucceeded(**node, output={"status": 200}, started_at=T0, completed_at=T1),
        NodeFailed(**node, error=error, started_at=T0, completed_at=T1),
        NodeRetryScheduled(execution_id="ex-1", node_id="call", attempt=1, next_attempt=2, delay_seconds=1.5,
                           retry_at=T1, error=error),
        ExecutionSteps.of("ex-1", [
            NodeSucceeded(execution_id="ex-1", node_id="check", node_type=NodeType.CONDITION, attempt=1,
                          input={"condition": "true"}, output={"result": True}, started_at=T0, completed_at=T0),
            NodeScheduled(**node, input={"url": "http://x"}),
            NodeFailed(**node, error=error, started_at=T0, completed_at=T1),
            NodeRetryScheduled(execution_id="ex-1", node_id="call", attempt=1, next_attempt=2, delay_seconds=0,
                               retry_at=T1, error=error),
        ]),
        TimerFired(timer_id="tm-1", execution_id="ex-1", purpose="retry", node_id="call", attempt=2,
                   fire_at=T1, fired_at=T1),
        ExecutionCancelRequested(execution_id="ex-1", requested_by="u-1"),
        ExecutionCompleted(execution_id="ex-1", workflow_id="wf-1", workflow_version=3, output={"ok": True},
                           execution_path=("trigger", "call"), started_at=T0, completed_at=T1),
        ExecutionFailed(execution_id="ex-1", workflow_id="wf-1", workflow_version=3, error=error,
                        failed_node="call", started_at=T0, completed_at=T1),
        ExecutionCancelled(execution_id="ex-1", workflow_id="wf-1", workflow_version=3, reason="cancelled by user",
                           started_at=T0, completed_at=T1),
        FailureNotified(execution_id="ex-1", workflow_id="wf-1", channel="email", target="ops@example.com"),
        DataRecordCreated(record_id="r-1", table="leads", data={"email": "ada@example.com"},
                          execution_id="ex-1", node_id="save"),
        NodeWorkOrdered(execution_id="ex-1", workflow_id="wf-1", node_id="call", node_type=NodeType.ACTION,
                        action_type="webhook", attempt=1, config={"url": "http://x"},
                        idempotency_key="ex-1:call:1", timeout_seconds=30),
        WatchRegistered(watch_id="w-1", execution_id="ex-1", workflow_id="wf-1", kind="wait", event_type="ORDER_PAID",
                        condition="event.data.order_id == input_data.order_id", context={"input_data": {"order_id": "A-1"}},
                        subject="u-1", started_at=T0, lookback_seconds=10, expires_at=T1, node_id="wait", attempt=1),
        WatchDropped(watch_id="w-1", execution_id="ex-1", subject="u-1"),
        WatchResolved(watch_id="w-1", execution_id="ex-1", kind="wait", event={"id": "ev-2", "type": "ORDER_PAID"},
                      node_id="wait", attempt=1),
        ExecutionConverted(execution_id="ex-1", workflow_id="wf-1", event_id="ev-3", event_type="ORDER_PAID",
                           started_at=T0, converted_at=T1),
        StartRequested(execution_id="ex-1", workflow_id="wf-1", flow_key="u-1", event_id="ev-1",
                       start=ExecutionStarted(execution_id="ex-1", workflow=workflow, trigger_type="event", subject="u-1"),
                       correlation_id="ev-1", depth=1),
        FlowReleased(execution_id="ex-1", workflow_id="wf-1", flow_key="u-1"),
        StartDecided(event_id="ev-1", execution_id="ex-1", workflow_id="wf-1", flow_key="u-1", decision="queued",
                     reason="concurrency: 1 running", from_queue=False),
        TimerScheduled(timer_id="tm-1", execution_id="ex-1", purpose="wait", fire_at=T1, node_id="wait"),
        TimerCancelled(timer_id="tm-1", execution_id="ex-1"),
        RecordDeadLettered(reason="not JSON", consumer="matcher", original_topic="fluxo.events.v1",
                           original_partition=0, original_offset=7, original_value_b64="bm90IGpzb24=",
                           original_truncated=True, original_size=2_000_000, original_sha256="ab" * 32),
        ApiCallAudited(id="au-1", workspace_id="ws-1", occurred_at=T0,
                       actor=AuditActor(type="api_key", user_id="u-1", email="ada@example.com", api_key_id="key-1"),
                       action="workflows.update", method="PATCH", route="/api/v1/workflows/{workflow_id}",
                       resource_type="workflow", resource_id="wf-1", status_code=200, outcome="success",
                       client_ip="127.0.0.1", user_agent="curl/8", request_id="req-1", duration_ms=12.5,
                       changed_fields=("name", "description")),
    ]
    return {r.TYPE: r for r in records}


def test_there_is_an_example_of_every_record_type() -> None:
    assert set(examples()) == set(RECORD_TYPES)


@pytest.mark.parametrize("type_name", sorted(RECORD_TYPES))
def test_an_encoded_record_validates_against_its_published_schema(type_name: str) -> None:
    schemas = committed()
    data = examples()[type_name]
    value = encode(make_envelope(data, source="tests", workspace_id="ws-1", execution_id="ex-1", subject="u-1"))
    record = orjson.loads(value)
    # What a consumer without our code does: the envelope, then `data` by its `type`.
    Draft202012Validator(schemas[ENVELOPE_FILE], format_checker=Draft202012Validator.FORMAT_CHECKER).validate(record)
    schema = schemas[f"{record['type']}.json"]
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(record["data"])
    # ...and it is the record our own decoder reads.
    assert decode(value)[1] == data


def test_the_events_channel_describes_plain_cloudevents_of_a_producers_own_type() -> None:
    from cloudevents.core.bindings.kafka import to_binary_event, to_structured_event
    from cloudevents.core.v1.event import CloudEvent
    from jsonschema import Draft202012Validator

    from schemas.asyncapi import PLAIN_EVENT

    document = asyncapi_document()
    events = next(c for c in document["channels"].values() if c["address"] == "fluxo.events.v1")
    assert set(events["messages"]) == {r.TYPE for r in EVENTS.records} | {PLAIN_EVENT}
    assert "fluxo.event.ingested.v1" in events["messages"]
    assert {"$ref": f"#/channels/events/messages/{PLAIN_EVENT}"} in document["operations"]["consume-events"]["messages"]
    message = document["components"]["messages"][PLAIN_EVENT]
    payload = Draft202012Validator(message["payload"])
    event = CloudEvent({"id": "e-1", "source": "urn:shop", "type": "com.shop.order.created", "specversion": "1.0",
                        "subject": "u-1", "workspaceid": "ws-1", "datacontenttype": "application/json"}, {"order": "A-1"})
    assert payload.is_valid(orjson.loads(to_structured_event(event).value))
    headers = Draft202012Validator(message["headers"])
    assert headers.is_valid({k: v.decode() for k, v in to_binary_event(event).headers.items()})
    for broken in ({"type": "fluxo.event.ingested.v1"}, {"type": "has spaces"}, {"workspaceid": None}, {"data": [1]}):
        body = {**orjson.loads(to_structured_event(event).value), **broken}
        assert not payload.is_valid({k: v for k, v in body.items() if v is not None}), broken
