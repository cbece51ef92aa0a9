"""Each rule of the stream-contract compatibility check, on small schemas built by hand."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import compat
from schemas.compat import Snapshot, breaking, compare, compare_schemas, snapshot_of


def obj(required: tuple[str, ...] = (), closed: bool = True, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    """How pydantic spells `X | None = None`."""
    return {"anyOf": [schema, {"type": "null"}], "default": None}


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}


def rules(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [c.rule for c in compare_schemas(old, new, name="t")]


def only(old: dict[str, Any], new: dict[str, Any]) -> compat.Change:
    changes = compare_schemas(old, new, name="t")
    assert len(changes) == 1, changes
    return changes[0]


# -- no change ------------------------------------------------------------------
def test_identical_schemas_have_no_changes() -> None:
    schema = obj(("a",), a=STR, b=optional(INT))
    assert compare_schemas(schema, dict(schema)) == []


def test_titles_descriptions_and_defaults_do_not_matter() -> None:
    old = obj(("a",), a={"type": "string", "title": "A"}, b={"type": "integer", "default": 1})
    new = obj(("a",), a={"type": "string", "title": "Renamed", "description": "why"}, b={"type": "integer", "default": 2})
    assert compare_schemas(old, new) == []


# -- fields ---------------------------------------------------------------------
def test_removed_field_is_breaking() -> None:
    change = only(obj(("a",), a=STR, b=STR), obj(("a",), a=STR))
    assert change.rule == compat.FIELD_REMOVED and change.breaking and change.where == "t: b"


def test_removed_optional_field_is_breaking_too() -> None:
    assert rules(obj(a=optional(STR)), obj()) == [compat.FIELD_REMOVED]


def test_new_optional_field_is_compatible() -> None:
    change = only(obj(("a",), a=STR), obj(("a",), a=STR, b=optional(STR)))
    assert change.rule == compat.FIELD_ADDED_OPTIONAL and not change.breaking


def test_new_required_field_is_breaking() -> None:
    change = only(obj(("a",), a=STR), obj(("a", "b"), a=STR, b=STR))
    assert change.rule == compat.FIELD_ADDED_REQUIRED and change.breaking


def test_optional_field_becoming_required_is_breaking() -> None:
    assert rules(obj(a=STR), obj(("a",), a=STR)) == [compat.FIELD_BECAME_REQUIRED]


def test_required_field_becoming_optional_is_breaking() -> None:
    assert rules(obj(("a",), a=STR), obj(a=STR)) == [compat.FIELD_BECAME_OPTIONAL]


def test_nested_field_changes_are_found_with_their_path() -> None:
    old = obj(("inner",), inner=obj(("x",), x=STR))
    new = obj(("inner",), inner=obj((), x=STR, y=optional(INT)))
    changes = compare_schemas(old, new, name="t")
    assert {(c.rule, c.where) for c in changes} == {
        (compat.FIELD_BECAME_OPTIONAL, "t: inner.x"),
        (compat.FIELD_ADDED_OPTIONAL, "t: inner.y"),
    }


# -- types ----------------------------------------------------------------------
@pytest.mark.parametrize("old,new", [
    (STR, INT),
    (INT, {"type": "number"}),
    (STR, optional(STR)),  # a value that was always there may now be null
    (optional(STR), STR),
    (optional(STR), optional(INT)),
    ({}, STR),  # any value -> only strings
    (STR, {}),
    ({"type": "array", "items": STR}, STR),
])
def test_changed_type_is_breaking(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert rules(obj(("a",), a=old), obj(("a",), a=new)) == [compat.TYPE_CHANGED]


def test_changed_item_type_is_breaking() -> None:
    old = obj(a={"type": "array", "items": STR})
    new = obj(a={"type": "array", "items": INT})
    change = only(old, new)
    assert change.rule == compat.TYPE_CHANGED and change.where == "t: a[]"


def test_changed_tuple_length_is_breaking() -> None:
    old = {"type": "array", "prefixItems": [STR, STR]}
    new = {"type": "array", "prefixItems": [STR]}
    assert rules(old, new) == [compat.TYPE_CHANGED]
    assert rules(old, {"type": "array", "prefixItems": [STR, INT]}) == [compat.TYPE_CHANGED]


def test_changed_map_value_type_is_breaking() -> None:
    old = {"type": "object", "additionalProperties": STR}
    new = {"type": "object", "additionalProperties": INT}
    assert only(old, new).where == "t: *"
    assert rules(old, new) == [compat.TYPE_CHANGED]


def test_union_with_a_different_number_of_alternatives_is_breaking() -> None:
    a = {"title": "A", **obj(x=STR)}
    b = {"title": "B", **obj(y=STR)}
    assert rules({"anyOf": [a, b]}, {"anyOf": [a]}) == [compat.TYPE_CHANGED]


def test_union_alternatives_are_compared_pairwise_in_any_order() -> None:
    a = {"title": "A", **obj(x=STR)}
    b = {"title": "B", **obj(y=STR)}
    b2 = {"title": "B", **obj(y=STR, z=optional(STR))}
    changes = compare_schemas({"anyOf": [a, b]}, {"anyOf": [b2, a]})
    assert [c.rule for c in changes] == [compat.FIELD_ADDED_OPTIONAL]


# -- enums ----------------------------------------------------------------------
def test_narrowed_enum_is_breaking() -> None:
    old = obj(a={"type": "string", "enum": ["x", "y", "z"]})
    new = obj(a={"type": "string", "enum": ["x", "y"]})
    change = only(old, new)
    assert change.rule == compat.ENUM_NARROWED and change.breaking and "'z'" in change.message


def test_widened_enum_is_compatible() -> None:
    old = obj(a={"type": "string", "enum": ["x"]})
    new = obj(a={"type": "string", "enum": ["x", "y"]})
    change = only(old, new)
    assert change.rule == compat.ENUM_WIDENED and not change.breaking


def test_enum_with_a_value_swapped_is_both_narrowed_and_widened() -> None:
    old = {"type": "string", "enum": ["x", "y"]}
    new = {"type": "string", "enum": ["x", "z"]}
    assert sorted(rules(old, new)) == sorted([compat.ENUM_NARROWED, compat.ENUM_WIDENED])


def test_a_new_enum_on_a_free_field_narrows_it() -> None:
    assert rules(STR, {"type": "string", "enum": ["x"]}) == [compat.ENUM_NARROWED]


def test_dropping_the_enum_widens_it() -> None:
    assert rules({"type": "string", "enum": ["x"]}, STR) == [compat.ENUM_WIDENED]


def test_const_counts_as_an_enum_of_one() -> None:
    assert rules({"const": "a"}, {"const": "b"}) == [compat.ENUM_NARROWED, compat.ENUM_WIDENED]
    assert rules({"type": "string", "const": "a"}, {"type": "string", "enum": ["a", "b"]}) == [compat.ENUM_WIDENED]


def test_enum_behind_a_ref_is_followed() -> None:
    old = {"$defs": {"Kind": {"type": "string", "enum": ["a", "b"]}}, **obj(("k",), k={"$ref": "#/$defs/Kind"})}
    new = {"$defs": {"Kind": {"type": "string", "enum": ["a"]}}, **obj(("k",), k={"$ref": "#/$defs/Kind"})}
    change = only(old, new)
    assert change.rule == compat.ENUM_NARROWED and change.where == "t: k"


def test_optional_enum_is_followed_through_the_union() -> None:
    old = obj(k=optional({"type": "string", "enum": ["a", "b"]}))
    new = obj(k=optional({"type": "string", "enum": ["a"]}))
    assert rules(old, new) == [compat.ENUM_NARROWED]


# -- constraints ----------------------------------------------------------------
@pytest.mark.parametrize("key,old,new,rule", [
    ("minLength", None, 1, compat.CONSTRAINT_TIGHTENED),
    ("minLength", 1, 2, compat.CONSTRAINT_TIGHTENED),
    ("minLength", 2, 1, compat.CONSTRAINT_RELAXED),
    ("minLength", 1, None, compat.CONSTRAINT_RELAXED),
    ("maxLength", None, 10, compat.CONSTRAINT_TIGHTENED),
    ("maxLength", 10, 5, compat.CONSTRAINT_TIGHTENED),
    ("maxLength", 5, 10, compat.CONSTRAINT_RELAXED),
    ("maxLength", 5, None, compat.CONSTRAINT_RELAXED),
    ("pattern", None, "^a", compat.CONSTRAINT_TIGHTENED),
    ("pattern", "^a", "^b", compat.CONSTRAINT_TIGHTENED),
    ("pattern", "^a", None, compat.CONSTRAINT_RELAXED),
    ("format", None, "date-time", compat.CONSTRAINT_TIGHTENED),
])
def test_string_constraints(key: str, old: Any, new: Any, rule: str) -> None:
    before = {"type": "string", **({key: old} if old is not None else {})}
    after = {"type": "string", **({key: new} if new is not None else {})}
    assert rules(before, after) == [rule]


@pytest.mark.parametrize("key,old,new,rule", [
    ("minimum", 1, 2, compat.CONSTRAINT_TIGHTENED),
    ("minimum", 2, 0, compat.CONSTRAINT_RELAXED),
    ("exclusiveMinimum", None, 0, compat.CONSTRAINT_TIGHTENED),
    ("maximum", 10, 9, compat.CONSTRAINT_TIGHTENED),
    ("maximum", 9, 10, compat.CONSTRAINT_RELAXED),
    ("multipleOf", None, 2, compat.CONSTRAINT_TIGHTENED),
])
def test_number_constraints(key: str, old: Any, new: Any, rule: str) -> None:
    before = {"type": "integer", **({key: old} if old is not None else {})}
    after = {"type": "integer", **({key: new} if new is not None else {})}
    assert rules(before, after) == [rule]


def test_array_constraints() -> None:
    array = {"type": "array", "items": STR}
    assert rules(array, {**array, "minItems": 1}) == [compat.CONSTRAINT_TIGHTENED]
    assert rules({**array, "maxItems": 3}, array) == [compat.CONSTRAINT_RELAXED]
    assert rules(array, {**array, "uniqueItems": True}) == [compat.CONSTRAINT_TIGHTENED]
    assert rules({**array, "uniqueItems": True}, {**array, "uniqueItems": False}) == [compat.CONSTRAINT_RELAXED]


def test_closing_an_open_object_is_breaking_and_opening_it_is_not() -> None:
    assert rules(obj(closed=False, a=STR), obj(a=STR)) == [compat.CONSTRAINT_TIGHTENED]
    assert rules(obj(a=STR), obj(closed=False, a=STR)) == [compat.CONSTRAINT_RELAXED]


def test_constraints_inside_optional_fields_are_checked() -> None:
    old = obj(n=optional({"type": "integer", "minimum": 0}))
    new = obj(n=optional({"type": "integer", "minimum": 1}))
    assert rules(old, new) == [compat.CONSTRAINT_TIGHTENED]


# -- references -----------------------------------------------------------------
def test_recursive_definitions_terminate() -> None:
    tree = {"$defs": {"T": obj(children={"type": "array", "items": {"$ref": "#/$defs/T"}}, v=STR)},
            "$ref": "#/$defs/T"}
    grown = {"$defs": {"T": obj(children={"type": "array", "items": {"$ref": "#/$defs/T"}}, v=STR, w=optional(STR))},
             "$ref": "#/$defs/T"}
    assert compare_schemas(tree, tree) == []
    assert rules(tree, grown) == [compat.FIELD_ADDED_OPTIONAL]


def test_a_renamed_definition_with_the_same_shape_is_compatible() -> None:
    old = {"$defs": {"A": obj(x=STR)}, **obj(("a",), a={"$ref": "#/$defs/A"})}
    new = {"$defs": {"B": obj(x=STR)}, **obj(("a",), a={"$ref": "#/$defs/B"})}
    assert compare_schemas(old, new) == []


# -- record types and topics ----------------------------------------------------
def topic(key: str = "execution_id", cleanup: str = "delete", records: tuple[str, ...] = ("r.v1",),
          internal: bool = False) -> dict[str, Any]:
    return {"key": key, "cleanup": cleanup, "records": list(records), "internal": internal}


def test_removed_record_type_is_breaking_and_a_new_one_is_not() -> None:
    old = Snapshot({"r.v1": obj(), "s.v1": obj()})
    new = Snapshot({"r.v1": obj(), "t.v1": obj()})
    changes = compare(old, new)
    assert {(c.rule, c.where, c.breaking) for c in changes} == {
        (compat.RECORD_TYPE_REMOVED, "s.v1", True),
        (compat.RECORD_TYPE_ADDED, "t.v1", False),
    }


def test_record_schemas_are_compared_by_name() -> None:
    changes = compare(Snapshot({"r.v1": obj(("a",), a=STR)}), Snapshot({"r.v1": obj(("a",), a=INT)}))
    assert [(c.rule, c.where) for c in changes] == [(compat.TYPE_CHANGED, "r.v1: a")]


def test_removed_topic_is_breaking_and_a_new_one_is_not() -> None:
    changes = compare(Snapshot({}, {"a": topic()}), Snapshot({}, {"b": topic()}))
    assert {(c.rule, c.where, c.breaking) for c in changes} == {
        (compat.TOPIC_REMOVED, "a", True),
        (compat.TOPIC_ADDED, "b", False),
    }


@pytest.mark.parametrize("after,rule", [
    (topic(key="workspace_id"), compat.TOPIC_KEY_CHANGED),
    (topic(cleanup="compact"), compat.TOPIC_CLEANUP_CHANGED),
    (topic(records=()), compat.TOPIC_RECORD_REMOVED),
    (topic(internal=True), compat.TOPIC_MADE_INTERNAL),
])
def test_breaking_topic_changes(after: dict[str, Any], rule: str) -> None:
    changes = compare(Snapshot({}, {"a": topic()}), Snapshot({}, {"a": after}))
    assert rule in [c.rule for c in breaking(changes)]


def test_a_topic_carrying_one_more_record_type_is_compatible() -> None:
    changes = compare(Snapshot({}, {"a": topic()}), Snapshot({}, {"a": topic(records=("r.v1", "s.v1"))}))
    assert [(c.rule, c.breaking) for c in changes] == [(compat.TOPIC_RECORD_ADDED, False)]


def test_internal_topics_are_nobodys_contract() -> None:
    old = Snapshot({}, {"state": topic(internal=True)})
    assert breaking(compare(old, Snapshot({}, {}))) == []
    assert breaking(compare(old, Snapshot({}, {"state": topic(key="other", internal=True)}))) == []
    published = compare(old, Snapshot({}, {"state": topic(internal=False)}))
    assert [c.rule for c in published] == [compat.TOPIC_ADDED]


def test_snapshot_of_exported_files() -> None:
    files = {
        "envelope.json": obj(),
        "r.v1.json": obj(a=STR),
        "topics.json": {"topics": [{"name": "a", **topic()}]},
    }
    snap = snapshot_of(files)
    assert set(snap.schemas) == {"envelope", "r.v1"} and set(snap.topics) == {"a"}


def test_change_renders_for_a_developer() -> None:
    change = only(obj(("a",), a=STR), obj(("a",), a=INT))
    assert str(change) == "[BREAKING] t: a: type string -> integer (type-changed)"
