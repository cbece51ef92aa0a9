"""The fields a CEL expression reads, and the rule for the ones a context lacks. Pure.

The rule, one for node conditions, edge conditions, trigger filters and templates: a missing
field is null. So a comparison with it is false (``!= x`` is true) and the execution goes on;
conditions say which fields were missing. Templates already read a missing field as null
(Jinja's ChainableUndefined, rendered as nothing in text).

CEL itself fails on a missing map key, and the `cel` package has no hook for lookups, so the
fields an expression reads are found from its tokens (`cel_references`) and the absent ones
are filled with null in a copy of the context (`fill_missing`) before it runs. A name that is
no field of anything (an undefined top-level variable, not one of `KNOWN_ROOTS`) stays an
error: it is a typo or a reference to something that cannot exist, never a silent false.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["KNOWN_ROOTS", "Reference", "cel_references", "fill_missing", "missing_paths"]

KNOWN_ROOTS: Final = frozenset({
    # Every execution's context (processors.matching.triggers.event_context, manual runs,
    # webhooks, automation) and what the engine adds (transition.eval_context, edge contexts).
    "user", "event", "conversation", "input_data", "nodes", "execution", "loop", "item",
    "data", "visitor", "webhook", "lead", "output",
})

# Macros that bind their first argument(s) as variables: those names are not context fields.
_BINDING_MACROS: Final = frozenset({
    "all", "exists", "exists_one", "map", "filter", "bind", "transformList", "transformMap",
})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\.\?|[.()\[\],])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_PLAIN_STRING = re.compile(r"""^(?:"([^"\\]*)"|'([^'\\]*)')$""")


@dataclass(frozen=True, slots=True)
class Reference:
    """A field path an expression reads (``("input_data", "client_exists")``). `presence` is
    True when it is only tested with ``has()``: then its absence is the answer, not null."""

    segments: tuple[str, ...]
    presence: bool = False

    @property
    def path(self) -> str:
        return ".".join(self.segments)


def _tokens(expression: str) -> list[tuple[str, str]]:
    out = []
    for match in _TOKEN.finditer(expression):
        kind = match.lastgroup or "other"
        if kind != "space":
            out.append((kind, match.group()))
    return out


@functools.lru_cache(maxsize=1024)
def cel_references(expression: str) -> tuple[Reference, ...]:
    """The field paths `expression` reads: chains of ``name.name`` / ``name["key"]`` selects,
    without the method called at their end, without the variables macros bind."""
    tokens = _tokens(expression)
    bound = _bound_names(tokens)
    refs: list[Reference] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind != "name" or (i > 0 and tokens[i - 1][1] in (".", ".?")):
            i += 1
            continue
        segments = [text]
        j = i + 1
        while j < len(tokens):
            if tokens[j][1] == "." and j + 1 < len(tokens) and tokens[j + 1][0] == "name":
                segments.append(tokens[j + 1][1])
                j += 2
                continue
            if (tokens[j][1] == "[" and j + 2 < len(tokens) and tokens[j + 1][0] == "string"
                    and tokens[j + 2][1] == "]"):
                key = _PLAIN_STRING.match(tokens[j + 1][1])
                if key is None:
                    break
                segments.append(key.group(1) if key.group(1) is not None else key.group(2))
                j += 3
                continue
            break
        called = j < len(tokens) and tokens[j][1] == "("
        if called:
            segments.pop()  # a function or a method, not a field
        presence = i >= 2 and tokens[i - 1][1] == "(" and tokens[i - 2] == ("name", "has") and (
            i < 3 or tokens[i - 3][1] != ".") and j < len(tokens) and tokens[j][1] == ")"
        if segments and segments[0] not in bound and segments[0] not in ("true", "false", "null", "in"):
            refs.append(Reference(tuple(segments), presence))
        i = j
    return tuple(dict.fromkeys(refs))


def _bound_names(tokens: Sequence[tuple[str, str]]) -> frozenset[str]:
    names = set()
    for i in range(len(tokens) - 3):
        if tokens[i][0] == "name" and tokens[i][1] in _BINDING_MACROS and tokens[i + 1][1] == "(":
            k = i + 2
            while k + 1 < len(tokens) and tokens[k][0] == "name" and tokens[k + 1][1] == ",":
                names.add(tokens[k][1])
                k += 2
                if tokens[i][1] in ("map", "filter", "bind"):
                    break
    return frozenset(names)


_ABSENT: Final = object()


def _lookup(context: Mapping[str, Any], segments: tuple[str, ...]) -> Any:
    current: Any = context
    for segment in segments:
        if not isinstance(current, Mapping):
            return None  # a field of a non-object: CEL's own type rules answer, not this rule
        if segment not in current:
            return _ABSENT
        current = current[segment]
    return current


def _applies(context: Mapping[str, Any], ref: Reference) -> bool:
    return ref.segments[0] in context or ref.segments[0] in KNOWN_ROOTS


def missing_paths(context: Mapping[str, Any], refs: Sequence[Reference]) -> tuple[str, ...]:
    """The paths of `refs` the context lacks (sorted, once each)."""
    return tuple(sorted({r.path for r in refs if _applies(context, r) and _lookup(context, r.segments) is _ABSENT}))


class _Trie(dict[str, "_Trie"]):
    presence_only = True


def fill_missing(context: Mapping[str, Any], refs: Sequence[Reference]) -> Mapping[str, Any]:
    """`context` with every missing field of `refs` set to null (the same object when none is).

    A missing object on the way to a deeper field becomes an object holding that field as
    null, so ``input_data.a.b`` is null when ``a`` is missing (the deeper read wins if the
    expression also reads ``input_data.a`` itself). A field read only by ``has()`` stays
    absent, so ``has()`` keeps answering false.
    """
    trie = _Trie()
    for ref in refs:
        if not _applies(context, ref):
            continue
        node = trie
        for segment in ref.segments:
            node = node.setdefault(segment, _Trie())
        if not ref.presence:
            node.presence_only = False
    filled: dict[str, Any] | None = None
    for root, sub in trie.items():
        present = root in context
        value = _fill(context[root], sub) if present else _build(sub)
        if value is _ABSENT or (present and value is context[root]):
            continue
        if filled is None:
            filled = dict(context)
        filled[root] = value
    return context if filled is None else filled


def _build(node: _Trie) -> Any:
    if not node:
        return _ABSENT if node.presence_only else None
    built = {segment: _build(child) for segment, child in node.items()}
    return {k: v for k, v in built.items() if v is not _ABSENT}


def _fill(value: Any, node: _Trie) -> Any:
    if not isinstance(value, Mapping) or not node:
        return value
    changed: dict[str, Any] | None = None
    for segment, child in node.items():
        new = _fill(value[segment], child) if segment in value else _build(child)
        if new is _ABSENT or (segment in value and new is value[segment]):
            continue
        if changed is None:
            changed = dict(value)
        changed[segment] = new
    return value if changed is None else changed
