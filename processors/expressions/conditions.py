"""Conditions: marketing-style filter trees and CEL expressions, evaluated against a context.

A context is a plain mapping such as ``{"event": {...}, "user": {...}, "input_data": {...}}``.
Two condition languages are supported because workflows come from two editors:

* filter trees (``{"operator": "and", "conditions": [{"field": ..., "operator": ..., "value": ...}]}``)
  from the trigger/marketing UI, evaluated here with explicit, forgiving semantics;
* CEL expressions (``"input_data.is_vip == true"``) from the graph editor, evaluated by the
  ``cel`` package.

Everything here is pure: no I/O, no clock, and the only module state is bounded compile caches.
"""

from __future__ import annotations

import enum
import functools
import operator as op
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

import cel

from processors.expressions.references import Reference, cel_references, fill_missing, missing_paths
from schemas.errors import ExpressionError

__all__ = [
    "MAX_CEL_LENGTH",
    "MAX_DEPTH",
    "MAX_LEAVES",
    "MAX_REGEX_LENGTH",
    "MISSING",
    "ConditionError",
    "Verdict",
    "compile_cel",
    "evaluate_cel",
    "evaluate_cel_reading",
    "evaluate_condition",
    "evaluate_filter",
    "explain_filter",
    "judge_condition",
    "judge_filter",
    "operator_names",
    "referenced_fields",
    "resolve_path",
    "validate_condition",
    "validate_filter",
]

MAX_DEPTH: Final = 10
"""Deepest allowed node of a filter tree; the root is at depth 1."""
MAX_LEAVES: Final = 200
MAX_REGEX_LENGTH: Final = 500
MAX_CEL_LENGTH: Final = 4000
# Converting the context for CEL recurses; a cap turns a cyclic or absurdly deep value into
# a ConditionError instead of a RecursionError deep inside a worker.
_MAX_CONTEXT_DEPTH: Final = 100


class ConditionError(ExpressionError):
    """A condition that is malformed or cannot be evaluated.

    ``str(error)`` is the message alone; ``path`` says where in the spec the problem is
    (``"conditions[1].operator"``; ``""`` for the spec as a whole), so callers can format both.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def at(self, path: str) -> ConditionError:
        """The same problem, located at `path` (for errors raised by shared helpers)."""
        return ConditionError(self.message, path)


class _Missing(enum.Enum):
    # An enum member is the idiomatic typed singleton: `value is MISSING` narrows for mypy.
    MISSING = "MISSING"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
"""What `resolve_path` returns for an absent path (distinct from a present ``None``)."""


# -- paths ---------------------------------------------------------------------------


def resolve_path(context: Mapping[str, Any], path: str) -> Any:
    """The value at dotted `path` (``"user.tags.0"``), through mappings and list indices.

    Returns `MISSING` when any step is absent, so "absent" and "null" stay distinguishable.
    """
    if not path:
        return MISSING
    current: Any = context
    for segment in path.split("."):
        current = _step(current, segment)
        if current is MISSING:
            return MISSING
    return current


def _step(container: Any, segment: str) -> Any:
    if isinstance(container, Mapping):
        return container.get(segment, MISSING)
    if isinstance(container, list | tuple) and _is_index(segment):
        index = int(segment)
        return container[index] if index < len(container) else MISSING
    return MISSING


def _is_index(segment: str) -> bool:
    # isascii() matters: str.isdigit() also accepts e.g. Arabic-Indic digits, which int() parses.
    return segment.isascii() and segment.isdigit()


# -- value semantics -----------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but `true` is not the number 1 in a filter.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_number(text: str) -> int | float | None:
    """The number a string spells, or None. Stricter than float(): no "nan", "inf", "1_0"."""
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        return None
    try:
        return int(stripped)  # exact for big integers, unlike float()
    except ValueError:
        return float(stripped)


def _numeric_pair(a: Any, b: Any) -> tuple[int | float, int | float] | None:
    """Both sides as numbers when comparable numerically (number vs number or numeric string)."""
    if _is_number(a) and _is_number(b):
        return a, b
    if _is_number(a) and isinstance(b, str):
        parsed = _parse_number(b)
        return None if parsed is None else (a, parsed)
    if isinstance(a, str) and _is_number(b):
        parsed = _parse_number(a)
        return None if parsed is None else (parsed, b)
    return None


def _equals(actual: Any, expected: Any) -> bool:
    pair = _numeric_pair(actual, expected)
    if pair is not None:
        return pair[0] == pair[1]
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    return bool(actual == expected)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """A comparison that answers False for incompatible types instead of raising."""

    def test(actual: Any, expected: Any) -> bool:
        pair = _numeric_pair(actual, expected)
        if pair is not None:
            return compare(pair[0], pair[1])
        if isinstance(actual, bool) or isinstance(expected, bool):
            return False
        if type(actual) is not type(expected) and not (
            isinstance(actual, str) and isinstance(expected, str)
        ):
            return False
        try:
            return bool(compare(actual, expected))
        except TypeError:  # same type but unordered (dicts, None, naive vs aware datetimes)
            return False

    return test


def _fold(value: Any) -> Any:
    """Case-insensitive form of a string: NFKC then casefold, as Unicode recommends for caseless
    matching (so presentation forms, full-width letters and "ß"/"SS" compare equal)."""
    return unicodedata.normalize("NFKC", value).casefold() if isinstance(value, str) else value


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, Mapping):
        try:
            return expected in actual
        except TypeError:  # unhashable expected value cannot be a key
            return False
    if isinstance(actual, list | tuple):
        return any(_equals(item, expected) for item in actual)
    return False


def _icontains(actual: Any, expected: Any) -> bool:
    folded = _fold(expected)
    if isinstance(actual, Mapping):
        return any(_equals(_fold(key), folded) for key in actual)
    if isinstance(actual, list | tuple):
        return any(_equals(_fold(item), folded) for item in actual)
    return _contains(_fold(actual), folded)


def _iequals(actual: Any, expected: Any) -> bool:
    return _equals(_fold(actual), _fold(expected))


def _starts_with(actual: Any, expected: Any) -> bool:
    return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)


def _ends_with(actual: Any, expected: Any) -> bool:
    return isinstance(actual, str) and isinstance(expected, str) and actual.endswith(expected)


def _istarts_with(actual: Any, expected: Any) -> bool:
    return _starts_with(_fold(actual), _fold(expected))


def _iends_with(actual: Any, expected: Any) -> bool:
    return _ends_with(_fold(actual), _fold(expected))


def _in(actual: Any, expected: Any) -> bool:
    return any(_equals(actual, item) for item in expected)


def _regex(actual: Any, expected: Any) -> bool:
    # `expected` is the pattern compiled while parsing the tree.
    return isinstance(actual, str) and expected.search(actual) is not None


def _exists(actual: Any, expected: Any) -> bool:
    return actual is not MISSING


def _is_empty(actual: Any, expected: Any) -> bool:
    if actual is MISSING or actual is None:
        return True
    if isinstance(actual, str | list | tuple | Mapping | set | frozenset):
        return len(actual) == 0
    return False


_Predicate: TypeAlias = Callable[[Any, Any], bool]


def _present(predicate: _Predicate) -> _Predicate:
    """`predicate` over a missing field read as null (processors.expressions.references has the
    rule): so ``equals x`` is false for it, ``not_equals x`` true, and ``equals null`` true.
    Only `exists` / `is_empty` tell absent from null."""

    def test(actual: Any, expected: Any) -> bool:
        return predicate(None if actual is MISSING else actual, expected)

    return test


def _negate(predicate: _Predicate) -> _Predicate:
    def test(actual: Any, expected: Any) -> bool:
        return not predicate(actual, expected)

    return test


_EQUALS = _present(_equals)
_CONTAINS = _present(_contains)
_IN = _present(_in)

# Canonical leaf operator -> predicate(actual value, expected value).
_OPERATORS: Final[Mapping[str, _Predicate]] = MappingProxyType(
    {
        "equals": _EQUALS,
        "not_equals": _negate(_EQUALS),
        "contains": _CONTAINS,
        "not_contains": _negate(_CONTAINS),
        "icontains": _present(_icontains),
        "iequals": _present(_iequals),
        "starts_with": _present(_starts_with),
        "ends_with": _present(_ends_with),
        "istarts_with": _present(_istarts_with),
        "iends_with": _present(_iends_with),
        "greater": _present(_ordered(op.gt)),
        "greater_equal": _present(_ordered(op.ge)),
        "less": _present(_ordered(op.lt)),
        "less_equal": _present(_ordered(op.le)),
        "in": _IN,
        "not_in": _negate(_IN),
        "exists": _exists,
        "not_exists": _negate(_exists),
        "is_empty": _is_empty,
        "is_not_empty": _negate(_is_empty),
        "regex": _present(_regex),
    }
)

_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "eq": "equals",
        "==": "equals",
        "ne": "not_equals",
        "neq": "not_equals",
        "!=": "not_equals",
        "gt": "greater",
        "gte": "greater_equal",
        "greater_or_equal": "greater_equal",
        "greater_than_or_equal": "greater_equal",
        "greater_than": "greater",
        "lt": "less",
        "lte": "less_equal",
        "less_or_equal": "less_equal",
        "less_than_or_equal": "less_equal",
        "less_than": "less",
        "startswith": "starts_with",
        "endswith": "ends_with",
    }
)

_GROUP_OPERATORS: Final = frozenset({"and", "or", "not"})
_UNARY: Final = frozenset({"exists", "not_exists", "is_empty", "is_not_empty"})
_LIST_VALUED: Final = frozenset({"in", "not_in"})
_STRING_VALUED: Final = frozenset(
    {"starts_with", "ends_with", "istarts_with", "iends_with", "regex"}
)


@functools.lru_cache(maxsize=256)
def _compile_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- filter trees ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Leaf:
    field: str
    test: _Predicate
    value: Any
    # For explanations: where the leaf sits, its canonical operator, the value as written.
    path: str = ""
    operator: str = ""
    raw_value: Any = None


@dataclass(frozen=True, slots=True)
class _Group:
    operator: str
    children: tuple[_Node, ...]
    path: str = ""


_Node: TypeAlias = "_Leaf | _Group"
_ALWAYS: Final = _Group("and", ())


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass(slots=True)
class _Parser:
    """Turns a raw tree into typed nodes, collecting every structural problem on the way.

    Parsing fully before evaluating means a malformed tree fails the same way whatever the
    data, instead of only when short-circuiting happens to reach the bad branch.
    """

    errors: list[ConditionError] = field(default_factory=list)
    leaves: int = 0

    def fail(self, path: str, message: str) -> None:
        self.errors.append(ConditionError(message, path))

    def node(self, raw: Any, path: str, depth: int) -> _Node | None:
        if not isinstance(raw, Mapping):
            self.fail(path, f"expected an object, got {type(raw).__name__}")
            return None
        if depth > MAX_DEPTH:
            # Stop here: descending further is exactly what the limit protects against.
            self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        if not raw:
            return _ALWAYS
        if "field" in raw:
            if "conditions" in raw:
                self.fail(path, "a condition has either 'field' or 'conditions', not both")
                return None
            return self.leaf(raw, path)
        if "conditions" in raw or raw.get("operator") in _GROUP_OPERATORS:
            return self.group(raw, path, depth)
        if "operator" in raw:
            self.fail(_join(path, "field"), "missing 'field'")
        else:
            self.fail(path, "expected a 'field' or a 'conditions' list")
        return None

    def group(self, raw: Mapping[str, Any], path: str, depth: int) -> _Group | None:
        operator = raw.get("operator", "and")
        ok = operator in _GROUP_OPERATORS
        if not ok:
            self.fail(_join(path, "operator"), f"unknown group operator {operator!r}")
        conditions = raw.get("conditions")
        if conditions is None:
            conditions = []
        if not isinstance(conditions, list | tuple):
            self.fail(_join(path, "conditions"), "'conditions' must be a list")
            return None
        prefix = _join(path, "conditions")
        children = [
            self.node(child, f"{prefix}[{index}]", depth + 1)
            for index, child in enumerate(conditions)
        ]
        nodes = [child for child in children if child is not None]
        if not ok or len(nodes) != len(children):
            return None
        return _Group(operator, tuple(nodes), path)

    def leaf(self, raw: Mapping[str, Any], path: str) -> _Leaf | None:
        self.leaves += 1
        if self.leaves == MAX_LEAVES + 1:
            self.fail(path, f"more than {MAX_LEAVES} conditions in one filter")
        field_ok = self.check_field(raw["field"], _join(path, "field"))
        operator = self.operator(raw, path)
        if operator is None:
            return None
        ok, value = self.value(raw, operator, _join(path, "value"))
        if not (ok and field_ok):
            return None
        return _Leaf(raw["field"], _OPERATORS[operator], value, path, str(raw["operator"]), raw.get("value"))

    def check_field(self, name: Any, path: str) -> bool:
        if not isinstance(name, str) or not name:
            self.fail(path, "'field' must be a non-empty string")
            return False
        if "" in name.split("."):
            self.fail(path, f"field {name!r} has an empty path segment")
            return False
        return True

    def operator(self, raw: Mapping[str, Any], path: str) -> str | None:
        if "operator" not in raw:
            self.fail(_join(path, "operator"), "missing 'operator'")
            return None
        name = raw["operator"]
        canonical = _ALIASES.get(name, name) if isinstance(name, str) else None
        if canonical not in _OPERATORS:
            self.fail(_join(path, "operator"), f"unknown operator {name!r}")
            return None
        return canonical

    def value(self, raw: Mapping[str, Any], operator: str, path: str) -> tuple[bool, Any]:
        if operator in _UNARY:
            return True, None
        if "value" not in raw:
            self.fail(path, f"operator {operator!r} needs a 'value'")
            return False, None
        value = raw["value"]
        if operator in _LIST_VALUED:
            if not isinstance(value, list | tuple):
                self.fail(path, f"operator {operator!r} needs a list value")
                return False, None
            return True, tuple(value)
        if operator in _STRING_VALUED and not isinstance(value, str):
            self.fail(path, f"operator {operator!r} needs a string value")
            return False, None
        if operator == "regex":
            return self.regex(value, path)
        return True, value

    def regex(self, pattern: str, path: str) -> tuple[bool, Any]:
        if len(pattern) > MAX_REGEX_LENGTH:
            self.fail(path, f"regex longer than {MAX_REGEX_LENGTH} characters")
            return False, None
        try:
            return True, _compile_regex(pattern)
        except re.error as exc:
            self.fail(path, f"invalid regex: {exc}")
            return False, None


def _parse(tree: Any) -> tuple[_Node | None, list[ConditionError]]:
    parser = _Parser()
    node = parser.node(tree, "", 1)
    return node, parser.errors


def validate_filter(tree: Mapping[str, Any]) -> list[ConditionError]:
    """Every structural problem of a filter tree; empty when it is well formed."""
    return _parse(tree)[1]


def evaluate_filter(tree: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Whether `context` satisfies the filter tree. Raises ConditionError on a malformed tree."""
    node, errors = _parse(tree)
    if errors:
        raise errors[0]
    assert node is not None  # a parse without errors always yields a node
    return _evaluate(node, context)


def _evaluate(node: _Node, context: Mapping[str, Any]) -> bool:
    if isinstance(node, _Leaf):
        return node.test(resolve_path(context, node.field), node.value)
    if not node.children:
        return True  # an empty group restricts nothing, whatever its operator
    results = (_evaluate(child, context) for child in node.children)
    if node.operator == "or":
        return any(results)
    if node.operator == "not":
        return not all(results)
    return all(results)


def operator_names() -> dict[str, list[str]]:
    """Every leaf operator with its accepted aliases (for catalogs and error messages)."""
    names: dict[str, list[str]] = {name: [] for name in _OPERATORS}
    for alias, canonical in _ALIASES.items():
        names[canonical].append(alias)
    return names


def _shown(value: Any) -> Any:
    """A value as an explanation shows it: absent paths say so, long values are cut."""
    if value is MISSING:
        return "<missing>"
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "..."
    return value


def _trace(node: _Node, context: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate every node (no short-circuit) and say what each one decided."""
    if isinstance(node, _Leaf):
        actual = resolve_path(context, node.field)
        return {
            "path": node.path,
            "field": node.field,
            "operator": node.operator,
            "expected": node.raw_value,
            "actual": _shown(actual),
            "result": node.test(actual, node.value),
        }
    children = [_trace(child, context) for child in node.children]
    results = [child["result"] for child in children]
    if not results:
        result = True
    elif node.operator == "or":
        result = any(results)
    elif node.operator == "not":
        result = not all(results)
    else:
        result = all(results)
    return {"path": node.path, "operator": node.operator, "result": result, "conditions": children}


def _causes(trace: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The leaves that made a failed (sub)tree fail."""
    if "conditions" not in trace:
        return [] if trace["result"] else [{k: v for k, v in trace.items() if k != "result"}]
    children: list[dict[str, Any]] = trace["conditions"]
    if trace["operator"] == "not":
        # A failed `not` failed because everything under it held.
        return [
            {k: v for k, v in c.items() if k not in ("result", "conditions")} | {"negated": True}
            for c in children
        ]
    failed: list[dict[str, Any]] = []
    for child in children:
        if not child["result"]:
            failed.extend(_causes(child))
    return failed


def explain_filter(tree: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Whether `context` satisfies the tree, with every leaf's verdict and the failed ones.

    ``{"result": bool, "trace": {...}, "failed_conditions": [{path, field, operator,
    expected, actual}]}``. Raises ConditionError on a malformed tree, like `evaluate_filter`.
    """
    node, errors = _parse(tree)
    if errors:
        raise errors[0]
    assert node is not None
    trace = _trace(node, context)
    return {
        "result": trace["result"],
        "trace": trace,
        "failed_conditions": [] if trace["result"] else _causes(trace),
    }


# -- CEL -------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")


@functools.lru_cache(maxsize=1024)
def compile_cel(expression: str) -> cel.Program:
    """The compiled program for `expression` (cached). Raises ConditionError on bad syntax."""
    if not isinstance(expression, str):
        raise ConditionError(f"a CEL expression must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_CEL_LENGTH:
        raise ConditionError(f"CEL expression longer than {MAX_CEL_LENGTH} characters")
    try:
        return cel.compile(expression)
    except ValueError as exc:
        raise ConditionError(f"invalid CEL expression: {exc}") from exc


def evaluate_cel(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of a CEL expression over `context`; a missing field reads as null.

    Raises ConditionError on syntax errors, undefined variables and type errors.
    """
    return evaluate_cel_reading(expression, context)[0]


def evaluate_cel_reading(expression: str, context: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
    """The value of a CEL expression and the fields it read that `context` lacks (as null)."""
    program = compile_cel(expression)
    refs = cel_references(expression)
    missing = missing_paths(context, refs)
    if missing:
        context = fill_missing(context, refs)
    return _run_cel(program, context), missing


def _run_cel(program: cel.Program, context: Mapping[str, Any]) -> Any:
    variables = _cel_variables(program, context)
    try:
        return program.execute(variables)
    except RuntimeError as exc:
        raise ConditionError(_runtime_message(exc, context)) from exc
    except KeyError as exc:
        key = exc.args[0] if exc.args else "?"
        raise ConditionError(f"CEL expression reads a missing key {key!r}") from exc
    except TypeError as exc:
        raise _CelTypeError(f"type error in CEL expression: {exc}") from exc
    except (ValueError, ArithmeticError, IndexError) as exc:
        # ValueError: a context value CEL cannot represent; the rest are plain runtime faults.
        raise ConditionError(f"CEL evaluation failed: {exc}") from exc


class _CelTypeError(ConditionError):
    """No overload for the operand types: with a missing field, ``null > 5``."""


def _runtime_message(exc: RuntimeError, context: Mapping[str, Any]) -> str:
    match = _UNDEFINED.search(str(exc))
    if match is None:
        return f"CEL evaluation failed: {exc}"
    # Listing what *is* available turns a typo hunt into a glance.
    known = ", ".join(sorted(str(key) for key in context)[:20]) or "nothing"
    return f"undefined variable or function {match.group(1)!r} in CEL expression (context has: {known})"


def _cel_variables(program: cel.Program, context: Mapping[str, Any]) -> dict[str, Any]:
    """The CEL-friendly subset of `context` the program reads.

    Only referenced names are converted, so the cost follows the expression rather than the
    size of the context (which includes every node's output). Names CEL cannot spell are
    dropped, tuples become lists and datetimes ISO strings, as events carry them on the wire.
    """
    return {
        name: _to_cel(context[name], 0)
        for name in program.variables()
        if name in context and _IDENTIFIER.fullmatch(name)
    }


def _to_cel(value: Any, depth: int) -> Any:
    if depth > _MAX_CONTEXT_DEPTH:
        raise ConditionError(f"context nested deeper than {_MAX_CONTEXT_DEPTH} levels")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _to_cel(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_cel(item, depth + 1) for item in value]
    return value


# -- either kind -----------------------------------------------------------------------

_CEL_KEYS: Final = ("expression", "cel")
_FILTER_KEYS: Final = ("conditions", "field", "operator")


def _is_blank(spec: Any) -> bool:
    return spec is None or (isinstance(spec, str) and not spec.strip())


def _cel_of(spec: Mapping[str, Any]) -> tuple[Any, str] | None:
    """(expression, key) when the mapping holds a CEL expression, None when it does not."""
    keys = [key for key in _CEL_KEYS if key in spec]
    if not keys:
        return None
    if len(keys) > 1 or any(key in spec for key in _FILTER_KEYS):
        raise ConditionError("give a CEL expression or a filter tree, not both")
    key = keys[0]
    expression = spec[key]
    if expression is not None and not isinstance(expression, str):
        raise ConditionError("a CEL expression must be a string", key)
    return expression, key


def _is_filter(spec: Mapping[str, Any]) -> bool:
    return not spec or any(key in spec for key in _FILTER_KEYS)


def _unsupported(spec: Any) -> ConditionError:
    return ConditionError(f"unsupported condition of type {type(spec).__name__}")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A condition's answer, and the fields it read that the context lacked (read as null)."""

    result: bool
    missing_fields: tuple[str, ...] = ()


def evaluate_condition(spec: str | Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    """Evaluate a CEL string, a ``{"expression"|"cel": ...}`` mapping or a filter tree.

    None and blank strings are True (no condition). A CEL result must be a bool.
    """
    return judge_condition(spec, context).result


def judge_condition(spec: str | Mapping[str, Any] | None, context: Mapping[str, Any]) -> Verdict:
    """`evaluate_condition`, saying which fields it read were missing."""
    if _is_blank(spec):
        return Verdict(True)
    if isinstance(spec, str):
        return _cel_bool(spec, context, "")
    if isinstance(spec, Mapping):
        found = _cel_of(spec)
        if found is not None:
            expression, key = found
            return Verdict(True) if _is_blank(expression) else _cel_bool(expression, context, key)
        if _is_filter(spec):
            return judge_filter(spec, context)
    raise _unsupported(spec)


def judge_filter(tree: Mapping[str, Any], context: Mapping[str, Any]) -> Verdict:
    """`evaluate_filter`, saying which leaf fields were missing."""
    node, errors = _parse(tree)
    if errors:
        raise errors[0]
    assert node is not None
    missing = sorted({leaf.field for leaf in _leaves(node) if resolve_path(context, leaf.field) is MISSING})
    return Verdict(_evaluate(node, context), tuple(missing))


def _leaves(node: _Node) -> list[_Leaf]:
    if isinstance(node, _Leaf):
        return [node]
    return [leaf for child in node.children for leaf in _leaves(child)]


def _cel_bool(expression: str, context: Mapping[str, Any], path: str) -> Verdict:
    refs = cel_references(expression) if isinstance(expression, str) else ()
    try:
        result, missing = evaluate_cel_reading(expression, context)
    except _CelTypeError as exc:
        missing = missing_paths(context, refs)
        if missing:
            # An ordering or arithmetic on a missing field (``null > 5``): the comparison is
            # false, like every other comparison with a missing field.
            return Verdict(False, missing)
        raise exc.at(path) from exc
    except ConditionError as exc:
        raise exc.at(path) from exc
    if not isinstance(result, bool):
        raise ConditionError(
            f"condition did not evaluate to a boolean (got {type(result).__name__})", path
        )
    return Verdict(result, missing)


def validate_condition(spec: str | Mapping[str, Any] | None) -> list[ConditionError]:
    """Problems found without a context: CEL is compiled, filter trees are checked."""
    if _is_blank(spec):
        return []
    if isinstance(spec, str):
        return _compile_problems(spec, "")
    if isinstance(spec, Mapping):
        try:
            found = _cel_of(spec)
        except ConditionError as exc:
            return [exc]
        if found is not None:
            expression, key = found
            return [] if _is_blank(expression) else _compile_problems(expression, key)
        if _is_filter(spec):
            return validate_filter(spec)
    return [_unsupported(spec)]


def referenced_fields(spec: str | Mapping[str, Any] | None) -> tuple[Reference, ...]:
    """The field paths a condition reads (CEL selects, filter-tree leaf fields), as far as it
    parses: for static checks, which must never fail on a condition they cannot read."""
    if _is_blank(spec):
        return ()
    if isinstance(spec, str):
        return () if _compile_problems(spec, "") else cel_references(spec)
    if not isinstance(spec, Mapping):
        return ()
    try:
        found = _cel_of(spec)
    except ConditionError:
        return ()
    if found is not None:
        expression = found[0]
        return referenced_fields(expression) if isinstance(expression, str) else ()
    node, errors = _parse(spec) if _is_filter(spec) else (None, [])
    if errors or node is None:
        return ()
    return tuple(dict.fromkeys(Reference(tuple(leaf.field.split("."))) for leaf in _leaves(node)))


def _compile_problems(expression: str, path: str) -> list[ConditionError]:
    try:
        compile_cel(expression)
    except ConditionError as exc:
        return [exc.at(path)]
    return []
