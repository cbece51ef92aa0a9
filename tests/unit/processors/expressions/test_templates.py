"""Unit tests for processors.expressions.templates: sandboxed rendering of action configurations."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.expressions import templates
from processors.expressions.templates import (
    MAX_OUTPUT_LENGTH,
    MAX_TEMPLATE_LENGTH,
    TemplateError,
    duration,
    render_string,
    render_value,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CTX: dict[str, Any] = {
    "event": {"type": "message_received", "data": {"amount": 42, "price": 9.5, "ok": True}},
    "user": {
        "first_name": "Sara",
        "email": "sara@example.com",
        "tags": ["premium", "vip"],
        "profile": {"age": 30, "city": None},
    },
    "conversation": {"id": "c1"},
    "nodes": {"lookup": {"output": {"score": 7}}},
}


def render(template: str, context: dict[str, Any] | None = None) -> Any:
    return render_string(template, CTX if context is None else context, now=NOW)


# -- fast path ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain text",
        "{ single } braces",
        '{"json": "body", "n": 1}',
        "{# only a comment marker #}",
        "100% sure }} and %}",
        "ship in 7 days",
        "x" * (MAX_TEMPLATE_LENGTH + 50),  # the length bound only applies to templates
        "مرحبا بالعالم",
    ],
)
def test_strings_without_markup_are_returned_unchanged(text: str) -> None:
    assert render(text) is text


# -- native values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{user.tags}}", ["premium", "vip"]),
        ("{{ user.tags }}", ["premium", "vip"]),
        ("  {{ user.tags }}\n", ["premium", "vip"]),  # surrounding whitespace is ignored
        ("{{-user.tags-}}", ["premium", "vip"]),
        ("{{event.data.amount}}", 42),
        ("{{ event.data.price }}", 9.5),
        ("{{ event.data.ok }}", True),
        ("{{ user.profile }}", {"age": 30, "city": None}),
        ("{{ user.profile.city }}", None),
        ("{{ user.first_name }}", "Sara"),
        ("{{ event.data.amount * 2 }}", 84),
        ("{{ user.tags | length }}", 2),
        ("{{ user.tags | first | upper }}", "PREMIUM"),
        ("{{ user.tags | select('ne', 'vip') }}", ["premium"]),  # generators become lists
        ("{{ user.tags | map('upper') }}", ["PREMIUM", "VIP"]),
        ("{{ range(3) }}", [0, 1, 2]),
        ("{{ (1, 2) }}", [1, 2]),
        ("{{ {'a': [user.first_name]} }}", {"a": ["Sara"]}),
        ("{{ nodes.lookup.output.score > 5 }}", True),
        ("{{ user.email.split('@')[1] }}", "example.com"),
        ("{{ 'a' ~ 1 }}", "a1"),
        ("{{ '}}' }}", "}}"),
    ],
)
def test_single_expression_yields_native_value(template: str, expected: Any) -> None:
    result = render(template)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "template",
    ["{{ user.missing }}", "{{user.missing.deep}}", "{{ nothing.at.all }}", "{{ none_var }}"],
)
def test_undefined_native_value_is_none(template: str) -> None:
    assert render(template) is None


def test_undefined_inside_native_containers_becomes_none() -> None:
    assert render("{{ [user.missing, 1] }}") == [None, 1]
    assert render("{{ {'k': user.missing.deep} }}") == {"k": None}


def test_native_value_is_a_copy_not_the_context_object() -> None:
    result = render("{{ user.tags }}")
    result.append("x")
    assert CTX["user"]["tags"] == ["premium", "vip"]


def test_non_data_native_value_is_an_error() -> None:
    with pytest.raises(TemplateError, match="not data"):
        render("{{ now }}")


# -- mixed text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{ user.first_name }}!", "Hi Sara!"),
        ("Amount: {{ event.data.amount }}", "Amount: 42"),
        ("{{ event.data.amount }}{{ event.data.amount }}", "4242"),  # two expressions: text
        ("City: {{ user.profile.city }}.", "City: ."),  # null prints as nothing
        ("x {{user.missing.deep}} y", "x  y"),
        ("Tags: {{ user.tags | join(', ') }}", "Tags: premium, vip"),
        ("{% if 'vip' in user.tags %}VIP{% else %}regular{% endif %}", "VIP"),
        ("{% for t in user.tags %}[{{ t }}]{% endfor %}", "[premium][vip]"),
        ("{{ user.first_name | upper }} {{ user.first_name | lower }}", "SARA sara"),
        ("{{ user.missing | default('friend') }}", "friend"),
        ("Hi {{ user.nickname | default(user.first_name) }}", "Hi Sara"),
        ("Line\n{{ user.first_name }}\n", "Line\nSara\n"),  # trailing newline kept
        ("{# note #}{{ user.first_name }}", "Sara"),
        ("{% raw %}{{ user.first_name }}{% endraw %}", "{{ user.first_name }}"),
    ],
)
def test_mixed_templates_render_to_text(template: str, expected: str) -> None:
    assert render(template) == expected


def test_statement_template_with_single_expression_inside_is_text() -> None:
    assert render("{% if true %}{{ event.data.amount }}{% endif %}") == "42"


# -- now() and durations -----------------------------------------------------------------------


def test_now_returns_the_given_instant() -> None:
    assert render("{{ now() }}") == "2024-05-01T12:00:00+00:00"
    assert render("at {{ now() }}") == "at 2024-05-01T12:00:00+00:00"


def test_seed_now_plus_seven_days() -> None:
    assert render("{{now() + 7 days}}") == "2024-05-08T12:00:00+00:00"


UNITS = [
    ("second", timedelta(seconds=1)),
    ("seconds", timedelta(seconds=1)),
    ("minute", timedelta(minutes=1)),
    ("minutes", timedelta(minutes=1)),
    ("hour", timedelta(hours=1)),
    ("hours", timedelta(hours=1)),
    ("day", timedelta(days=1)),
    ("days", timedelta(days=1)),
    ("week", timedelta(weeks=1)),
    ("weeks", timedelta(weeks=1)),
]


@pytest.mark.parametrize(("unit", "step"), UNITS)
@pytest.mark.parametrize("amount", [0, 1, 2, 90])
def test_duration_arithmetic_with_every_unit(unit: str, step: timedelta, amount: int) -> None:
    assert render(f"{{{{ now() + {amount} {unit} }}}}") == (NOW + amount * step).isoformat()
    assert render(f"{{{{now() - {amount} {unit}}}}}") == (NOW - amount * step).isoformat()
    assert (
        render(f"due {{{{ now() + {amount} {unit} }}}}")
        == f"due {(NOW + amount * step).isoformat()}"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ now() - 2 hours }}", "2024-05-01T10:00:00+00:00"),
        ("{{ now() + 7days }}", "2024-05-08T12:00:00+00:00"),
        ("{{ now() + 1 day + 2 hours }}", "2024-05-02T14:00:00+00:00"),
        ("{{ now() + duration(90, 'minutes') }}", "2024-05-01T13:30:00+00:00"),
        ("{{ (now() + 1 week) | iso }}", "2024-05-08T12:00:00+00:00"),
        ("{{ (now() + 3 days).strftime('%Y-%m-%d') }}", "2024-05-04"),
        ("{{ now() > now() - 1 second }}", True),
        ("{{ 7 days }}", 604800.0),  # a bare duration is stored as seconds
        ("{% set later = now() + 2 days %}{{ later }}", "2024-05-03T12:00:00+00:00"),
    ],
)
def test_now_arithmetic(template: str, expected: Any) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ '7 days' }}", "7 days"),
        ('{{ "now() + 2 hours" }}', "now() + 2 hours"),
        ("in 7 days: {{ 1 }}", "in 7 days: 1"),
        ("{# 7 days #}{{ 'x' }}", "x"),
        ("{% raw %}{{ 7 days }}{% endraw %}", "{{ 7 days }}"),
        ("{{ 'wait 3 hours' ~ ' then ' ~ 2 }} hours", "wait 3 hours then 2 hours"),
    ],
)
def test_duration_rewrite_leaves_strings_and_text_alone(template: str, expected: str) -> None:
    assert render(template) == expected


def test_context_cannot_shadow_now_or_duration() -> None:
    context = {**CTX, "now": "not a function", "duration": 5}
    assert render("{{ now() + 1 day }}", context) == "2024-05-02T12:00:00+00:00"


def test_rendering_is_deterministic_for_a_given_now() -> None:
    later = datetime(2030, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=3, minutes=30)))
    template = "{{ now() + 1 hour }}"
    assert render_string(template, CTX, now=later) == "2030-01-01T10:30:00+03:30"
    assert render_string(template, CTX, now=later) == render_string(template, CTX, now=later)


@pytest.mark.parametrize("bad_now", [datetime(2024, 1, 1), "2024-01-01", None])
def test_now_must_be_timezone_aware(bad_now: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_string("{{ now() }}", CTX, now=bad_now)
    with pytest.raises(ValueError, match="timezone-aware"):
        render_value({"a": "plain"}, CTX, now=bad_now)


def test_duration_helper() -> None:
    assert duration(3, "hours") == timedelta(hours=3)
    assert duration(1.5, "day") == timedelta(hours=36)
    with pytest.raises(ValueError, match="unknown duration unit"):
        duration(1, "fortnight")
    with pytest.raises(TypeError):
        duration(True, "day")
    with pytest.raises(TemplateError):
        render("{{ duration('x', 'days') }}")
    with pytest.raises(TemplateError):
        render("{{ now() + 99999999999 days }}")  # overflow


# -- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ user.tags | json }}", '["premium","vip"]'),
        ("{{ user.profile | json }}", '{"age":30,"city":null}'),
        ("{{ user.missing | json }}", "null"),
        ("{{ now() | json }}", '"2024-05-01T12:00:00+00:00"'),
        ("{{ {'d': 1 day} | json }}", '{"d":86400.0}'),
        ("{{ {'msg': 'سلام'} | json }}", '{"msg":"سلام"}'),  # not \\u-escaped
        ("body={{ user.tags | json }}", 'body=["premium","vip"]'),
        ("{{ now() | iso }}", "2024-05-01T12:00:00+00:00"),
        ("{{ '2024-05-01T12:00:00Z' | iso }}", "2024-05-01T12:00:00+00:00"),
        ("{{ user.missing | iso }}", None),
        ("{{ user.first_name | upper }}", "SARA"),
        ("{{ 'ÉLODIE' | lower }}", "élodie"),
        ("{{ 'élodie' | upper }}", "ÉLODIE"),
        ("{{ user.missing | default('x') }}", "x"),
        ("{{ 'a' | center(5) }}", "  a  "),
        ("{{ 'a\nb' | indent(2, true) }}", "  a\n  b"),
    ],
)
def test_filters(template: str, expected: Any) -> None:
    assert render(template) == expected


def test_iso_filter_on_a_date() -> None:
    assert render("{{ d | iso }}", {"d": date(2024, 5, 1)}) == "2024-05-01"


@pytest.mark.parametrize(
    "template", ["{{ 5 | iso }}", "{{ 'yesterday' | iso }}", "{{ cycler() | json }}"]
)
def test_filter_errors_are_template_errors(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template)


# -- datetimes in context -----------------------------------------------------------------------


def test_datetime_values_render_as_iso() -> None:
    context = {"at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "day": date(2024, 1, 2)}
    assert render("{{ at }}", context) == "2024-01-02T03:04:05+00:00"
    assert (
        render("at {{ at }} on {{ day }}", context) == "at 2024-01-02T03:04:05+00:00 on 2024-01-02"
    )
    assert render("{{ [at] }}", context) == ["2024-01-02T03:04:05+00:00"]


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{ 1 + }}", "syntax error"),
        ("{{ user.first_name ", "syntax error"),
        ("{% if %}x{% endif %}", "syntax error"),
        ("{% for x in user.tags %}", "syntax error"),
        ("Hi {{ user.missing + 1 }}", "undefined"),
        ("{{ user.missing() }}", "undefined"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ 'a' + 1 }}", "TypeError"),
        ("{{ user.tags[5] }}", None),  # out-of-range index is undefined, i.e. None
        ("{{ 'x' | int(base=99) }}", None),
    ],
)
def test_template_errors(template: str, fragment: str | None) -> None:
    if fragment is None:
        render(template)  # no error
        return
    with pytest.raises(TemplateError) as raised:
        render(template)
    assert fragment in str(raised.value)
    assert raised.value.path == ""


def test_template_error_shape() -> None:
    error = TemplateError("boom", "payload.user_id")
    assert isinstance(error, ValueError)
    assert str(error) == "boom"
    assert error.message == "boom"
    assert error.path == "payload.user_id"


# -- render_value -------------------------------------------------------------------------------


def test_render_value_walks_nested_configs() -> None:
    config = {
        "action_type": "send_message",
        "channel": "whatsapp",
        "payload": {
            "to": "{{ user.email }}",
            "user_id": "{{ conversation.id }}",
            "text": "Hi {{ user.first_name }}, you have {{ event.data.amount }} points",
            "tags": "{{ user.tags }}",
            "attempts": 3,
            "enabled": True,
            "ratio": 0.5,
            "nothing": None,
            "items": [{"name": "{{ user.tags[0] }}"}, "{{ event.data.amount }}", 7],
            "pair": ("{{ user.first_name }}", 1),
        },
        "send_at": "{{ now() + 2 hours }}",
    }
    original = copy.deepcopy(config)
    assert render_value(config, CTX, now=NOW) == {
        "action_type": "send_message",
        "channel": "whatsapp",
        "payload": {
            "to": "sara@example.com",
            "user_id": "c1",
            "text": "Hi Sara, you have 42 points",
            "tags": ["premium", "vip"],
            "attempts": 3,
            "enabled": True,
            "ratio": 0.5,
            "nothing": None,
            "items": [{"name": "premium"}, 42, 7],
            "pair": ["Sara", 1],  # tuples become lists
        },
        "send_at": "2024-05-01T14:00:00+00:00",
    }
    assert config == original  # input untouched


@pytest.mark.parametrize("value", [5, 1.5, None, True, b"bytes"])
def test_render_value_returns_non_strings_as_is(value: Any) -> None:
    assert render_value(value, CTX, now=NOW) is value


def test_render_value_renders_keys_with_markup_as_text() -> None:
    rendered = render_value(
        {
            "{{ user.first_name }}": 1,
            "{{ event.data.amount }}": "{{ event.data.amount }}",
            "plain": 2,
            7: "x",
        },
        CTX,
        now=NOW,
    )
    assert rendered == {"Sara": 1, "42": 42, "plain": 2, 7: "x"}


def test_render_value_rejects_keys_that_collide_after_rendering() -> None:
    with pytest.raises(TemplateError, match="appears twice") as raised:
        render_value({"payload": {"Sara": 1, "{{ user.first_name }}": 2}}, CTX, now=NOW)
    assert raised.value.path == "payload.{{ user.first_name }}"


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"payload": {"user_id": "{{ 1 / 0 }}"}}, "payload.user_id"),
        ({"items": ["ok", {"name": "{{ user.missing + 1 }}"}]}, "items[1].name"),
        ({"a": [["{{ 1 + }}"]]}, "a[0][0]"),
        ("{{ 1 + }}", ""),
        (["{{ 1 + }}"], "[0]"),
        ({"{{ 1 + }}": "v"}, "{{ 1 + }}"),
        ({"x": "{{ ''.__class__ }}"}, "x"),
    ],
)
def test_render_value_errors_carry_the_path(config: Any, path: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render_value(config, CTX, now=NOW)
    assert raised.value.path == path


def test_render_value_path_prefix() -> None:
    with pytest.raises(TemplateError) as raised:
        render_value({"user_id": "{{ 1 / 0 }}"}, CTX, now=NOW, path="payload")
    assert raised.value.path == "payload.user_id"


# -- sandbox ------------------------------------------------------------------------------------

ESCAPES = [
    "''.__class__.__mro__",
    "''.__class__",
    "cycler.__init__.__globals__",
    "cycler.__init__.__globals__.os",
    "joiner.__init__.__globals__",
    "namespace.__init__",
    "user.__class__",
    "user['__class__']",
    "user.tags.__class__.__base__.__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "now.__globals__",
    "now().__class__",
    "self.__init__",
    "'{0.__class__}'.format(user)",
    "user.tags.append(1)",
    "user.tags.pop()",
    "user.update({'email': 'x'})",
    "user.profile.clear()",
]


@pytest.mark.parametrize("expression", ESCAPES)
@pytest.mark.parametrize(
    "shape", ["{{{{ {} }}}}", "text {{{{ {} }}}} text", "{{% set x = {} %}}{{{{ x }}}}"]
)
def test_sandbox_escapes_raise(expression: str, shape: str) -> None:
    context = copy.deepcopy(CTX)
    with pytest.raises(TemplateError, match="unsafe") as raised:
        render_string(shape.format(expression), context, now=NOW)
    assert isinstance(raised.value.__cause__, Exception)
    assert context == CTX  # nothing was mutated


def test_lipsum_is_not_available() -> None:
    assert render("{{ lipsum }}") is None


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 2000000 }}",
        "{{ 2000000 * 'x' }}",
        "{{ [1] * 2000000 }}",
        "{{ user.tags * 1000000 }}",
        "{{ 2 ** 100000 }}",
        "{{ 'x'.ljust(2000000) }}",
        "{{ 'x'.center(2000000) }}",
        "{{ 'x'.zfill(2000000) }}",
        "{{ ('\t' * 100).expandtabs(100000) }}",
        "{{ 'x' | center(2000000) }}",
        "{{ 'x' | indent(2000000, true) }}",
    ],
)
def test_amplifiers_are_refused(template: str) -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render(template)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ 2 ** 10 }}", 1024),
        ("{{ 2.0 ** 0.5 > 1 }}", True),
        ("{{ 'x'.ljust(3) }}", "x  "),
        ("{{ 3 * 4 }}", 12),
    ],
)
def test_ordinary_arithmetic_still_works(template: str, expected: Any) -> None:
    assert render(template) == expected


# -- bounds -------------------------------------------------------------------------------------


def test_template_length_bound() -> None:
    at_limit = "{{ 1 }}" + "x" * (MAX_TEMPLATE_LENGTH - 7)
    assert len(at_limit) == MAX_TEMPLATE_LENGTH
    assert render(at_limit) == "1" + "x" * (MAX_TEMPLATE_LENGTH - 7)
    with pytest.raises(TemplateError, match="longer than"):
        render(at_limit + "x")


def test_output_length_bound() -> None:
    context = {"big": "x" * 1000}
    exact = "{% for i in range(1000) %}{{ big }}{% endfor %}"
    assert len(render(exact, context)) == MAX_OUTPUT_LENGTH
    with pytest.raises(TemplateError, match="longer than"):
        render("{% for i in range(1001) %}{{ big }}{% endfor %}", context)


def test_output_bound_stops_runaway_loops_early() -> None:
    context = {"big": "x" * 1000}
    with pytest.raises(TemplateError, match="longer than"):
        render(
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ big }}{% endfor %}{% endfor %}",
            context,
        )


def test_native_string_output_bound() -> None:
    with pytest.raises(TemplateError, match="longer than"):
        render("{{ big }}", {"big": "x" * (MAX_OUTPUT_LENGTH + 1)})
    assert len(render("{{ big }}", {"big": "x" * MAX_OUTPUT_LENGTH})) == MAX_OUTPUT_LENGTH


def test_compiled_templates_are_cached_and_bounded() -> None:
    info = templates._compile.cache_info()
    assert info.maxsize == 1024
    render("{{ user.first_name }} cached")
    before = templates._compile.cache_info().hits
    render("{{ user.first_name }} cached")
    assert templates._compile.cache_info().hits == before + 1


# -- non-Latin text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        (
            "خوش آمدید {{user.first_name}}! چطور می‌تونم کمکتون کنم؟",
            {"user": {"first_name": "علی"}},
            "خوش آمدید علی! چطور می‌تونم کمکتون کنم؟",
        ),
        ("مرحبا {{user.first_name}}", {"user": {"first_name": "فاطمة"}}, "مرحبا فاطمة"),
        (
            "Bonjour {{ user.first_name }}, ça va ? À bientôt, Élodie",
            {"user": {"first_name": "Gaëlle"}},
            "Bonjour Gaëlle, ça va ? À bientôt, Élodie",
        ),
        ("🎉 {{ user.first_name }} 👋🏽", {"user": {"first_name": "Zoë 🌸"}}, "🎉 Zoë 🌸 👋🏽"),
        ("{{ user.first_name }}", {"user": {"first_name": "你好"}}, "你好"),
        (
            "\u200f{{ user.first_name }}\u200e",
            {"user": {"first_name": "ریحانه"}},
            "\u200fریحانه\u200e",
        ),
        ("{{ 'سلام ' ~ user.first_name }}", {"user": {"first_name": "👩‍💻"}}, "سلام 👩‍💻"),
        ("{{ user.first_name | upper }}", {"user": {"first_name": "émile"}}, "ÉMILE"),
    ],
)
def test_non_latin_text_passes_through_intact(
    template: str, context: dict[str, Any], expected: str
) -> None:
    assert render(template, context) == expected


def test_seed_persian_greeting_keeps_zero_width_non_joiner() -> None:
    result = render(
        "خوش آمدید {{user.first_name}}! چطور می‌تونم کمکتون کنم؟", {"user": {"first_name": "Sara"}}
    )
    assert "\u200c" in result
    assert result.startswith("خوش آمدید Sara!")


def test_non_latin_keys_and_nested_values() -> None:
    config = {
        "پیام": "سلام {{ user.first_name }}",
        "{{ user.first_name }}": ["é", "{{ user.tags[0] }}"],
    }
    assert render_value(config, {"user": {"first_name": "مریم", "tags": ["ویژه"]}}, now=NOW) == {
        "پیام": "سلام مریم",
        "مریم": ["é", "ویژه"],
    }


# -- properties ---------------------------------------------------------------------------------

plain_text = st.text().filter(lambda s: "{{" not in s and "{%" not in s)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | plain_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plain_text, inner, max_size=4),
    max_leaves=15,
)


@given(text=plain_text)
def test_property_text_without_markup_is_identity(text: str) -> None:
    assert render_string(text, CTX, now=NOW) == text


@given(value=plain_values)
def test_property_render_value_without_markup_is_identity(value: Any) -> None:
    assert render_value(value, CTX, now=NOW) == value


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=200)
@given(value=json_like)
def test_property_lone_expression_returns_the_native_value(value: Any) -> None:
    assert render_string("{{ x }}", {"x": value}, now=NOW) == value


@settings(max_examples=200)
@given(prefix=plain_text.filter(lambda s: "{#" not in s and not s.endswith("{")), value=st.text())
def test_property_interpolation_inserts_text_verbatim(prefix: str, value: str) -> None:
    # Jinja normalises line endings in template text, so compare against the same.
    expected_prefix = prefix.replace("\r\n", "\n").replace("\r", "\n")
    assert (
        render_string(prefix + "{{ x }}!", {"x": value}, now=NOW) == expected_prefix + value + "!"
    )
