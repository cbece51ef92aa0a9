"""The one rule for missing fields (processors.expressions.references): a missing field is
null, in CEL (node and edge conditions), filter trees (trigger filters) and templates alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.expressions.conditions import (
    ConditionError,
    Verdict,
    evaluate_cel,
    evaluate_cel_reading,
    judge_condition,
    judge_filter,
    referenced_fields,
)
from processors.expressions.references import Reference, cel_references, fill_missing, missing_paths
from processors.expressions.templates import render_value

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# Seed 004's own execute input: no client_exists, no is_vip.
SEED_INPUT = {"input_data": {"client_id": 123, "client_email": "newclient@example.com", "client_name": "Nouveau Client"}}


def refs(expression: str) -> list[tuple[tuple[str, ...], bool]]:
    return [(r.segments, r.presence) for r in cel_references(expression)]


# -- which fields an expression reads --------------------------------------------------------
@pytest.mark.parametrize(("expression", "expected"), [
    ("input_data.client_exists == true", [(("input_data", "client_exists"), False)]),
    ("a.b.c && d", [(("a", "b", "c"), False), (("d",), False)]),
    ("user.email.endsWith('@x.com')", [(("user", "email"), False)]),  # the method is no field
    ("size(user.tags) > 0", [(("user", "tags"), False)]),  # nor a global function
    ("has(input_data.x)", [(("input_data", "x"), True)]),
    ("has(input_data.a.b) && input_data.a.c == 1", [(("input_data", "a", "b"), True), (("input_data", "a", "c"), False)]),
    ("input_data['client id'] == 1", [(("input_data", "client id"), False)]),
    ('input_data["a"].b == 1', [(("input_data", "a", "b"), False)]),
    ("user.tags[0] == 'x'", [(("user", "tags"), False)]),  # a list index ends the path
    ("user.tags.exists(t, t == 'vip')", [(("user", "tags"), False)]),  # `t` is bound by the macro
    ("input_data.items.all(item, item.p > 1)", [(("input_data", "items"), False)]),
    ("[1, 2].map(x, x * 2) == [2, 4]", []),
    ("'input_data.x' == \"nodes.y\"", []),  # text in strings is no field
    ("r'a.b' == '''c.d''' // input_data.x", []),  # raw and triple strings, comments
    ("1.5 < 2.0 && 0x1F == 31 && 3u > 1u", []),
    ("true || false || null == null", []),
    ("input_data.?x == 1", [(("input_data",), False)]),  # optional select: no field rule needed
    ("a.b == 1 || a.b == 2", [(("a", "b"), False)]),  # once each
])
def test_cel_references(expression: str, expected: list[tuple[tuple[str, ...], bool]]) -> None:
    assert refs(expression) == expected


def test_reference_path_is_dotted() -> None:
    assert Reference(("input_data", "client_exists")).path == "input_data.client_exists"


# -- filling the context ---------------------------------------------------------------------
def test_fill_missing_leaves_a_complete_context_as_it_is() -> None:
    context = {"input_data": {"a": 1}}
    assert fill_missing(context, cel_references("input_data.a == 1")) is context


def test_fill_missing_never_changes_the_context_it_is_given() -> None:
    context: dict[str, Any] = {"input_data": {"a": {"b": 1}}}
    filled = fill_missing(context, cel_references("input_data.a.c == 1 && input_data.z.y == 2"))
    assert filled == {"input_data": {"a": {"b": 1, "c": None}, "z": {"y": None}}}
    assert context == {"input_data": {"a": {"b": 1}}}


def test_fill_missing_fills_known_roots_and_leaves_unknown_names_undefined() -> None:
    filled = fill_missing({}, cel_references("conversation.id == 'x' && typo.id == 1"))
    assert filled == {"conversation": {"id": None}}


def test_a_field_read_only_by_has_stays_absent() -> None:
    assert fill_missing({"input_data": {}}, cel_references("has(input_data.x)")) == {"input_data": {}}
    assert fill_missing({"input_data": {}}, cel_references("has(input_data.a.b)")) == {"input_data": {"a": {}}}


def test_a_field_of_a_present_non_object_is_left_to_cel() -> None:
    context = {"input_data": {"a": "text"}}
    assert fill_missing(context, cel_references("input_data.a.b == 1")) is context
    assert missing_paths(context, cel_references("input_data.a.b == 1")) == ()


def test_missing_paths_are_sorted_once_each() -> None:
    found = missing_paths({"input_data": {}}, cel_references("input_data.z == 1 || input_data.a == 2 || input_data.z == 3"))
    assert found == ("input_data.a", "input_data.z")


# -- the rule in CEL -----------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "expected"), [
    ("input_data.client_exists == true", False),
    ("input_data.client_exists == false", False),
    ("input_data.client_exists != true", True),
    ("input_data.client_exists == null", True),
    ("!(input_data.client_exists == true)", True),
    ("input_data.client_exists == true && input_data.is_vip == true", False),
    ("input_data.client_exists == true || input_data.client_id == 123", True),
    ("input_data.score > 5", False),  # ordering with null: false, like every comparison
    ("input_data.score <= 5", False),
    ("input_data.nested.deep == 'x'", False),
    ("input_data.nested.deep != 'x'", True),
    ("has(input_data.client_exists)", False),
    ("has(input_data.client_id)", True),
    ("nodes.check.validation_result == true", False),
    ("conversation.status == 'open'", False),
])
def test_a_missing_field_is_null(expression: str, expected: bool) -> None:
    assert judge_condition(expression, SEED_INPUT).result is expected


def test_the_verdict_names_the_missing_fields() -> None:
    verdict = judge_condition("input_data.client_exists == true && input_data.is_vip == true", SEED_INPUT)
    assert verdict == Verdict(False, ("input_data.client_exists", "input_data.is_vip"))
    assert judge_condition("input_data.client_id == 123", SEED_INPUT) == Verdict(True, ())
    assert judge_condition({"cel": "input_data.x > 1"}, SEED_INPUT) == Verdict(False, ("input_data.x",))


def test_a_present_null_is_not_missing() -> None:
    assert judge_condition("input_data.x == null", {"input_data": {"x": None}}) == Verdict(True, ())


def test_an_undefined_name_is_an_error_never_a_silent_false() -> None:
    with pytest.raises(ConditionError, match="validation_result"):
        judge_condition("validation_result == true", SEED_INPUT)


def test_a_type_error_without_a_missing_field_is_still_an_error() -> None:
    with pytest.raises(ConditionError, match="type error"):
        judge_condition("input_data.client_name > 5", SEED_INPUT)


def test_a_non_boolean_result_is_still_an_error() -> None:
    with pytest.raises(ConditionError, match="boolean"):
        judge_condition("input_data.client_exists", SEED_INPUT)


def test_evaluate_cel_gives_null_for_a_missing_field() -> None:
    assert evaluate_cel("input_data.nope", SEED_INPUT) is None
    assert evaluate_cel_reading("input_data.nope", SEED_INPUT) == (None, ("input_data.nope",))


# -- the rule in filter trees ------------------------------------------------------------------
def leaf(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


@pytest.mark.parametrize(("operator", "value", "expected"), [
    ("equals", True, False), ("not_equals", True, True), ("equals", None, True), ("not_equals", None, False),
    ("greater", 5, False), ("less", 5, False), ("in", [True], False), ("not_in", [True], True), ("in", [None], True),
    ("contains", "x", False), ("not_contains", "x", True), ("starts_with", "x", False), ("regex", ".*", False),
    ("exists", None, False), ("not_exists", None, True), ("is_empty", None, True), ("is_not_empty", None, False),
])
def test_a_missing_field_is_null_in_filter_trees(operator: str, value: Any, expected: bool) -> None:
    verdict = judge_filter(leaf("input_data.client_exists", operator, value), SEED_INPUT)
    assert verdict == Verdict(expected, ("input_data.client_exists",))


def test_cel_and_filter_trees_agree_on_missing_fields() -> None:
    for cel, tree in [
        ("input_data.client_exists == true", leaf("input_data.client_exists", "equals", True)),
        ("input_data.client_exists != true", leaf("input_data.client_exists", "not_equals", True)),
        ("input_data.client_exists == null", leaf("input_data.client_exists", "equals", None)),
        ("input_data.score > 5", leaf("input_data.score", "greater", 5)),
    ]:
        assert judge_condition(cel, SEED_INPUT) == judge_condition(tree, SEED_INPUT), cel


def test_a_filter_tree_names_every_missing_leaf_field_once() -> None:
    tree = {"operator": "or", "conditions": [leaf("input_data.b", "equals", 1), leaf("input_data.client_id", "equals", 123),
                                             leaf("input_data.a", "exists"), leaf("input_data.b", "equals", 2)]}
    assert judge_filter(tree, SEED_INPUT) == Verdict(True, ("input_data.a", "input_data.b"))


# -- the rule in templates (already so: Jinja's ChainableUndefined) -----------------------------
def test_a_missing_field_is_null_in_templates() -> None:
    assert render_value("{{ input_data.client_exists }}", SEED_INPUT, now=NOW) is None
    assert render_value("{{ input_data.client_exists == true }}", SEED_INPUT, now=NOW) is False
    assert render_value("{{ input_data.client_exists != true }}", SEED_INPUT, now=NOW) is True
    assert render_value("{{ input_data.a.b.c }}", SEED_INPUT, now=NOW) is None
    assert render_value("Hi {{ input_data.nope }}!", SEED_INPUT, now=NOW) == "Hi !"


# -- what static checks read -----------------------------------------------------------------
def test_referenced_fields_of_every_condition_kind() -> None:
    assert [r.path for r in referenced_fields("input_data.a == nodes.b.c")] == ["input_data.a", "nodes.b.c"]
    assert [r.path for r in referenced_fields({"expression": "user.x"})] == ["user.x"]
    assert [r.path for r in referenced_fields({"operator": "and", "conditions": [leaf("event.data.k", "equals", 1)]})] == ["event.data.k"]
    assert referenced_fields("input_data.a ==") == ()  # does not compile: nothing to say
    assert referenced_fields({"field": "", "operator": "equals", "value": 1}) == ()
    assert referenced_fields(None) == () and referenced_fields(42) == ()  # type: ignore[arg-type]
