"""Templates: render ``{{ ... }}`` inside action configurations with a sandboxed Jinja.

Rendering is pure and replayable: the only clock is the `now` argument, exposed to templates
as ``now()``. A string that is exactly one expression yields the expression's native value
(``"{{ user.tags }}"`` is a list), anything else renders to text. Results are JSON-ready:
datetimes become ISO 8601 strings because rendered configs are written to records.

A missing field is null, the one rule conditions follow too (processors.expressions.references):
``{{ input_data.nope }}`` alone is None, inside text it renders as nothing, and a comparison
with it is false (Jinja's ChainableUndefined). Templates do not list missing fields: a rendered
config is not an answer anyone reads for them.

Seed syntax: ``{{ now() + 7 days }}`` — ``<integer> <unit>`` inside an expression is rewritten
to ``duration(7, 'days')`` (a ``timedelta``) before compiling.

The Jinja sandbox stops templates from reaching Python internals. It does not bound CPU or
memory in general (loops, recursive macros, ``format`` widths, ...); the obvious one-step
amplifiers are refused here, the rest needs a per-worker time/memory limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Final, TypeAlias

import jinja2
import orjson
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.filters import do_center, do_indent
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from schemas.errors import ExpressionError

__all__ = [
    "MAX_OUTPUT_LENGTH",
    "MAX_TEMPLATE_LENGTH",
    "TemplateError",
    "duration",
    "render_string",
    "render_value",
]

MAX_TEMPLATE_LENGTH: Final = 10_000
MAX_OUTPUT_LENGTH: Final = 1_000_000
# 2 ** 1024 is already a 309-digit number; bigger exponents only serve to burn CPU.
_MAX_EXPONENT: Final = 1024


class TemplateError(ExpressionError):
    """A template that cannot be rendered.

    ``str(error)`` is the message alone; ``path`` says where in the config it sits
    (``"payload.user_id"``, ``"items[0]"``; ``""`` for the value as a whole).
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


# -- durations -----------------------------------------------------------------------

_UNITS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "second": "seconds",
        "seconds": "seconds",
        "minute": "minutes",
        "minutes": "minutes",
        "hour": "hours",
        "hours": "hours",
        "day": "days",
        "days": "days",
        "week": "weeks",
        "weeks": "weeks",
    }
)


def duration(amount: float, unit: str) -> timedelta:
    """``duration(7, 'days')``: what the ``7 days`` seed syntax compiles to."""
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"duration amount must be a number, got {type(amount).__name__}")
    if unit not in _UNITS:
        raise ValueError(f"unknown duration unit {unit!r}; use one of {', '.join(_UNITS)}")
    return timedelta(**{_UNITS[unit]: amount})


_Token: TypeAlias = tuple[str, str]


def _rewrite_durations(tokens: list[_Token]) -> list[_Token]:
    """Replace ``integer [whitespace] unit`` token runs with a ``duration(...)`` call.

    Working on Jinja's own tokens means string literals, plain text, comments and raw blocks
    are never touched: only code can contain an ``integer`` token.
    """
    out: list[_Token] = []
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        unit_at = index + 1
        if unit_at < len(tokens) and tokens[unit_at][0] == "whitespace":
            unit_at += 1
        if (
            kind == "integer"
            and unit_at < len(tokens)
            and tokens[unit_at][0] == "name"
            and tokens[unit_at][1] in _UNITS
        ):
            out.append(("code", f"duration({value}, '{tokens[unit_at][1]}')"))
            index = unit_at + 1
            continue
        out.append((kind, value))
        index += 1
    return out


# -- the sandbox -----------------------------------------------------------------------

_PADDING_METHODS: Final = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _refuse_if_longer(length: int) -> None:
    if length > MAX_OUTPUT_LENGTH:
        raise SecurityError(f"result would exceed {MAX_OUTPUT_LENGTH} characters")


def _check_repeat(left: Any, right: Any) -> None:
    """Refuse ``'x' * 10**9`` before Python allocates it."""
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            _refuse_if_longer(len(sequence) * count)


def _check_power(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > _MAX_EXPONENT:
        raise SecurityError(f"exponent larger than {_MAX_EXPONENT}")


def _check_padding(function: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse ``'x'.ljust(10**9)`` and friends: their result size is their argument."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, str) or getattr(function, "__name__", "") not in _PADDING_METHODS:
        return
    repeats = owner.count("\t") if function.__name__ == "expandtabs" else 1
    for argument in (*args, *kwargs.values()):
        if isinstance(argument, int):
            _refuse_if_longer(len(owner) + argument * repeats)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        # The stock sandbox returns an Undefined that only raises when used, and a
        # ChainableUndefined prints as "" — so escapes would pass silently. Fail loudly.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_padding(obj, args, kwargs)
        return super().call(context, obj, *args, **kwargs)


def _finalize(value: Any) -> Any:
    """How a ``{{ }}`` value prints inside text: ISO datetimes, and null as nothing (a message
    saying "Hello None" is always a bug)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return "" if value is None else value


def _json_default(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_filter(value: Any) -> str:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _iso_filter(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, jinja2.Undefined):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value).isoformat()  # validates and normalises ("Z")
    raise TypeError(f"iso expects a datetime, got {type(value).__name__}")


def _center_filter(value: Any, width: int = 80) -> str:
    _refuse_if_longer(len(str(value)) + width)
    return do_center(value, width)


def _indent_filter(
    value: Any, width: int | str = 4, first: bool = False, blank: bool = False
) -> str:
    text = str(value)
    if isinstance(width, int):
        _refuse_if_longer(len(text) + width * (text.count("\n") + 1))
    return do_indent(text, width, first, blank)


def _environment() -> _Sandbox:
    env = _Sandbox(
        autoescape=False,
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=True,  # configs must come back byte-for-byte, final newline too
        finalize=_finalize,
        cache_size=0,  # we cache compiled templates ourselves, bounded
    )
    # lipsum(n) generates n paragraphs: a free CPU/memory amplifier with no use in workflows.
    env.globals.pop("lipsum", None)
    env.filters.update(
        json=_json_filter, iso=_iso_filter, center=_center_filter, indent=_indent_filter
    )
    return env


_ENV: Final = _environment()
_Compiled: TypeAlias = "jinja2.Template | TemplateExpression"


# -- compiling -----------------------------------------------------------------------


def _has_markup(text: str) -> bool:
    return "{{" in text or "{%" in text


def _single_expression(tokens: list[_Token]) -> str | None:
    """The expression source when the template is exactly one ``{{ }}`` (give or take
    surrounding whitespace), else None."""
    kinds = [kind for kind, value in tokens if not (kind == "data" and not value.strip())]
    if not kinds or kinds[0] != "variable_begin" or kinds[-1] != "variable_end":
        return None
    if kinds.count("variable_begin") != 1:
        return None
    if any(kind in ("block_begin", "comment_begin", "raw_begin", "data") for kind in kinds):
        return None
    begin = next(i for i, (kind, _) in enumerate(tokens) if kind == "variable_begin")
    end = next(i for i, (kind, _) in enumerate(tokens) if kind == "variable_end")
    return "".join(value for _, value in tokens[begin + 1 : end])


@functools.lru_cache(maxsize=1024)
def _compile(source: str, native: bool) -> _Compiled:
    tokens = _rewrite_durations([(kind, value) for _, kind, value in _ENV.lex(source)])
    expression = _single_expression(tokens) if native else None
    if expression is not None:
        return _ENV.compile_expression(expression, undefined_to_none=True)
    return _ENV.from_string("".join(value for _, value in tokens))


# -- rendering -----------------------------------------------------------------------

# What a user-authored template can raise: Jinja's own errors, plus whatever the Python
# operations and filters it calls raise on bad input ('a' + 1, 1 / 0, int('x'), ...).
_RENDER_ERRORS: Final = (
    jinja2.TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    RuntimeError,  # includes RecursionError; jinja's cycler() raises it for no items
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"unsafe template: {exc}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined value in template: {exc}"
    return f"template failed: {type(exc).__name__}: {exc}"


def _check_now(now: datetime) -> None:
    # A naive `now` would make "now() + 1 day" mean different instants on different hosts.
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _clock(now: datetime) -> Callable[[], datetime]:
    def current() -> datetime:
        return now

    return current


def _variables(context: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    # Our helpers go last so a context key cannot shadow them and break `7 days` or now().
    return {**context, "now": _clock(now), "duration": duration}


def _render(template: str, variables: dict[str, Any], path: str, native: bool) -> Any:
    if not _has_markup(template):
        return template
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"template longer than {MAX_TEMPLATE_LENGTH} characters", path)
    try:
        compiled = _compile(template, native)
        if isinstance(compiled, TemplateExpression):
            return _plain(compiled(variables), path)
        return _render_text(compiled, variables, path)
    except TemplateError:
        raise
    except _RENDER_ERRORS as exc:
        raise TemplateError(_describe(exc), path) from exc


def _render_text(template: jinja2.Template, variables: dict[str, Any], path: str) -> str:
    """Render chunk by chunk so an oversized result is stopped while it is being produced."""
    parts: list[str] = []
    size = 0
    for chunk in template.generate(variables):
        size += len(chunk)
        if size > MAX_OUTPUT_LENGTH:
            raise TemplateError(f"rendered text longer than {MAX_OUTPUT_LENGTH} characters", path)
        parts.append(chunk)
    return "".join(parts)


def _plain(value: Any, path: str) -> Any:
    """A native expression result as JSON-ready data (records must be JSON)."""
    if isinstance(value, jinja2.Undefined) or value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_OUTPUT_LENGTH:
            raise TemplateError(f"rendered text longer than {MAX_OUTPUT_LENGTH} characters", path)
        return str(value)  # a plain str, not Markup or another subclass
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {key: _plain(item, path) for key, item in value.items()}
    # Iterators: what select/map/unique return; they are finite and consumed once, here.
    if isinstance(value, list | tuple | range | Iterator):
        return [_plain(item, path) for item in value]
    raise TemplateError(f"expression produced a {type(value).__name__}, which is not data", path)


def render_string(template: str, context: Mapping[str, Any], *, now: datetime) -> Any:
    """Render one string: unchanged without markup, the native value of a lone ``{{ expr }}``,
    else text. Raises TemplateError; ValueError if `now` is not timezone-aware."""
    _check_now(now)
    return _render(template, _variables(context, now), "", native=True)


def render_value(value: Any, context: Mapping[str, Any], *, now: datetime, path: str = "") -> Any:
    """Render every string inside `value` (dicts, lists, tuples -> lists; keys with markup too).

    Raises TemplateError whose `path` locates the failing string under `path`.
    """
    _check_now(now)
    # Built once per call: Jinja copies the variables for every template it renders anyway.
    return _render_value(value, _variables(context, now), path)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _render_value(value: Any, variables: dict[str, Any], path: str) -> Any:
    if isinstance(value, str):
        return _render(value, variables, path, native=True)
    if isinstance(value, Mapping):
        return _render_mapping(value, variables, path)
    if isinstance(value, list | tuple):
        return [
            _render_value(item, variables, f"{path}[{index}]") for index, item in enumerate(value)
        ]
    return value


def _render_mapping(
    mapping: Mapping[Any, Any], variables: dict[str, Any], path: str
) -> dict[Any, Any]:
    rendered: dict[Any, Any] = {}
    for key, item in mapping.items():
        child = _join(path, str(key))
        # Keys are always text: a key template yielding 5 must give "5", never the int.
        new_key = _render(key, variables, child, native=False) if isinstance(key, str) else key
        if new_key in rendered:
            raise TemplateError(f"key {new_key!r} appears twice after rendering", child)
        rendered[new_key] = _render_value(item, variables, child)
    return rendered
