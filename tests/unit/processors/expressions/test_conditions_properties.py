"""Properties of the filter-tree evaluator (seed 003's operators), checked with hypothesis."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.expressions.conditions import MISSING, evaluate_filter, explain_filter, resolve_path

OPERATORS = (
    "equals", "not_equals", "contains", "icontains", "not_contains", "starts_with", "ends_with",
    "greater", "greater_or_equal", "less", "less_or_equal", "in", "not_in", "exists", "not_exists",
    "regex", "is_empty",
)
UNARY = {"exists", "not_exists", "is_empty"}
NEGATIONS = {"not_equals": "equals", "not_contains": "contains", "not_in": "in", "not_exists": "exists"}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=8),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))
# The field is present with some value, or absent.
contexts = st.one_of(st.just({}), values.map(lambda v: {"v": v}))
texts = st.text(alphabet=st.sampled_from("aAbBßSsİi ẞ1"), max_size=6)


def leaf(operator: str, value: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "v", "operator": operator}
    if operator not in UNARY:
        node["value"] = value
    return node


def expected_for(operator: str, value: Any) -> Any:
    """A value of the kind each operator requires (lists for in/not_in, strings for string ops)."""
    if operator in ("in", "not_in"):
        return value if isinstance(value, list) else [value]
    if operator in ("starts_with", "ends_with", "regex"):
        text = value if isinstance(value, str) else str(value)
        return re.escape(text) if operator == "regex" else text
    return value


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@given(st.sampled_from(sorted(NEGATIONS)), contexts, values)
def test_not_x_is_the_negation_of_x(negated: str, context: dict[str, Any], value: Any) -> None:
    positive = NEGATIONS[negated]
    a = evaluate_filter(leaf(negated, expected_for(negated, value)), context)
    b = evaluate_filter(leaf(positive, expected_for(positive, value)), context)
    assert a is (not b)


@given(texts, texts)
def test_icontains_is_contains_on_casefolded_strings(actual: str, expected: str) -> None:
    got = evaluate_filter(leaf("icontains", expected), {"v": actual})
    assert got is evaluate_filter(leaf("contains", fold(expected)), {"v": fold(actual)})
    assert got is (fold(expected) in fold(actual))


@given(st.text(max_size=8), st.text(max_size=4))
def test_string_operators_follow_python(actual: str, expected: str) -> None:
    assert evaluate_filter(leaf("starts_with", expected), {"v": actual}) is actual.startswith(expected)
    assert evaluate_filter(leaf("ends_with", expected), {"v": actual}) is actual.endswith(expected)
    assert evaluate_filter(leaf("regex", re.escape(expected)), {"v": actual}) is (expected in actual)
    assert evaluate_filter(leaf("contains", expected), {"v": actual}) is (expected in actual)


@given(st.one_of(st.integers(-50, 50), st.floats(-50, 50, allow_nan=False)), st.one_of(st.integers(-50, 50), st.floats(-50, 50, allow_nan=False)))
def test_ordering_operators_on_numbers(a: float, b: float) -> None:
    context = {"v": a}
    assert evaluate_filter(leaf("greater", b), context) is (a > b)
    assert evaluate_filter(leaf("greater_or_equal", b), context) is (a >= b)
    assert evaluate_filter(leaf("less", b), context) is (a < b)
    assert evaluate_filter(leaf("less_or_equal", b), context) is (a <= b)
    # Numeric strings compare as numbers, as events often carry them.
    assert evaluate_filter(leaf("greater", str(b)), context) is (a > b)
    assert evaluate_filter(leaf("less_or_equal", b), context) is (not evaluate_filter(leaf("greater", b), context))


@given(contexts, values)
def test_ordering_on_missing_or_incomparable_values_never_holds_nor_raises(context: dict[str, Any], value: Any) -> None:
    for operator in ("greater", "greater_or_equal", "less", "less_or_equal"):
        result = evaluate_filter(leaf(operator, value), context)
        assert isinstance(result, bool)
        if "v" not in context:
            assert result is False


@given(contexts)
def test_exists_and_is_empty(context: dict[str, Any]) -> None:
    present = resolve_path(context, "v") is not MISSING
    assert evaluate_filter(leaf("exists"), context) is present
    value = context.get("v")
    empty = not present or value is None or (isinstance(value, str | list) and len(value) == 0)
    assert evaluate_filter(leaf("is_empty"), context) is empty


@given(values, st.lists(values, max_size=4))
def test_in_and_not_in_are_complementary_and_match_equals(actual: Any, options: list[Any]) -> None:
    context = {"v": actual}
    inside = evaluate_filter(leaf("in", options), context)
    assert inside is any(evaluate_filter(leaf("equals", o), context) for o in options)
    assert evaluate_filter(leaf("not_in", options), context) is (not inside)


# Random trees: leaves over one field, groups and/or/not nested a few levels deep.
leaves = st.builds(lambda op, v: leaf(op, expected_for(op, v)), st.sampled_from(OPERATORS), values)
trees = st.recursive(
    leaves,
    lambda children: st.builds(
        lambda op, cs: {"operator": op, "conditions": cs}, st.sampled_from(("and", "or", "not")), st.lists(children, max_size=4)
    ),
    max_leaves=12,
)


def reference(tree: dict[str, Any], context: dict[str, Any]) -> bool:
    """and = all, or = any, not = not all (an empty group holds), leaves as evaluated alone."""
    if "field" in tree:
        return evaluate_filter(tree, context)
    results = [reference(child, context) for child in tree["conditions"]]
    if not results:
        return True
    if tree["operator"] == "or":
        return any(results)
    if tree["operator"] == "not":
        return not all(results)
    return all(results)


@settings(max_examples=300)
@given(trees, contexts)
def test_groups_compose_their_children(tree: dict[str, Any], context: dict[str, Any]) -> None:
    result = evaluate_filter(tree, context)
    assert result is reference(tree, context)
    explained = explain_filter(tree, context)
    assert explained["result"] is result
    # A failed tree names at least one leaf that made it fail; a passing one names none.
    assert (explained["failed_conditions"] == []) is result


@given(st.lists(leaves, min_size=1, max_size=5), contexts)
def test_and_or_of_a_list(children: list[dict[str, Any]], context: dict[str, Any]) -> None:
    each = [evaluate_filter(c, context) for c in children]
    assert evaluate_filter({"operator": "and", "conditions": children}, context) is all(each)
    assert evaluate_filter({"operator": "or", "conditions": children}, context) is any(each)
    assert evaluate_filter({"operator": "not", "conditions": children}, context) is (not all(each))
