"""What a webhook trigger's configuration may set (api/services/trigger_hooks.py): pure."""

from __future__ import annotations

from datetime import UTC, datetime

from api.services.trigger_hooks import configuration_problems, hook_token, webhook_url


def test_a_webhook_triggers_configuration_sets_methods_mode_and_timeout_and_no_secret() -> None:
    assert configuration_problems({}) == {}
    assert configuration_problems({"methods": ["post", "GET"], "response_mode": "last_node", "response_timeout_seconds": 30,
                                   "event": "order.created", "endpoint": "/webhooks/orders"}) == {}
    assert set(configuration_problems({"methods": []})) == {"configuration.methods"}
    assert set(configuration_problems({"methods": ["DELETE"]})) == {"configuration.methods"}
    assert set(configuration_problems({"methods": "POST"})) == {"configuration.methods"}
    assert set(configuration_problems({"response_mode": "later"})) == {"configuration.response_mode"}
    for bad in (0, 31, True, "10"):
        assert set(configuration_problems({"response_timeout_seconds": bad})) == {"configuration.response_timeout_seconds"}
    problems = configuration_problems({"secret": "s" * 20, "auth_mode": "hmac"})
    assert set(problems) == {"configuration.secret", "configuration.auth_mode"} and "POST /webhooks" in problems["configuration.secret"]


def test_the_url_is_the_inbound_webhook_path() -> None:
    assert webhook_url("http://127.0.0.1:8000", "tok") == "http://127.0.0.1:8000/api/v1/hooks/tok"


def test_a_trigger_webhooks_token_is_rebuilt_from_the_secret_and_changes_when_made_again() -> None:
    made = datetime(2026, 12, 4, 19, 58, 1, 123456, tzinfo=UTC)
    token = hook_token("secret", "wh-1", made)
    assert token == hook_token("secret", "wh-1", made)  # a read shows the same URL again
    assert len(token) == 43 and token.replace("-", "").replace("_", "").isalnum()
    assert token != hook_token("other secret", "wh-1", made)  # nobody without the secret
    assert token != hook_token("secret", "wh-2", made)
    assert token != hook_token("secret", "wh-1", made.replace(microsecond=0))  # made again: a new URL
