"""The bounds on free-form JSON: depth, value count, NUL characters, numbers a record can hold."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.json_limits import INT_MAX, INT_MIN, MAX_DEPTH, json_problems, text_problems


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


def test_depth_up_to_the_limit_is_accepted_one_more_is_refused_at_its_place() -> None:
    assert json_problems(nested(MAX_DEPTH)) == {}
    deep = {"config": {"filters": nested(MAX_DEPTH)}}
    problems = json_problems(deep)
    assert len(problems) == 1
    (field, message), = problems.items()
    assert field.startswith("config.filters.") and message == f"nested deeper than {MAX_DEPTH} levels"


def test_nul_characters_in_values_and_keys_are_refused_where_they_are() -> None:
    assert json_problems({"data": {"name": "a\x00b"}}) == {"data.name": "contains a NUL character"}
    assert json_problems({"nodes": [{"config": {"k\x00": 1}}]}) == {"nodes.0.config": "a key contains a NUL character"}
    assert json_problems("\x00") == {"body": "contains a NUL character"}


def test_integers_beyond_64_bits_and_non_finite_numbers_are_refused() -> None:
    assert json_problems({"n": INT_MAX, "m": INT_MIN}) == {}
    assert json_problems({"n": INT_MAX + 1}) == {"n": "integer out of range (64 bits)"}
    assert json_problems({"n": [INT_MIN - 1]}) == {"n.0": "integer out of range (64 bits)"}
    assert json_problems({"x": float("nan"), "y": float("inf")}) == {
        "x": "must be a finite number", "y": "must be a finite number"}
    assert json_problems({"flag": True, "none": None, "f": 1.5}) == {}


def test_too_many_values_in_one_document() -> None:
    assert json_problems(list(range(99))) == {}
    assert json_problems(list(range(100)), max_values=50) == {"body": "more than 50 values in one document"}


def test_problems_are_bounded() -> None:
    assert len(json_problems({str(i): "\x00" for i in range(1000)})) == 20


def test_text_problems() -> None:
    assert text_problems({"search": "ok", "path": "/api/v1/x"}) == {}
    assert text_problems({"search": "a\x00"}) == {"search": "contains a NUL character"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(INT_MIN, INT_MAX) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_characters="\x00")),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=5), children, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_any_shallow_clean_document_passes(value: Any) -> None:
    assert json_problems(value) == {}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 5000])
def test_any_depth_beyond_the_limit_is_one_problem_without_recursion(depth: int) -> None:
    assert list(json_problems(nested(depth)).values()) == [f"nested deeper than {MAX_DEPTH} levels"]
