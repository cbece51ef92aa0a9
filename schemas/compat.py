"""Is a new stream contract compatible with the published one? Pure: dicts in, changes out.

Two kinds of reader depend on a record schema: code reading records written
under the old schema (a topic keeps its history), and consumers written
against the old schema reading new records. A change is compatible only when
both keep working, so anything that removes, retypes, requires or narrows is
breaking and needs a new record type (`….v2`, a new model plus an upcaster).
Adding an optional field, a record type, a topic, an enum value, or relaxing a
constraint is compatible.

The schemas compared are the ones pydantic generates (JSON Schema 2020-12,
local `$ref`s into `$defs`, optionals as `anyOf [..., null]`); the rules cover
the keywords those use, not the whole of JSON Schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = Mapping[str, Any]

# Rules whose changes are breaking.
TOPIC_REMOVED = "topic-removed"
TOPIC_KEY_CHANGED = "topic-key-changed"
TOPIC_CLEANUP_CHANGED = "topic-cleanup-changed"
TOPIC_RECORD_REMOVED = "topic-record-removed"
TOPIC_MADE_INTERNAL = "topic-made-internal"
RECORD_TYPE_REMOVED = "record-type-removed"
FIELD_REMOVED = "field-removed"
FIELD_ADDED_REQUIRED = "field-added-required"
FIELD_BECAME_REQUIRED = "field-became-required"
FIELD_BECAME_OPTIONAL = "field-became-optional"
TYPE_CHANGED = "type-changed"
ENUM_NARROWED = "enum-narrowed"
CONSTRAINT_TIGHTENED = "constraint-tightened"
# Rules whose changes are compatible.
TOPIC_ADDED = "topic-added"
TOPIC_RECORD_ADDED = "topic-record-added"
TOPIC_CHANGED_INTERNAL = "internal-topic-changed"
RECORD_TYPE_ADDED = "record-type-added"
FIELD_ADDED_OPTIONAL = "field-added-optional"
ENUM_WIDENED = "enum-widened"
CONSTRAINT_RELAXED = "constraint-relaxed"

BREAKING_RULES = frozenset({
    TOPIC_REMOVED, TOPIC_KEY_CHANGED, TOPIC_CLEANUP_CHANGED, TOPIC_RECORD_REMOVED,
    TOPIC_MADE_INTERNAL, RECORD_TYPE_REMOVED, FIELD_REMOVED, FIELD_ADDED_REQUIRED,
    FIELD_BECAME_REQUIRED, FIELD_BECAME_OPTIONAL, TYPE_CHANGED, ENUM_NARROWED,
    CONSTRAINT_TIGHTENED,
})

# A larger value of these allows less; of the upper bounds, a smaller one does.
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Any new or different value of these may refuse what was valid before.
EXACT_CONSTRAINTS = ("pattern", "format", "multipleOf", "uniqueItems")

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
               list: "array", dict: "object"}


@dataclass(frozen=True)
class Change:
    rule: str
    where: str
    message: str

    @property
    def breaking(self) -> bool:
        return self.rule in BREAKING_RULES

    def __str__(self) -> str:
        mark = "BREAKING" if self.breaking else "compatible"
        return f"[{mark}] {self.where}: {self.message} ({self.rule})"


@dataclass(frozen=True)
class Snapshot:
    """A whole contract: schema name (record type, or "envelope") -> schema, and the topics."""

    schemas: Mapping[str, Schema]
    # topic name -> {"key", "cleanup", "internal", "records": [type names]}
    topics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def snapshot_of(files: Mapping[str, Schema], topics_file: str = "topics.json") -> Snapshot:
    """A snapshot from exported files (`schemas.export.json_schemas()` or the committed folder)."""
    schemas = {name.removesuffix(".json"): schema for name, schema in files.items() if name != topics_file}
    topics_doc = files.get(topics_file, {})
    topics = {t["name"]: t for t in topics_doc.get("topics", [])}
    return Snapshot(schemas, topics)


def breaking(changes: Iterable[Change]) -> list[Change]:
    return [c for c in changes if c.breaking]


def compare(old: Snapshot, new: Snapshot) -> list[Change]:
    changes = _compare_topics(old.topics, new.topics)
    for name in sorted(old.schemas.keys() - new.schemas.keys()):
        changes.append(Change(RECORD_TYPE_REMOVED, name, "schema removed; readers of its records have nothing to read them with"))
    for name in sorted(new.schemas.keys() - old.schemas.keys()):
        changes.append(Change(RECORD_TYPE_ADDED, name, "new schema"))
    for name in sorted(old.schemas.keys() & new.schemas.keys()):
        changes.extend(compare_schemas(old.schemas[name], new.schemas[name], name=name))
    return changes


def _compare_topics(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(old.keys() - new.keys()):
        rule = TOPIC_CHANGED_INTERNAL if old[name].get("internal") else TOPIC_REMOVED
        changes.append(Change(rule, name, "topic removed"))
    for name in sorted(new.keys() - old.keys()):
        changes.append(Change(TOPIC_ADDED, name, "new topic"))
    for name in sorted(old.keys() & new.keys()):
        before, after = old[name], new[name]
        if before.get("internal"):
            # A processor's private changelog is nobody else's contract.
            if not after.get("internal"):
                changes.append(Change(TOPIC_ADDED, name, "internal topic is now published"))
            elif dict(before) != dict(after):
                changes.append(Change(TOPIC_CHANGED_INTERNAL, name, "internal topic changed"))
            continue
        if after.get("internal"):
            changes.append(Change(TOPIC_MADE_INTERNAL, name, "published topic is now internal"))
        for attr, rule in (("key", TOPIC_KEY_CHANGED), ("cleanup", TOPIC_CLEANUP_CHANGED)):
            if before.get(attr) != after.get(attr):
                changes.append(Change(rule, name, f"{attr} {before.get(attr)!r} -> {after.get(attr)!r}"))
        old_records, new_records = set(before.get("records", ())), set(after.get("records", ()))
        for record in sorted(old_records - new_records):
            changes.append(Change(TOPIC_RECORD_REMOVED, name, f"no longer carries {record}"))
        for record in sorted(new_records - old_records):
            changes.append(Change(TOPIC_RECORD_ADDED, name, f"now carries {record}"))
    return changes


def compare_schemas(old: Schema, new: Schema, *, name: str = "") -> list[Change]:
    """Every difference that matters between two versions of one schema."""
    walker = _Walker(old, new, name)
    walker.node(old, new, "")
    return walker.changes


class _Walker:
    def __init__(self, old_root: Schema, new_root: Schema, name: str) -> None:
        self.old_root, self.new_root, self.name = old_root, new_root, name
        self.changes: list[Change] = []
        # $ref pairs being compared: recursive models ($defs that refer to themselves) end here.
        self._in_progress: set[tuple[str, str]] = set()

    def add(self, rule: str, path: str, message: str) -> None:
        where = f"{self.name}: {path.lstrip('.') or '(root)'}" if self.name else (path.lstrip(".") or "(root)")
        self.changes.append(Change(rule, where, message))

    def node(self, old: Any, new: Any, path: str) -> None:
        old_ref, new_ref = _ref_of(old), _ref_of(new)
        if old_ref is not None and new_ref is not None:
            if (old_ref, new_ref) in self._in_progress:
                return
            self._in_progress.add((old_ref, new_ref))
        old, new = _resolve(self.old_root, old), _resolve(self.new_root, new)
        old_types, new_types = _types(self.old_root, old), _types(self.new_root, new)
        if old_types != new_types:
            self.add(TYPE_CHANGED, path, f"type {_show(old_types)} -> {_show(new_types)}")
            return
        old_branches, new_branches = _branches(old), _branches(new)
        if len(old_branches) > 1 or len(new_branches) > 1:
            self.union(old_branches, new_branches, path)
            return
        self.enum(old, new, path)
        self.constraints(old, new, path)
        if old_types is not None and "object" in old_types:
            self.object(old, new, path)
        if old_types is not None and "array" in old_types:
            self.array(old, new, path)

    def union(self, old: list[Schema], new: list[Schema], path: str) -> None:
        pairs = _pair_branches(self.old_root, old, self.new_root, new)
        if pairs is None:
            self.add(TYPE_CHANGED, path, f"union of {len(old)} alternatives -> {len(new)}")
            return
        for o, n in pairs:
            self.node(o, n, path)

    def enum(self, old: Schema, new: Schema, path: str) -> None:
        old_values, new_values = _enum(old), _enum(new)
        if old_values is None and new_values is None:
            return
        if old_values is None:
            self.add(ENUM_NARROWED, path, f"now restricted to {_values(new_values or [])}")
            return
        if new_values is None:
            self.add(ENUM_WIDENED, path, "no longer restricted to a set of values")
            return
        removed = [v for v in old_values if v not in new_values]
        added = [v for v in new_values if v not in old_values]
        if removed:
            self.add(ENUM_NARROWED, path, f"values removed: {_values(removed)}")
        if added:
            self.add(ENUM_WIDENED, path, f"values added: {_values(added)}")

    def constraints(self, old: Schema, new: Schema, path: str) -> None:
        for key in LOWER_BOUNDS + UPPER_BOUNDS:
            before, after = old.get(key), new.get(key)
            if before == after:
                continue
            lower = key in LOWER_BOUNDS
            if before is None or (after is not None and (after > before if lower else after < before)):
                self.add(CONSTRAINT_TIGHTENED, path, f"{key} {before} -> {after}")
            else:
                self.add(CONSTRAINT_RELAXED, path, f"{key} {before} -> {after}")
        for key in EXACT_CONSTRAINTS:
            before, after = old.get(key), new.get(key)
            if before == after:
                continue
            if after is None or (key == "uniqueItems" and not after):
                self.add(CONSTRAINT_RELAXED, path, f"{key} {before!r} removed")
            else:
                self.add(CONSTRAINT_TIGHTENED, path, f"{key} {before!r} -> {after!r}")

    def object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for prop in old_props:
            if prop not in new_props:
                self.add(FIELD_REMOVED, f"{path}.{prop}", "field removed")
        for prop in new_props:
            if prop in old_props:
                continue
            if prop in new_required:
                self.add(FIELD_ADDED_REQUIRED, f"{path}.{prop}", "new required field: records written before lack it")
            else:
                self.add(FIELD_ADDED_OPTIONAL, f"{path}.{prop}", "new optional field")
        for prop in old_props:
            if prop not in new_props:
                continue
            if prop in new_required and prop not in old_required:
                self.add(FIELD_BECAME_REQUIRED, f"{path}.{prop}", "optional field is now required")
            elif prop in old_required and prop not in new_required:
                self.add(FIELD_BECAME_OPTIONAL, f"{path}.{prop}", "required field is now optional: consumers may find it missing")
            self.node(old_props[prop], new_props[prop], f"{path}.{prop}")
        if "additionalProperties" not in old and "additionalProperties" not in new:
            return
        old_extra, new_extra = _additional(old), _additional(new)
        if old_extra is False and new_extra is False:
            return
        if new_extra is False:
            self.add(CONSTRAINT_TIGHTENED, f"{path}.*", "no longer accepts fields beyond the listed ones")
        elif old_extra is False:
            self.add(CONSTRAINT_RELAXED, f"{path}.*", "now accepts fields beyond the listed ones")
        else:
            self.node(old_extra, new_extra, f"{path}.*")

    def array(self, old: Schema, new: Schema, path: str) -> None:
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        if len(old_prefix) != len(new_prefix):
            self.add(TYPE_CHANGED, f"{path}[]", f"tuple of {len(old_prefix)} items -> {len(new_prefix)}")
        else:
            for i, (o, n) in enumerate(zip(old_prefix, new_prefix, strict=True)):
                self.node(o, n, f"{path}[{i}]")
        if "items" in old or "items" in new:
            old_items, new_items = old.get("items", {}), new.get("items", {})
            if new_items is False and old_items is not False:
                self.add(CONSTRAINT_TIGHTENED, f"{path}[]", "no more items allowed")
            elif old_items is False and new_items is not False:
                self.add(CONSTRAINT_RELAXED, f"{path}[]", "more items allowed")
            elif old_items is not False:
                self.node(old_items, new_items, f"{path}[]")


def _ref_of(schema: Any) -> str | None:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    return ref if isinstance(ref, str) else None


def _resolve(root: Schema, schema: Any) -> Schema:
    """Follow local `$ref`s (and one-element `allOf` wrappers) to the schema they mean."""
    seen: set[str] = set()
    while isinstance(schema, Mapping):
        ref = _ref_of(schema)
        if ref is not None and ref.startswith("#/") and ref not in seen:
            seen.add(ref)
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings}
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            siblings = {k: v for k, v in schema.items() if k != "allOf"}
            schema = {**all_of[0], **siblings}
            continue
        return schema
    return {} if schema is True or schema is None else {"not": {}}


def _branches(schema: Schema) -> list[Schema]:
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return list(schema[key])
    return [schema]


def _types(root: Schema, schema: Schema, depth: int = 0) -> frozenset[str] | None:
    """The JSON types a schema admits; None for any value at all."""
    if depth > 20:
        return None
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    branches = _branches(schema)
    if len(branches) > 1:
        out: set[str] = set()
        for branch in branches:
            types = _types(root, _resolve(root, branch), depth + 1)
            if types is None:
                return None
            out |= types
        return frozenset(out)
    values = _enum(schema)
    if values is not None:
        return frozenset(_JSON_TYPES.get(type(v), "object") for v in values)
    if "properties" in schema:
        return frozenset({"object"})
    if "items" in schema or "prefixItems" in schema:
        return frozenset({"array"})
    return None


def _enum(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return list(values) if isinstance(values, list) else None


def _additional(schema: Schema) -> Any:
    extra = schema.get("additionalProperties", True)
    return {} if extra is True else extra


def _pair_branches(
    old_root: Schema, old: list[Schema], new_root: Schema, new: list[Schema]
) -> list[tuple[Schema, Schema]] | None:
    """Match each old alternative with the new one of the same kind, or None if they differ."""
    if len(old) != len(new):
        return None

    def key(root: Schema, branch: Schema) -> tuple[str, ...]:
        resolved = _resolve(root, branch)
        types = _types(root, resolved)
        return (",".join(sorted(types)) if types is not None else "*", str(resolved.get("title", "")))

    remaining = list(new)
    pairs: list[tuple[Schema, Schema]] = []
    for branch in old:
        wanted = key(old_root, branch)
        # Same type and title first; else same type (a renamed model is still the same shape).
        match = next((n for n in remaining if key(new_root, n) == wanted), None)
        if match is None:
            match = next((n for n in remaining if key(new_root, n)[0] == wanted[0]), None)
        if match is None:
            return None
        remaining.remove(match)
        pairs.append((branch, match))
    return pairs


def _show(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def _values(values: list[Any]) -> str:
    return ", ".join(repr(v) for v in values)
