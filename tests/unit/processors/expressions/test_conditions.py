"""Unit tests for processors.expressions.conditions: filter trees, CEL, and the combined entry points."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.expressions.conditions import (
    MAX_CEL_LENGTH,
    MAX_DEPTH,
    MAX_LEAVES,
    MAX_REGEX_LENGTH,
    MISSING,
    ConditionError,
    compile_cel,
    evaluate_cel,
    evaluate_condition,
    evaluate_filter,
    resolve_path,
    validate_condition,
    validate_filter,
)

CTX: dict[str, Any] = {
    "event": {
        "type": "message_received",
        "data": {
            "content": "Hello World",
            "amount": 150,
            "amount_str": "150",
            "price": 9.5,
            "flag": True,
            "none": None,
            "empty_str": "",
            "empty_list": [],
            "empty_dict": {},
            "zero": 0,
            "meta": {"Source": "web"},
            "word": "banana",
        },
    },
    "user": {
        "email": "Ali@Company.com",
        "tags": ["premium", "VIP", 3],
        "profile": {"age": 30},
        "name": "Straße",
    },
    "conversation": {"status": "open"},
    "input_data": {"client_exists": True, "is_vip": True},
    "nodes": {"n1": {"ok": True}},
}


def leaf(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"field": field, "operator": operator}
    if operator not in ("exists", "not_exists", "is_empty", "is_not_empty"):
        node["value"] = value
    return node


# -- resolve_path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("user.email", "Ali@Company.com"),
        ("user.profile.age", 30),
        ("user.tags.0", "premium"),
        ("user.tags.2", 3),
        ("user.tags.007", MISSING),  # index 7 is out of range; leading zeros still parse
        ("user.tags.3", MISSING),
        ("user.tags.-1", MISSING),
        ("user.tags.٠", MISSING),  # Arabic-Indic zero is not an index
        ("user.tags.first", MISSING),
        ("user.email.0", MISSING),  # strings are not indexable
        ("user.nope", MISSING),
        ("user.nope.deeper", MISSING),
        ("nothing", MISSING),
        ("", MISSING),
        ("event.data.none", None),
        ("event.data.meta.Source", "web"),
        ("event.data.meta.source", MISSING),  # keys are case-sensitive
        ("user.profile.age.x", MISSING),
    ],
)
def test_resolve_path(path: str, expected: Any) -> None:
    result = resolve_path(CTX, path)
    assert result is expected if expected is MISSING else result == expected


def test_resolve_path_through_tuples_and_nested_lists() -> None:
    context = {"a": ({"b": [[10, 20]]},)}
    assert resolve_path(context, "a.0.b.0.1") == 20
    assert resolve_path(context, "a.1") is MISSING


def test_missing_sentinel_is_falsy_singleton_with_clear_repr() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"
    assert resolve_path({}, "x") is MISSING


def test_missing_differs_from_present_null() -> None:
    assert resolve_path({"a": None}, "a") is None
    assert resolve_path({}, "a") is MISSING


# -- leaf operators: true / false / missing ------------------------------------------------

OPERATOR_CASES: list[tuple[str, str, Any, bool]] = [
    # equals
    ("equals", "user.profile.age", 30, True),
    ("equals", "user.profile.age", 31, False),
    ("equals", "user.nope", 30, False),
    ("equals", "user.nope", None, True),  # a missing field is null (the one rule)
    ("equals", "event.data.none", None, True),
    ("equals", "event.data.amount_str", 150, True),  # number vs numeric string
    ("equals", "event.data.amount", "150", True),
    ("equals", "event.data.amount", "150.0", True),
    ("equals", "event.data.amount_str", "150.0", False),  # string vs string: no coercion
    ("equals", "event.data.flag", 1, False),  # true is not 1
    ("equals", "event.data.flag", True, True),
    ("equals", "event.data.zero", False, False),
    ("equals", "user.tags", ["premium", "VIP", 3], True),
    ("equals", "user.email", "ali@company.com", False),  # case-sensitive
    # not_equals
    ("not_equals", "user.profile.age", 31, True),
    ("not_equals", "user.profile.age", 30, False),
    ("not_equals", "user.nope", 30, True),
    # contains
    ("contains", "event.data.content", "World", True),
    ("contains", "event.data.content", "world", False),
    ("contains", "user.tags", "premium", True),
    ("contains", "user.tags", "Premium", False),
    ("contains", "user.tags", "3", True),  # numeric string matches the number 3
    ("contains", "event.data.meta", "Source", True),  # dict: key presence
    ("contains", "event.data.meta", "web", False),
    ("contains", "event.data.meta", ["unhashable"], False),
    ("contains", "event.data.content", 5, False),  # incompatible types
    ("contains", "user.profile.age", 3, False),
    ("contains", "user.nope", "x", False),
    # not_contains
    ("not_contains", "event.data.content", "world", True),
    ("not_contains", "event.data.content", "World", False),
    ("not_contains", "user.tags", "premium", False),
    ("not_contains", "user.nope", "x", True),
    # icontains
    ("icontains", "event.data.content", "WORLD", True),
    ("icontains", "event.data.content", "planet", False),
    ("icontains", "user.tags", "PREMIUM", True),
    ("icontains", "user.tags", "vip", True),
    ("icontains", "user.tags", 3, True),
    ("icontains", "user.tags", "gold", False),
    ("icontains", "event.data.meta", "source", True),
    ("icontains", "user.name", "STRASSE", True),  # casefold: ß == ss
    ("icontains", "user.nope", "x", False),
    # iequals
    ("iequals", "user.email", "ali@company.com", True),
    ("iequals", "user.name", "STRASSE", True),
    ("iequals", "user.email", "bob@company.com", False),
    ("iequals", "user.profile.age", "30", True),
    ("iequals", "user.nope", "x", False),
    # starts_with / ends_with (case-sensitive)
    ("starts_with", "user.email", "Ali", True),
    ("starts_with", "user.email", "ali", False),
    ("starts_with", "user.profile.age", "3", False),  # not a string
    ("starts_with", "user.nope", "A", False),
    ("ends_with", "user.email", "@Company.com", True),
    ("ends_with", "user.email", "@company.com", False),
    ("ends_with", "user.nope", "m", False),
    # case-insensitive variants
    ("istarts_with", "user.email", "ALI@", True),
    ("istarts_with", "user.email", "bob", False),
    ("istarts_with", "user.nope", "a", False),
    ("iends_with", "user.email", "@COMPANY.COM", True),
    ("iends_with", "user.email", "@example.com", False),
    ("iends_with", "user.nope", "m", False),
    # ordering
    ("greater", "user.profile.age", 25, True),
    ("greater", "user.profile.age", 30, False),
    ("greater", "user.profile.age", "25", True),  # numeric string vs number
    ("greater", "event.data.amount_str", 100, True),
    ("greater", "event.data.word", "apple", True),  # str vs str: lexicographic
    ("greater", "event.data.amount_str", "9", False),  # "150" < "9" as strings
    ("greater", "event.data.word", 5, False),  # incompatible: False, no raise
    ("greater", "event.data.flag", 0, False),  # booleans are not ordered
    ("greater", "event.data.none", 0, False),
    ("greater", "event.data.meta", {}, False),  # same type, unordered
    ("greater", "user.nope", 0, False),
    ("greater_equal", "user.profile.age", 30, True),
    ("greater_equal", "user.profile.age", 31, False),
    ("greater_equal", "event.data.price", 9.5, True),
    ("greater_equal", "user.nope", 0, False),
    ("less", "user.profile.age", 31, True),
    ("less", "user.profile.age", 30, False),
    ("less", "event.data.price", "10", True),
    ("less", "event.data.word", 5, False),
    ("less", "user.nope", 100, False),
    ("less_equal", "user.profile.age", 30, True),
    ("less_equal", "user.profile.age", 29.9, False),
    ("less_equal", "user.nope", 100, False),
    # in / not_in
    ("in", "conversation.status", ["open", "pending"], True),
    ("in", "conversation.status", ["closed"], False),
    ("in", "user.profile.age", ["30", 40], True),
    ("in", "user.nope", ["open"], False),
    ("in", "user.nope", [None], True),  # a missing field is null
    ("not_in", "conversation.status", ["closed"], True),
    ("not_in", "conversation.status", ["open"], False),
    ("not_in", "user.nope", ["open"], True),
    # exists / not_exists
    ("exists", "user.email", None, True),
    ("exists", "event.data.none", None, True),  # present null exists
    ("exists", "user.nope", None, False),
    ("not_exists", "user.nope", None, True),
    ("not_exists", "user.email", None, False),
    ("not_exists", "event.data.none", None, False),
    # is_empty / is_not_empty
    ("is_empty", "user.nope", None, True),
    ("is_empty", "event.data.none", None, True),
    ("is_empty", "event.data.empty_str", None, True),
    ("is_empty", "event.data.empty_list", None, True),
    ("is_empty", "event.data.empty_dict", None, True),
    ("is_empty", "event.data.zero", None, False),
    ("is_empty", "event.data.flag", None, False),
    ("is_empty", "user.email", None, False),
    ("is_not_empty", "user.email", None, True),
    ("is_not_empty", "user.tags", None, True),
    ("is_not_empty", "event.data.empty_list", None, False),
    ("is_not_empty", "event.data.none", None, False),
    ("is_not_empty", "user.nope", None, False),
    # regex (re.search, case-sensitive)
    ("regex", "user.email", r"@Company\.com$", True),
    ("regex", "user.email", r"mpany", True),  # search, not match
    ("regex", "user.email", r"^bob", False),
    ("regex", "user.profile.age", r"3", False),  # only strings
    ("regex", "user.nope", r".*", False),
]


@pytest.mark.parametrize(
    ("operator", "field", "value", "expected"),
    OPERATOR_CASES,
    ids=[f"{op}-{field}-{value!r}" for op, field, value, _ in OPERATOR_CASES],
)
def test_leaf_operator(operator: str, field: str, value: Any, expected: bool) -> None:
    assert evaluate_filter(leaf(field, operator, value), CTX) is expected


def test_every_operator_has_true_false_and_missing_cases() -> None:
    outcomes: dict[str, set[bool]] = {}
    fields_seen: dict[str, set[bool]] = {}
    for operator, field, _, expected in OPERATOR_CASES:
        outcomes.setdefault(operator, set()).add(expected)
        fields_seen.setdefault(operator, set()).add(resolve_path(CTX, field) is MISSING)
    assert len(outcomes) == 21
    for operator, seen in outcomes.items():
        assert seen == {True, False}, operator
        assert fields_seen[operator] == {True, False}, operator  # present and missing fields


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("equals", False),
        ("iequals", False),
        ("contains", False),
        ("icontains", False),
        ("starts_with", False),
        ("ends_with", False),
        ("istarts_with", False),
        ("iends_with", False),
        ("greater", False),
        ("greater_equal", False),
        ("less", False),
        ("less_equal", False),
        ("in", False),
        ("regex", False),
        ("exists", False),
        ("is_not_empty", False),
        ("not_equals", True),
        ("not_contains", True),
        ("not_in", True),
        ("not_exists", True),
        ("is_empty", True),
    ],
)
def test_missing_field_semantics(operator: str, expected: bool) -> None:
    value: Any = ["x"] if operator in ("in", "not_in") else "x"
    assert evaluate_filter(leaf("no.such.path", operator, value), CTX) is expected


ALIASES = [
    ("eq", "equals"),
    ("==", "equals"),
    ("ne", "not_equals"),
    ("neq", "not_equals"),
    ("!=", "not_equals"),
    ("gt", "greater"),
    ("gte", "greater_equal"),
    ("lt", "less"),
    ("lte", "less_equal"),
    ("startswith", "starts_with"),
    ("endswith", "ends_with"),
]


@pytest.mark.parametrize(("alias", "canonical"), ALIASES)
@pytest.mark.parametrize(
    ("field", "value"),
    [("user.profile.age", 30), ("user.profile.age", 29), ("user.email", "Ali"), ("user.nope", 1)],
)
def test_alias_behaves_like_canonical(alias: str, canonical: str, field: str, value: Any) -> None:
    if canonical in ("starts_with", "ends_with"):
        value = str(value)
    assert evaluate_filter(leaf(field, alias, value), CTX) == evaluate_filter(
        leaf(field, canonical, value), CTX
    )
    assert validate_filter(leaf(field, alias, value)) == []


def test_operator_names_are_case_sensitive() -> None:
    errors = validate_filter(leaf("user.email", "EQUALS", "x"))
    assert [e.path for e in errors] == ["operator"]


def test_numeric_coercion_is_strict_about_what_a_number_is() -> None:
    context = {"v": 10}
    for text in ("nan", "inf", "1_0", "0x10", "", " ", "ten", "١٠"):
        assert not evaluate_filter(leaf("v", "equals", text), context), text
        assert not evaluate_filter(leaf("v", "greater", text), context), text
    assert evaluate_filter(leaf("v", "equals", " 10 "), context)
    assert evaluate_filter(leaf("v", "equals", "1e1"), context)
    assert evaluate_filter(leaf("v", "less", "+1.5e2"), context)


def test_big_integers_compare_exactly() -> None:
    big = 2**63 + 1
    assert evaluate_filter(leaf("v", "equals", str(big)), {"v": big})
    assert not evaluate_filter(leaf("v", "equals", str(big - 1)), {"v": big})


def test_datetimes_compare_only_when_comparable() -> None:
    aware = datetime(2024, 1, 1, tzinfo=UTC)
    naive = datetime(2024, 1, 1)
    assert evaluate_filter(leaf("d", "less", datetime(2025, 1, 1, tzinfo=UTC)), {"d": aware})
    assert not evaluate_filter(leaf("d", "less", naive), {"d": aware})  # would raise in Python
    assert not evaluate_filter(leaf("d", "less", date(2025, 1, 1)), {"d": aware})


def test_iso_strings_compare_lexicographically() -> None:
    context = {"t": "2024-05-01T12:00:00+00:00"}
    assert evaluate_filter(leaf("t", "greater", "2024-01-01T00:00:00+00:00"), context)


def test_regex_uses_search_and_full_python_syntax() -> None:
    context = {"phone": "+98 912 000 1234"}
    assert evaluate_filter(leaf("phone", "regex", r"^\+98\s?9\d{2}"), context)
    assert evaluate_filter(leaf("phone", "regex", r"(?i)^\+98"), context)
    assert not evaluate_filter(leaf("phone", "regex", r"^0912"), context)


def test_icontains_normalises_compatibility_forms() -> None:
    # Full-width letters and Arabic presentation forms fold to their plain forms (NFKC).
    assert evaluate_filter(leaf("t", "icontains", "coupon"), {"t": "ＣＯＵＰＯＮ"})
    assert evaluate_filter(leaf("t", "icontains", "سلام"), {"t": "\ufeb3\ufefc\ufee1"})


# -- seed examples -------------------------------------------------------------------------

PERSIAN_OR_ENGLISH = {
    "operator": "or",
    "conditions": [
        {"field": "event.data.content", "operator": "icontains", "value": "کد تخفیف"},
        {"field": "event.data.content", "operator": "icontains", "value": "coupon"},
    ],
}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("سلام، کد تخفیف دارید؟", True),
        ("Need a COUPON", True),
        ("coupon", True),
        ("hello", False),
        ("", False),
        ("کد", False),
    ],
)
def test_seed_coupon_filter(content: str, expected: bool) -> None:
    context = {"event": {"type": "message_received", "data": {"content": content}}}
    assert evaluate_filter(PERSIAN_OR_ENGLISH, context) is expected


def test_seed_coupon_filter_without_content_is_false() -> None:
    assert evaluate_filter(PERSIAN_OR_ENGLISH, {"event": {"data": {}}}) is False


PREMIUM = {
    "operator": "and",
    "conditions": [
        {"field": "user.tags", "operator": "contains", "value": "premium"},
        {
            "operator": "or",
            "conditions": [
                {"field": "user.email", "operator": "ends_with", "value": "@company.com"},
                {"field": "user.profile.age", "operator": "greater", "value": 25},
            ],
        },
    ],
}


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"tags": ["premium"], "email": "a@company.com", "profile": {"age": 20}}, True),
        ({"tags": ["premium"], "email": "a@gmail.com", "profile": {"age": 30}}, True),
        ({"tags": ["premium"], "email": "a@company.com"}, True),
        ({"tags": ["premium"], "email": "a@gmail.com", "profile": {"age": 25}}, False),
        ({"tags": ["premium"], "email": "a@gmail.com"}, False),
        ({"tags": ["basic"], "email": "a@company.com", "profile": {"age": 40}}, False),
        ({"email": "a@company.com"}, False),
        ({"tags": ["premium"], "email": "a@COMPANY.com", "profile": {"age": "26"}}, True),
        ({}, False),
    ],
)
def test_seed_premium_filter(user: dict[str, Any], expected: bool) -> None:
    assert evaluate_filter(PREMIUM, {"user": user}) is expected


# -- groups ---------------------------------------------------------------------------------

TRUE_LEAF = leaf("user.profile.age", "equals", 30)
FALSE_LEAF = leaf("user.profile.age", "equals", 31)


@pytest.mark.parametrize(
    ("operator", "children", "expected"),
    [
        ("and", [TRUE_LEAF, TRUE_LEAF], True),
        ("and", [TRUE_LEAF, FALSE_LEAF], False),
        ("and", [FALSE_LEAF, FALSE_LEAF], False),
        ("or", [TRUE_LEAF, FALSE_LEAF], True),
        ("or", [FALSE_LEAF, FALSE_LEAF], False),
        ("or", [FALSE_LEAF, TRUE_LEAF], True),
        ("not", [TRUE_LEAF], False),
        ("not", [FALSE_LEAF], True),
        ("not", [TRUE_LEAF, FALSE_LEAF], True),  # negates the AND of its children
        ("not", [TRUE_LEAF, TRUE_LEAF], False),
        ("and", [TRUE_LEAF], True),
        ("or", [TRUE_LEAF], True),
    ],
)
def test_group_operators(operator: str, children: list[Any], expected: bool) -> None:
    assert evaluate_filter({"operator": operator, "conditions": children}, CTX) is expected


@pytest.mark.parametrize(
    "tree",
    [
        {},
        {"operator": "and", "conditions": []},
        {"operator": "or", "conditions": []},
        {"operator": "not", "conditions": []},
        {"operator": "and"},
        {"conditions": []},
        {"operator": "or", "conditions": None},
    ],
)
def test_empty_filters_are_true(tree: dict[str, Any]) -> None:
    assert evaluate_filter(tree, CTX) is True
    assert validate_filter(tree) == []


def test_empty_child_is_true() -> None:
    assert evaluate_filter({"operator": "and", "conditions": [{}, TRUE_LEAF]}, CTX)
    assert evaluate_filter({"operator": "or", "conditions": [{}, FALSE_LEAF]}, CTX)


def test_group_without_operator_means_and() -> None:
    assert evaluate_filter({"conditions": [TRUE_LEAF, TRUE_LEAF]}, CTX)
    assert not evaluate_filter({"conditions": [TRUE_LEAF, FALSE_LEAF]}, CTX)


def test_a_single_leaf_is_a_valid_tree() -> None:
    assert evaluate_filter(TRUE_LEAF, CTX) is True
    assert evaluate_filter(FALSE_LEAF, CTX) is False


def test_deeply_nested_mixed_tree() -> None:
    tree = {
        "operator": "or",
        "conditions": [
            FALSE_LEAF,
            {
                "operator": "and",
                "conditions": [
                    leaf("user.tags", "contains", "VIP"),
                    {
                        "operator": "not",
                        "conditions": [
                            {
                                "operator": "or",
                                "conditions": [
                                    leaf("conversation.status", "equals", "closed"),
                                    leaf("user.banned", "equals", True),
                                ],
                            }
                        ],
                    },
                    leaf("event.type", "in", ["message_received", "user_created"]),
                ],
            },
        ],
    }
    assert evaluate_filter(tree, CTX) is True
    closed = {**CTX, "conversation": {"status": "closed"}}
    assert evaluate_filter(tree, closed) is False


def test_extra_keys_on_nodes_are_ignored() -> None:
    tree = {"id": "g1", "operator": "and", "conditions": [{**TRUE_LEAF, "id": "l1", "label": "x"}]}
    assert evaluate_filter(tree, CTX)
    assert validate_filter(tree) == []


def test_evaluation_does_not_mutate_tree_or_context() -> None:
    import copy

    tree = copy.deepcopy(PREMIUM)
    context = copy.deepcopy(CTX)
    evaluate_filter(tree, context)
    assert tree == PREMIUM
    assert context == CTX


def test_path_through_a_scalar_is_missing() -> None:
    assert evaluate_filter(leaf("a", "not_exists"), {"a": 1}) is False
    assert evaluate_filter(leaf("a.b", "not_exists"), {"a": 1}) is True


# -- validation ------------------------------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    """A chain of groups whose innermost leaf sits at `depth` (root is depth 1)."""
    node: dict[str, Any] = TRUE_LEAF
    for _ in range(depth - 1):
        node = {"operator": "and", "conditions": [node]}
    return node


@pytest.mark.parametrize(
    ("tree", "paths"),
    [
        ({"operator": "and", "conditions": [leaf("a", "bogus", 1)]}, ["conditions[0].operator"]),
        ({"operator": "xor", "conditions": []}, ["operator"]),
        ({"operator": "AND", "conditions": []}, ["operator"]),
        (
            {"operator": "and", "conditions": [{"operator": "equals", "value": 1}]},
            ["conditions[0].field"],
        ),
        ({"conditions": [{"field": 5, "operator": "equals", "value": 1}]}, ["conditions[0].field"]),
        (
            {"conditions": [{"field": "", "operator": "equals", "value": 1}]},
            ["conditions[0].field"],
        ),
        (
            {"conditions": [{"field": "a..b", "operator": "equals", "value": 1}]},
            ["conditions[0].field"],
        ),
        ({"conditions": [{"field": "a", "value": 1}]}, ["conditions[0].operator"]),
        ({"conditions": [{"field": "a", "operator": 7, "value": 1}]}, ["conditions[0].operator"]),
        ({"conditions": [{"field": "a", "operator": "equals"}]}, ["conditions[0].value"]),
        ({"conditions": [{"field": "a", "operator": "in", "value": "x"}]}, ["conditions[0].value"]),
        (
            {"conditions": [{"field": "a", "operator": "not_in", "value": 3}]},
            ["conditions[0].value"],
        ),
        (
            {"conditions": [{"field": "a", "operator": "starts_with", "value": 3}]},
            ["conditions[0].value"],
        ),
        (
            {"conditions": [{"field": "a", "operator": "regex", "value": 3}]},
            ["conditions[0].value"],
        ),
        (
            {"conditions": [{"field": "a", "operator": "regex", "value": "(unclosed"}]},
            ["conditions[0].value"],
        ),
        (
            {
                "conditions": [
                    {"field": "a", "operator": "regex", "value": "a" * (MAX_REGEX_LENGTH + 1)}
                ]
            },
            ["conditions[0].value"],
        ),
        ({"operator": "and", "conditions": "not a list"}, ["conditions"]),
        ({"operator": "and", "conditions": {"field": "a"}}, ["conditions"]),
        ({"operator": "and", "conditions": [5]}, ["conditions[0]"]),
        ({"operator": "and", "conditions": ["user.email"]}, ["conditions[0]"]),
        (
            {"conditions": [{"field": "a", "operator": "equals", "value": 1, "conditions": []}]},
            ["conditions[0]"],
        ),
        ({"conditions": [{"value": 1}]}, ["conditions[0]"]),
        ({"value": 1}, [""]),
        (
            {
                "operator": "and",
                "conditions": [
                    {"operator": "or", "conditions": [{"operator": "nand", "conditions": []}]}
                ],
            },
            ["conditions[0].conditions[0].operator"],
        ),
    ],
)
def test_validate_filter_reports_structural_problems(tree: Any, paths: list[str]) -> None:
    errors = validate_filter(tree)
    assert [e.path for e in errors] == paths
    assert all(isinstance(e, ConditionError) and str(e) for e in errors)
    with pytest.raises(ConditionError) as raised:
        evaluate_filter(tree, CTX)
    assert raised.value.path == paths[0]


def test_validate_filter_rejects_a_non_mapping_root() -> None:
    errors = validate_filter([TRUE_LEAF])  # type: ignore[arg-type]
    assert [e.path for e in errors] == [""]


def test_validate_filter_collects_every_problem() -> None:
    tree = {
        "operator": "xor",
        "conditions": [
            leaf("a", "bogus", 1),
            {"field": "a", "operator": "regex", "value": "["},
            5,
            {"operator": "or", "conditions": "x"},
            {"field": "", "operator": "nope"},
            TRUE_LEAF,
        ],
    }
    paths = [e.path for e in validate_filter(tree)]
    assert paths == [
        "operator",
        "conditions[0].operator",
        "conditions[1].value",
        "conditions[2]",
        "conditions[3].conditions",
        "conditions[4].field",
        "conditions[4].operator",
    ]


def test_depth_limit() -> None:
    assert validate_filter(nested(MAX_DEPTH)) == []
    assert evaluate_filter(nested(MAX_DEPTH), CTX) is True
    errors = validate_filter(nested(MAX_DEPTH + 1))
    assert len(errors) == 1
    assert errors[0].path == ".".join(["conditions[0]"] * MAX_DEPTH)
    assert "deeper" in str(errors[0])
    with pytest.raises(ConditionError):
        evaluate_filter(nested(MAX_DEPTH + 1), CTX)


def test_absurd_depth_does_not_recurse_forever() -> None:
    errors = validate_filter(nested(5000))
    assert len(errors) == 1


def test_leaf_limit() -> None:
    at_limit = {"operator": "or", "conditions": [TRUE_LEAF] * MAX_LEAVES}
    assert validate_filter(at_limit) == []
    over = {"operator": "or", "conditions": [TRUE_LEAF] * (MAX_LEAVES + 1)}
    errors = validate_filter(over)
    assert [e.path for e in errors] == [f"conditions[{MAX_LEAVES}]"]
    with pytest.raises(ConditionError, match="more than"):
        evaluate_filter(over, CTX)


def test_leaf_limit_counts_across_nested_groups() -> None:
    half = {"operator": "and", "conditions": [TRUE_LEAF] * (MAX_LEAVES // 2 + 1)}
    tree = {"operator": "or", "conditions": [half, half]}
    assert len(validate_filter(tree)) == 1


def test_regex_at_length_limit_is_fine() -> None:
    tree = leaf("a", "regex", "a" * MAX_REGEX_LENGTH)
    assert validate_filter(tree) == []
    assert evaluate_filter(tree, {"a": "a" * MAX_REGEX_LENGTH}) is True


def test_malformed_branch_fails_even_when_short_circuit_would_skip_it() -> None:
    tree = {"operator": "or", "conditions": [TRUE_LEAF, leaf("a", "bogus", 1)]}
    with pytest.raises(ConditionError) as raised:
        evaluate_filter(tree, CTX)
    assert raised.value.path == "conditions[1].operator"


def test_unary_operators_ignore_a_value() -> None:
    tree = {"field": "user.email", "operator": "exists", "value": "ignored"}
    assert validate_filter(tree) == []
    assert evaluate_filter(tree, CTX)


def test_condition_error_shape() -> None:
    error = ConditionError("boom", "conditions[1].operator")
    assert isinstance(error, ValueError)
    assert str(error) == "boom"
    assert error.path == "conditions[1].operator"
    assert error.message == "boom"
    assert ConditionError("x").path == ""
    assert error.at("elsewhere").path == "elsewhere"


# -- CEL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "context", "expected"),
    [
        (
            "input_data.client_exists == true && input_data.is_vip == true",
            {"input_data": {"client_exists": True, "is_vip": True}},
            True,
        ),
        (
            "input_data.client_exists == true && input_data.is_vip == true",
            {"input_data": {"client_exists": True, "is_vip": False}},
            False,
        ),
        ("user.email.endsWith('@example.com')", {"user": {"email": "a@example.com"}}, True),
        ("user.email.endsWith('@example.com')", {"user": {"email": "a@other.com"}}, False),
        ("validation_result == true", {"validation_result": True}, True),
        ("validation_result == true", {"validation_result": False}, False),
        ("'premium' in user.tags", {"user": {"tags": ["premium"]}}, True),
        ("size(user.tags) > 1", {"user": {"tags": ["a"]}}, False),
        ("has(user.email)", {"user": {}}, False),
        ("user.profile.age >= 18 ? 'adult' : 'minor'", {"user": {"profile": {"age": 30}}}, "adult"),
        ("1 + 2", {}, 3),
        ("nodes.check.ok", {"nodes": {"check": {"ok": True}}}, True),
        (
            "event.data.content.contains('تخفیف')",
            {"event": {"data": {"content": "کد تخفیف"}}},
            True,
        ),
    ],
)
def test_evaluate_cel(expression: str, context: dict[str, Any], expected: Any) -> None:
    assert evaluate_cel(expression, context) == expected


@pytest.mark.parametrize("expression", ["1 +", "(((", "a ==", "in", "", "   ", "x.?y"])
def test_cel_syntax_error(expression: str) -> None:
    with pytest.raises(ConditionError, match="invalid CEL expression"):
        compile_cel(expression)
    with pytest.raises(ConditionError):
        evaluate_cel(expression, {})


def test_cel_undefined_variable_names_it_and_lists_the_context() -> None:
    with pytest.raises(ConditionError) as raised:
        evaluate_cel("validation_result == true", {"user": {}, "event": {}})
    message = str(raised.value)
    assert "undefined variable" in message
    assert "'validation_result'" in message
    assert "event, user" in message


def test_cel_undefined_function() -> None:
    with pytest.raises(ConditionError, match="'nope'"):
        evaluate_cel("nope(1)", {})


def test_cel_missing_field_reads_as_null() -> None:
    assert evaluate_cel("user.missing == 1", {"user": {}}) is False
    assert evaluate_cel("user.missing == null", {"user": {}}) is True


def test_cel_missing_key_chosen_at_run_time_is_still_an_error() -> None:
    # A key computed by the expression cannot be seen in its tokens: CEL's own error stays.
    with pytest.raises(ConditionError, match="missing key 'missing'"):
        evaluate_cel("user[name] == 1", {"user": {}, "name": "missing"})


@pytest.mark.parametrize(
    ("expression", "context"),
    [
        ("user.profile.age > 'a'", {"user": {"profile": {"age": 30}}}),
        ("x + 'a'", {"x": 1}),
        ("x.y", {"x": None}),
        ("x > 1", {"x": True}),
    ],
)
def test_cel_type_error(expression: str, context: dict[str, Any]) -> None:
    with pytest.raises(ConditionError, match="type error"):
        evaluate_cel(expression, context)


@pytest.mark.parametrize(
    ("expression", "context"),
    [
        ("1 / 0", {}),
        ("x[5]", {"x": [1]}),
        ("9223372036854775807 + 1", {}),
        ("int(x)", {"x": "abc"}),
        ("'abc'.matches('[')", {}),
        ("x == 1", {"x": object()}),
        ("x == 1", {"x": {"a": {1, 2}}}),
    ],
)
def test_cel_runtime_failures_become_condition_errors(
    expression: str, context: dict[str, Any]
) -> None:
    with pytest.raises(ConditionError):
        evaluate_cel(expression, context)


def test_cel_length_limit() -> None:
    at_limit = "true" + " " * (MAX_CEL_LENGTH - 4)
    assert evaluate_cel(at_limit, {}) is True
    with pytest.raises(ConditionError, match="longer than"):
        compile_cel(at_limit + " ")


def test_cel_rejects_non_string() -> None:
    with pytest.raises(ConditionError, match="must be a string"):
        compile_cel(42)


def test_compile_cel_is_cached_and_bounded() -> None:
    assert compile_cel("1 == 1") is compile_cel("1 == 1")
    assert compile_cel.cache_info().maxsize == 1024


def test_cel_context_conversion() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    context = {
        "pair": (1, 2),
        "nested": {"items": ({"at": when},), "day": date(2024, 5, 1)},
        "when": when,
        "a-b": object(),  # not a CEL identifier: dropped, so it cannot break conversion
        "ok": True,
    }
    assert evaluate_cel("pair == [1, 2]", context) is True
    assert evaluate_cel("when == '2024-05-01T12:00:00+00:00'", context) is True
    assert evaluate_cel("nested.items[0].at == '2024-05-01T12:00:00+00:00'", context) is True
    assert evaluate_cel("nested.day == '2024-05-01'", context) is True
    assert evaluate_cel("ok", context) is True


def test_cel_only_converts_variables_the_expression_reads() -> None:
    # An unconvertible value elsewhere in the context (say another node's output) is harmless.
    assert evaluate_cel("ok", {"ok": True, "other": object()}) is True


def test_cel_cyclic_context_is_an_error_not_a_crash() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(ConditionError, match="nested deeper"):
        evaluate_cel("x.self == 1", {"x": cyclic})


def test_cel_does_not_mutate_context() -> None:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    context = {"x": {"when": when, "pair": (1, 2)}}
    evaluate_cel("x.pair == [1, 2]", context)
    assert context == {"x": {"when": when, "pair": (1, 2)}}


# -- evaluate_condition / validate_condition ----------------------------------------------------


@pytest.mark.parametrize("spec", [None, "", "   ", {"expression": ""}, {"cel": None}, {}])
def test_no_condition_is_true(spec: Any) -> None:
    assert evaluate_condition(spec, CTX) is True
    assert validate_condition(spec) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("input_data.client_exists == true && input_data.is_vip == true", True),
        ("input_data.is_vip == false", False),
        ({"expression": "user.profile.age > 25"}, True),
        ({"cel": "user.profile.age > 35"}, False),
        (PREMIUM, True),  # ends_with is case-sensitive (@Company.com), but age 30 > 25
        ({"operator": "and", "conditions": [TRUE_LEAF]}, True),
        (TRUE_LEAF, True),
        ({"operator": "or", "conditions": [FALSE_LEAF]}, False),
    ],
)
def test_evaluate_condition_dispatch(spec: Any, expected: bool) -> None:
    assert evaluate_condition(spec, CTX) is expected


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ("1 + 1", ""),
        ("user.email", ""),
        ({"expression": "user.profile"}, "expression"),
        ({"cel": "[true]"}, "cel"),
    ],
)
def test_condition_must_be_boolean(spec: Any, path: str) -> None:
    with pytest.raises(ConditionError, match="condition did not evaluate to a boolean") as raised:
        evaluate_condition(spec, CTX)
    assert raised.value.path == path


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ("nope == 1", ""),
        ({"expression": "nope == 1"}, "expression"),
        ({"cel": "1 +"}, "cel"),
        ({"expression": 5}, "expression"),
    ],
)
def test_condition_cel_errors_carry_the_key(spec: Any, path: str) -> None:
    with pytest.raises(ConditionError) as raised:
        evaluate_condition(spec, CTX)
    assert raised.value.path == path


@pytest.mark.parametrize(
    "spec",
    [
        5,
        ["a"],
        True,
        {"foo": 1},
        {"expression": "true", "cel": "true"},
        {"expression": "true", "conditions": []},
    ],
)
def test_unsupported_condition_specs(spec: Any) -> None:
    with pytest.raises(ConditionError):
        evaluate_condition(spec, CTX)
    assert len(validate_condition(spec)) == 1


def test_malformed_tree_through_evaluate_condition() -> None:
    with pytest.raises(ConditionError) as raised:
        evaluate_condition({"operator": "and", "conditions": [leaf("a", "bogus", 1)]}, CTX)
    assert raised.value.path == "conditions[0].operator"


@pytest.mark.parametrize(
    ("spec", "paths"),
    [
        ("user.email == 'x'", []),
        ("nope == 1", []),  # compile check only: variables are not known without a context
        ("1 +", [""]),
        ({"expression": "1 +"}, ["expression"]),
        ({"cel": "true"}, []),
        (PREMIUM, []),
        (
            {"operator": "xor", "conditions": [leaf("a", "bogus", 1)]},
            ["operator", "conditions[0].operator"],
        ),
        ("x" * (MAX_CEL_LENGTH + 1), [""]),
    ],
)
def test_validate_condition(spec: Any, paths: list[str]) -> None:
    assert [e.path for e in validate_condition(spec)] == paths


# -- properties --------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["10", "3.5", "abc", "ABC", "Straße", "کد تخفیف", "", " 7 "])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)
contexts = st.fixed_dictionaries(
    {"data": st.fixed_dictionaries({"a": json_values, "b": json_values})}
)
fields = st.sampled_from(
    ["data.a", "data.b", "data.a.0", "data.a.x", "data.missing", "nothing.here"]
)
ALL_OPERATORS = sorted({op for op, *_ in OPERATOR_CASES} | {alias for alias, _ in ALIASES})
STRING_OPERATORS = {
    "starts_with",
    "ends_with",
    "istarts_with",
    "iends_with",
    "startswith",
    "endswith",
}


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(ALL_OPERATORS))
    field = draw(fields)
    if operator in ("in", "not_in"):
        value: Any = draw(st.lists(json_scalars, max_size=4))
    elif operator in STRING_OPERATORS:
        value = draw(st.text(max_size=6))
    elif operator == "regex":
        value = draw(st.sampled_from(["^a", "b$", r"\d+", "x|y", "", "(?i)abc", "."]))
    else:
        value = draw(json_values)
    return {"field": field, "operator": operator, "value": value}


@settings(max_examples=300)
@given(tree=leaves(), context=contexts)
def test_property_not_negates_a_leaf(tree: dict[str, Any], context: dict[str, Any]) -> None:
    assert validate_filter(tree) == []
    result = evaluate_filter(tree, context)
    assert isinstance(result, bool)
    assert evaluate_filter({"operator": "not", "conditions": [tree]}, context) is (not result)


@settings(max_examples=200)
@given(trees=st.lists(leaves(), min_size=1, max_size=5), context=contexts)
def test_property_groups_compose_like_all_and_any(
    trees: list[dict[str, Any]], context: dict[str, Any]
) -> None:
    results = [evaluate_filter(tree, context) for tree in trees]
    assert evaluate_filter({"operator": "and", "conditions": trees}, context) is all(results)
    assert evaluate_filter({"operator": "or", "conditions": trees}, context) is any(results)
    assert evaluate_filter({"operator": "not", "conditions": trees}, context) is (not all(results))


NEGATIONS = [
    ("equals", "not_equals"),
    ("contains", "not_contains"),
    ("in", "not_in"),
    ("exists", "not_exists"),
    ("is_empty", "is_not_empty"),
]


@settings(max_examples=200)
@given(data=st.data(), context=contexts, field=fields)
def test_property_negated_operators_are_exact_complements(
    data: st.DataObject, context: dict[str, Any], field: str
) -> None:
    positive, negative = data.draw(st.sampled_from(NEGATIONS))
    value: Any = data.draw(st.lists(json_scalars, max_size=3) if positive == "in" else json_values)
    assert evaluate_filter(leaf(field, positive, value), context) is not evaluate_filter(
        leaf(field, negative, value), context
    )


segments = st.text(alphabet="abcxyz_", min_size=1, max_size=5)


@given(keys=st.lists(segments, min_size=1, max_size=6), value=json_values)
def test_property_resolve_path_finds_what_was_nested(keys: list[str], value: Any) -> None:
    context: Any = value
    for key in reversed(keys):
        context = {key: context}
    assert resolve_path(context, ".".join(keys)) is value
