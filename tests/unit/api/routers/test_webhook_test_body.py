"""POST /webhooks/{id}/test: seed 002's bare payload and the wrapped form, told apart
without I/O (api/routers/webhooks.test_call)."""

from __future__ import annotations

from typing import Any

import pytest

from api.routers.webhooks import test_call as webhook_test_call
from schemas.errors import InvalidInput


@pytest.mark.parametrize(("given", "payload", "method", "query"), [
    (None, None, None, {}),  # no body: the sample payload
    ({}, None, None, {}),
    ({"body": {"a": 1}}, {"a": 1}, None, {}),
    ({"body": {"a": 1}, "query": {"q": "1"}, "method": "PUT"}, {"a": 1}, "PUT", {"q": "1"}),
    ({"query": {"q": "1"}}, None, None, {"q": "1"}),
    # Seed 002's form: the payload itself.
    ({"order_id": 1}, {"order_id": 1}, None, {}),
    ({"order_id": 1, "body": "x"}, {"order_id": 1, "body": "x"}, None, {}),  # a key besides the three
    ([1, 2], [1, 2], None, {}),
    ("text", "text", None, {}),
    (5, 5, None, {}),
])
def test_test_call(given: Any, payload: Any, method: str | None, query: dict[str, str]) -> None:
    options, sent = webhook_test_call(given)
    assert sent == payload
    assert (options.method, options.query) == (method, query)


@pytest.mark.parametrize(("given", "field"), [
    ({"method": "DELETE"}, "method"),
    ({"body": [1]}, "body"),
    ({"query": "q"}, "query"),
])
def test_a_wrapped_body_is_checked(given: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        webhook_test_call(given)
    assert field in caught.value.fields
