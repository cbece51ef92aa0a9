"""One error hierarchy: every error our packages define is a FluxoError, and the API
answers each with a client error (4xx) or a 503 to retry, in api/errors.py only."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from api.errors import answer, status_of
from infra.crypto import SecretError
from ingest.webhooks import BodyError, parse_input
from processors.connectors.base import ConnectorError
from processors.connectors.guard import SsrfRefused
from processors.engine.contacts import ContactError
from processors.engine.policies import DurationError
from processors.expressions.conditions import ConditionError
from processors.expressions.cron import CronError, validate_schedule
from processors.expressions.templates import TemplateError
from processors.sandbox.pool import CodeError
from schemas.errors import DomainError, ExpressionError, FluxoError, InvalidInput, PoisonRecord

PACKAGES = ("schemas", "ingest", "processors", "projections", "api", "infra")
# Exceptions that are not errors of ours, each for its reason.
NOT_OURS = {
    # A signal that ends the fire iteration inside one function of cron.py; never escapes it.
    "processors.expressions.cron._NoMoreFires",
    # A signal from json's parse_constant hook, caught in the same function (api/limits.py).
    "api.limits._NotFinite",
    # Lives in the sandbox's own process, which imports nothing of ours; it crosses the
    # pipe as (code, message) and becomes a CodeError in the pool.
    "processors.sandbox._worker.Failure",
}
# Roots no route raises as such: the API answers them 500 (a bug), and a poison record is
# dead-lettered by the stream runners, never answered.
UNANSWERED = {FluxoError, DomainError, PoisonRecord}


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                    found[f"{module.__name__}.{name}"] = obj
    return found


CLASSES = _exception_classes()


def test_the_walk_finds_the_errors_of_the_pure_modules() -> None:
    for cls in (ConditionError, TemplateError, CronError, DurationError, ContactError, CodeError, ConnectorError):
        assert f"{cls.__module__}.{cls.__name__}" in CLASSES


def test_the_exemptions_are_current() -> None:
    for name in NOT_OURS:
        assert name in CLASSES, f"{name} is gone: drop it from NOT_OURS"
        assert not issubclass(CLASSES[name], FluxoError)


@pytest.mark.parametrize("name", sorted(set(CLASSES) - NOT_OURS))
def test_every_error_of_ours_is_a_fluxo_error_the_api_answers(name: str) -> None:
    cls = CLASSES[name]
    assert issubclass(cls, FluxoError), f"{name} is not in the one hierarchy (schemas.errors)"
    if cls in UNANSWERED:
        return
    # The status depends on the class only; no constructor needs to run for it.
    status = status_of(cls.__new__(cls))  # type: ignore[arg-type]
    assert 400 <= status < 500 or status == 503, f"{name} answers {status}"


def test_expression_errors_stay_value_errors_with_their_attributes() -> None:
    for cls in (ConditionError, TemplateError, CronError, DurationError):
        assert issubclass(cls, ExpressionError) and issubclass(cls, ValueError)
    assert issubclass(ContactError, ValueError) and issubclass(BodyError, ValueError)
    error = ConditionError("unknown operator 'between'", "conditions[1].operator")
    assert (str(error), error.message, error.path) == ("unknown operator 'between'", "unknown operator 'between'", "conditions[1].operator")
    assert error.at("filters").path == "filters"
    assert answer(error) == (422, {"error": {"code": "AUTO_007", "message": "unknown operator 'between'", "fields": {}}})
    with pytest.raises(CronError) as raised:
        validate_schedule("every tuesday")
    assert status_of(raised.value) == 422


def test_errors_keep_their_own_codes_and_attributes() -> None:
    code = CodeError("CODE_TIMEOUT", "the code exceeded its CPU time limit")
    assert (str(code), code.args) == ("CODE_TIMEOUT: the code exceeded its CPU time limit", ("CODE_TIMEOUT", code.message))
    assert answer(code)[0] == 422 and answer(code)[1]["error"]["code"] == "CODE_TIMEOUT"  # type: ignore[index]
    connector = ConnectorError("CONN_TIMEOUT", "the target did not answer", retryable=True)
    assert (connector.code, connector.message, connector.retryable, str(connector)) == (
        "CONN_TIMEOUT", "the target did not answer", True, "the target did not answer",
    )
    assert status_of(connector) == 503
    assert status_of(SecretError("no key with id 'k2'")) == 503
    refused = SsrfRefused("metadata.internal", "169.254.169.254")
    assert isinstance(refused, OSError) and refused.host == "metadata.internal"
    assert answer(refused)[0] == 422 and refused.message == str(refused)


def test_a_body_error_says_which_field_as_the_webhook_route_answered() -> None:
    with pytest.raises(BodyError) as raised:
        parse_input(b"[1, 2]", "application/json", {}, "POST")
    assert isinstance(raised.value, InvalidInput)
    assert answer(raised.value) == (422, {"error": {
        "code": "AUTO_007", "message": "the body must be a JSON object",
        "fields": {"body": "the body must be a JSON object; send a JSON object"},
    }})
