"""The audit log, the pure part: action names, resources, outcomes, and what is never kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.app import create_app
from api.audit_rules import (
    MAX_FIELDS,
    MAX_USER_AGENT,
    action_name,
    actor_of,
    audit_record,
    collections,
    created_id,
    field_names,
    full_template,
    is_audited,
    outcome_of,
    request_id,
    resource_of,
    user_agent,
)
from api.security import Principal

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def app_templates() -> list[str]:
    return list(create_app().openapi()["paths"])


@pytest.fixture(scope="module")
def known(app_templates: list[str]) -> frozenset[str]:
    return collections(app_templates)


def _params(template: str, **values: str) -> dict[str, str]:
    names = [s[1:-1] for s in template.split("/") if s.startswith("{")]
    return {n: values.get(n, f"{n}-value") for n in names}


# -- action names -----------------------------------------------------------------
@pytest.mark.parametrize(("method", "template", "expected"), [
    ("POST", "/api/v1/workflows", "workflows.create"),
    ("PUT", "/api/v1/workflows/{workflow_id}", "workflows.update"),
    ("PATCH", "/api/v1/workflows/{workflow_id}", "workflows.update"),
    ("DELETE", "/api/v1/workflows/{workflow_id}", "workflows.delete"),
    ("POST", "/api/v1/workflows/{workflow_id}/nodes", "workflows.nodes.create"),
    ("DELETE", "/api/v1/workflows/{workflow_id}/edges/{edge_id}", "workflows.edges.delete"),
    ("POST", "/api/v1/workflows/{workflow_id}/execute", "workflows.execute"),
    ("POST", "/api/v1/workflows/{workflow_id}/add_trigger", "workflows.add_trigger"),
    ("POST", "/api/v1/auth/login", "auth.login"),
    ("POST", "/api/v1/triggers/process_event", "triggers.process_event"),
    ("POST", "/api/v1/integrations", "integrations.create"),
    ("POST", "/api/v1/executions/{execution_id}/cancel", "executions.cancel"),
    ("POST", "/api/v1/automation/google-sheets/process", "automation.google_sheets.process"),
    ("POST", "/api/v1/websites/{website_id}/automations", "websites.automations.create"),
    ("POST", "/api/v1/hooks/{token}", "hooks.call"),
    ("PUT", "/api/v1/hooks/{token}", "hooks.call"),
    ("POST", "/api/v1/webhooks/execute/{token}", "hooks.call"),  # seed 002's alias, one name
])
def test_actions_are_named_from_the_method_and_the_route_template(
    method: str, template: str, expected: str, app_templates: list[str], known: frozenset[str]
) -> None:
    assert template in app_templates, "the example must be a route the API serves"
    assert action_name(method, template, _params(template), known) == expected


def test_a_verb_in_the_path_names_the_action_only_when_it_is_a_plain_word(known: frozenset[str]) -> None:
    template = "/api/v1/workflows/{workflow_id}/{action}"
    assert action_name("POST", template, {"workflow_id": "w", "action": "activate"}, known) == "workflows.activate"
    assert action_name("POST", template, {"workflow_id": "w", "action": "x/../y"}, known) == "workflows.action"


def test_routes_of_other_modules_and_unmatched_calls_get_names_too() -> None:
    mine = collections(["/api/v1/api-keys", "/api/v1/api-keys/{key_id}", "/api/v1/invitations/{token}/accept"])
    assert action_name("POST", "/api/v1/api-keys", {}, mine) == "api_keys.create"
    assert action_name("DELETE", "/api/v1/api-keys/{key_id}", {"key_id": "k"}, mine) == "api_keys.delete"
    assert action_name("POST", "/api/v1/invitations/{token}/accept", {"token": "t" * 30}, mine) == "invitations.accept"
    assert action_name("PUT", "/api/v1/users/profile", {}, mine) == "users.profile.update"
    assert action_name("POST", None, {}, mine) == "unmatched"


def test_collections_are_templates_continued_by_an_id(app_templates: list[str], known: frozenset[str]) -> None:
    assert "/api/v1/workflows" in known
    assert "/api/v1/workflows/{workflow_id}/nodes" in known
    assert "/api/v1/auth" not in known and "/api/v1/hooks" not in known  # {token} is no id


# -- templates and resources --------------------------------------------------------
def test_the_full_template_is_rebuilt_from_the_tail_the_route_knows() -> None:
    path = "/api/v1/workflows/wf-1/nodes/n-2"
    params = {"workflow_id": "wf-1", "node_id": "n-2"}
    assert full_template(path, "/workflows/{workflow_id}/nodes/{node_id}", params) == (
        "/api/v1/workflows/{workflow_id}/nodes/{node_id}"
    )
    # Routes registered with their whole path already (older FastAPI) come out the same.
    assert full_template(path, "/api/v1/workflows/{workflow_id}/nodes/{node_id}", params) == (
        "/api/v1/workflows/{workflow_id}/nodes/{node_id}"
    )


def test_no_template_rather_than_the_raw_path_when_they_do_not_line_up() -> None:
    assert full_template("/api/v1/hooks/secret-token", "/hooks/{token}", {"token": "other"}) is None
    assert full_template("/api/v1/hooks/secret-token", "/hooks/{token}", {}) is None
    assert full_template("/api/v1/hooks/secret-token", None, {"token": "secret-token"}) is None
    # A parameter value shaped like a template cannot smuggle itself in.
    tricky = {"workflow_id": "{node_id}", "node_id": "x"}
    assert full_template("/api/v1/workflows/{node_id}/nodes/x", "/workflows/{workflow_id}/nodes/{node_id}", tricky) == (
        "/api/v1/workflows/{workflow_id}/nodes/{node_id}"
    )
    assert full_template("/elsewhere/wf-1", "/{workflow_id}", {"workflow_id": "wf-1"}) is None


def test_the_resource_is_the_last_id_of_the_path_or_the_created_one(known: frozenset[str]) -> None:
    node = "/api/v1/workflows/{workflow_id}/nodes/{node_id}"
    assert resource_of("PUT", node, {"workflow_id": "w", "node_id": "n"}, known) == ("node", "n", False)
    assert resource_of("POST", "/api/v1/workflows", {}, known) == ("workflow", None, True)
    assert resource_of("POST", "/api/v1/workflows/{workflow_id}/nodes", {"workflow_id": "w"}, known) == ("node", None, True)
    assert resource_of("POST", "/api/v1/workflows/{workflow_id}/{action}", {"workflow_id": "w", "action": "pause"}, known) == (
        "workflow", "w", False)
    assert resource_of("POST", "/api/v1/auth/login", {}, known) == (None, None, False)


def test_a_token_in_the_path_is_never_a_resource_id(known: frozenset[str]) -> None:
    token = "tok_" + "s" * 40
    for template in ("/api/v1/hooks/{token}", "/api/v1/webhooks/execute/{token}", "/api/v1/invitations/{token}/accept"):
        assert resource_of("POST", template, {"token": token}, known) == (None, None, False)


def test_only_a_creations_id_is_read_from_the_response() -> None:
    assert created_id(b'{"id": "wf-9", "key": "fx_live_secret"}') == "wf-9"
    assert created_id(b'{"id": 42}') == "42"
    assert created_id(b'{"id": true}') is None
    assert created_id(b'[{"id": "x"}]') is None
    assert created_id(b"not json") is None
    assert created_id(b"") is None


# -- outcomes -------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "outcome"), [
    (200, "success"), (201, "success"), (202, "success"), (204, "success"), (307, "success"),
    (401, "denied"), (403, "denied"), (429, "denied"),
    (404, "not_found"), (410, "not_found"),
    (400, "invalid"), (405, "invalid"), (409, "invalid"), (413, "invalid"), (422, "invalid"),
    (500, "error"), (502, "error"), (503, "error"),
])
def test_outcome_follows_the_status(status: int, outcome: str) -> None:
    assert outcome_of(status) == outcome


def test_only_writes_under_the_api_are_audited() -> None:
    assert is_audited("POST", "/api/v1/workflows") and is_audited("DELETE", "/api/v1/workflows/x")
    assert not is_audited("GET", "/api/v1/workflows")
    assert not is_audited("OPTIONS", "/api/v1/workflows")
    assert not is_audited("POST", "/api/v10/workflows") and not is_audited("POST", "/metrics")


@pytest.mark.parametrize("path", [
    "/api/v1/triggers/process_event", "/api/v1/triggers/process_events", "/api/v1/hooks/a-token",
    "/api/v1/webhooks/execute/a-token",
])
def test_ingest_calls_are_not_audited_their_own_record_says_who(path: str) -> None:
    assert not is_audited("POST", path) and not is_audited("PUT", path)


def test_routes_beside_ingest_ones_are_audited() -> None:
    for path in ("/api/v1/triggers", "/api/v1/triggers/t1/test", "/api/v1/webhooks/w1/test", "/api/v1/webhooks"):
        assert is_audited("POST", path), path


# -- what is kept of the request --------------------------------------------------------
def test_field_names_never_values() -> None:
    body = orjson.dumps({"email": "ada@example.com", "password": "hunter2-secret", "nested": {"token": "t"}})
    assert field_names(body, complete=True) == ("email", "password", "nested")
    assert field_names(body, complete=False) == ()
    assert field_names(b'["a", "b"]', complete=True) == ()
    assert field_names(b"password=hunter2", complete=True) == ()
    many = orjson.dumps({f"f{i}": i for i in range(MAX_FIELDS + 50)})
    assert len(field_names(many, complete=True)) == MAX_FIELDS


def test_request_ids_and_user_agents_are_bounded_plain_text() -> None:
    assert request_id("req-123_abc:9") == "req-123_abc:9"
    for bad in (None, "", "has space", "x" * 101, "line\nbreak"):
        generated = request_id(bad)
        assert generated != bad and len(generated) == 36
    assert user_agent("curl/8\r\nX-Injected: 1") == "curl/8X-Injected: 1"
    assert len(user_agent("a" * 5000) or "") == MAX_USER_AGENT
    assert user_agent(None) is None


def test_actors() -> None:
    person = Principal("u-1", "ws-1", "owner", "ada@example.com")
    machine = Principal("u-1", "ws-1", "editor", "ada@example.com", via="api_key", api_key_id="key-1")
    assert actor_of(person, None).model_dump() == {
        "type": "user", "user_id": "u-1", "email": "ada@example.com", "api_key_id": None}
    assert actor_of(machine, None).model_dump() == {
        "type": "api_key", "user_id": "u-1", "email": "ada@example.com", "api_key_id": "key-1"}
    assert actor_of(None, "mallory@example.com").model_dump() == {
        "type": "anonymous", "user_id": None, "email": "mallory@example.com", "api_key_id": None}
    assert actor_of(None, None).type == "anonymous"


def _hook_record(token: str, body: dict[str, Any], known: frozenset[str]) -> str:
    template = full_template(f"/api/v1/hooks/{token}", "/hooks/{token}", {"token": token})
    record = audit_record(
        record_id="au-1", workspace_id="ws-1", occurred_at=T0, actor=actor_of(None, None), method="POST",
        template=template, path_params={"token": token}, known=known, status=202,
        resource=resource_of("POST", template, {"token": token}, known)[:2], client_ip="10.0.0.1",
        agent="shop/1.0", req_id=request_id(None), duration_ms=3.2,
        fields=field_names(orjson.dumps(body), complete=True),
    )
    assert record.route == "/api/v1/hooks/{token}" and record.action == "hooks.call" and record.outcome == "success"
    return record.model_dump_json()


@given(
    token=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=24, max_size=64),
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=16, max_size=40),
)
def test_no_token_in_the_path_and_no_body_value_reaches_the_record(token: str, secret: str) -> None:
    known = collections(["/api/v1/webhooks", "/api/v1/webhooks/{webhook_id}"])
    dumped = _hook_record(token, {"order": secret, "api_key": secret}, known)
    assert token not in dumped and secret not in dumped
    assert '"api_key"' in dumped  # the field's name is kept, its value is not
