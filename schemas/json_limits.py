"""Bounds on free-form JSON (event payloads, filter trees, node configs, webhook bodies).

Whatever a request carries ends up in Kafka records and PostgreSQL rows: a value PostgreSQL
cannot store (a NUL character), a number a record cannot carry (an integer beyond 64 bits,
NaN), or a tree deep enough to exhaust a recursive reader must be refused at the edge, with
the place at fault, instead of failing later in a processor or wedging a projection.
Pure: no I/O.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 32
# Values (objects, arrays, scalars) in one document; the request size bounds it too.
MAX_VALUES = 100_000
MAX_PROBLEMS = 20
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _field(path: tuple[str, ...]) -> str:
    # The same dotted spelling as the validation errors' field names (`nodes.0.config.x`).
    return ".".join(path) or "body"


def json_problems(value: Any, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> dict[str, str]:
    """What is wrong with a parsed JSON document, keyed by the place (at most MAX_PROBLEMS)."""
    problems: dict[str, str] = {}
    seen = 0
    # Iterative: a hostile document must not exhaust the interpreter's stack here either.
    stack: list[tuple[Any, tuple[str, ...], int]] = [(value, (), 0)]
    while stack and len(problems) < MAX_PROBLEMS:
        item, path, depth = stack.pop()
        seen += 1
        if seen > max_values:
            problems["body"] = f"more than {max_values} values in one document"
            break
        if isinstance(item, dict):
            if depth >= max_depth:
                problems[_field(path)] = f"nested deeper than {max_depth} levels"
                continue
            for key, child in item.items():
                if not isinstance(key, str):
                    continue  # JSON keys are strings; a non-string key did not come from JSON
                if "\x00" in key:
                    problems[_field(path)] = "a key contains a NUL character"
                    continue
                stack.append((child, (*path, key), depth + 1))
        elif isinstance(item, list):
            if depth >= max_depth:
                problems[_field(path)] = f"nested deeper than {max_depth} levels"
                continue
            stack.extend((child, (*path, str(i)), depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            if "\x00" in item:
                problems[_field(path)] = "contains a NUL character"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                problems[_field(path)] = "integer out of range (64 bits)"
        elif isinstance(item, float) and not math.isfinite(item):
            problems[_field(path)] = "must be a finite number"
    return problems


def text_problems(values: dict[str, str]) -> dict[str, str]:
    """Query or path values PostgreSQL could not store (NUL characters), keyed by their name."""
    return {name: "contains a NUL character" for name, value in values.items() if "\x00" in value or "\x00" in name}
