"""What a webhook trigger's configuration may set (api/services/trigger_hooks.py): pure."""

from __future__ import annotations

from api.services.trigger_hooks import configuration_problems, webhook_url


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
