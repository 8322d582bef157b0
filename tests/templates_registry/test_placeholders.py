"""Placeholder parsing: names, escapes, malformed placeholders and their positions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from templates_registry.placeholders import (
    Placeholder,
    PlaceholderError,
    Text,
    escape,
    parse,
    unparse,
    variables,
)

_FIRST = "abcxyzABCXYZ_"
names = st.builds(
    str.__add__, st.sampled_from(_FIRST), st.text(alphabet=_FIRST + "0123456789", max_size=12)
)
# Literal text rich in the characters the syntax cares about.
literals = st.text(alphabet=st.sampled_from("ab $${}}\n_1中文"), min_size=1, max_size=12)

# The suite runs on shared, busy machines: judge results, not the speed of each example.
no_deadline = settings(deadline=None)


@st.composite
def part_lists(draw) -> list[Text | Placeholder]:
    """Return alternating parts that the syntax can express (see the placeholders docstring)."""
    parts: list[Text | Placeholder] = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        if parts and isinstance(parts[-1], Placeholder) or draw(st.booleans()):
            text = draw(literals)
            if parts and isinstance(parts[-1], Text):
                text = parts.pop().value + text
            parts.append(Text(text))
        else:
            if parts and isinstance(parts[-1], Text) and parts[-1].value.endswith("$"):
                parts[-1] = Text(parts[-1].value + " ")
            parts.append(Placeholder(draw(names), 0))
    return parts


def without_positions(parts):
    return [Placeholder(p.name, 0) if isinstance(p, Placeholder) else p for p in parts]


def test_text_without_placeholders_is_one_literal():
    assert parse("Win $50 today {really}") == [Text("Win $50 today {really}")]


def test_empty_text_has_no_parts():
    assert parse("") == []


def test_placeholders_are_found_with_their_positions():
    assert parse("Hi ${first_name}, you won ${amount}!") == [
        Text("Hi "),
        Placeholder("first_name", 3),
        Text(", you won "),
        Placeholder("amount", 26),
        Text("!"),
    ]


def test_variables_are_the_set_of_names():
    assert variables("${a} ${_b2} ${a}") == {"a", "_b2"}


def test_double_dollar_brace_is_a_literal_placeholder():
    assert parse("write $${name} to insert a name") == [Text("write ${name} to insert a name")]
    assert variables("$${name}") == set()


def test_escape_next_to_a_real_placeholder():
    assert parse("$${x}=${x}") == [Text("${x}="), Placeholder("x", 6)]


def test_lone_double_dollar_stays_as_written():
    assert parse("US$$5 and $$") == [Text("US$$5 and $$")]


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("Hello ${}", 6, "empty placeholder"),
        ("Hello ${1a} there", 6, "malformed placeholder '${1a}'"),
        ("Hi ${first-name}", 3, "malformed placeholder '${first-name}'"),
        ("Hi ${ name }", 3, "malformed placeholder"),
        ("Hello ${name", 6, "unclosed placeholder '${name'"),
        ("Hi ${a ${b}", 3, "unclosed placeholder"),
        ("${ok} then ${oops\n}", 11, "unclosed placeholder '${oops'"),
    ],
)
def test_malformed_placeholders_are_errors_with_their_position(text, position, words):
    with pytest.raises(PlaceholderError) as caught:
        parse(text)
    assert caught.value.position == position
    assert words in str(caught.value)
    assert f"at position {position}" in str(caught.value)


def test_error_reports_line_and_column_in_multiline_text():
    with pytest.raises(PlaceholderError) as caught:
        parse("line one\nline ${2x}")
    assert (caught.value.line, caught.value.column) == (2, 6)
    assert "line 2, column 6" in str(caught.value)


def test_long_malformed_placeholder_is_quoted_shortened():
    with pytest.raises(PlaceholderError) as caught:
        parse("${" + "x" * 100 + "-}")
    assert "…" in str(caught.value)
    assert len(str(caught.value)) < 200


@no_deadline
@given(part_lists())
def test_parse_reads_back_what_unparse_writes(parts):
    assert without_positions(parse(unparse(parts))) == parts


@no_deadline
@given(st.text(max_size=40))
def test_escaped_text_parses_to_itself(text):
    assert parse(escape(text)) == ([Text(text)] if text else [])


@no_deadline
@given(st.text(alphabet=st.sampled_from("a$ {}1_\n"), max_size=30))
def test_any_text_either_parses_or_names_a_position_inside_it(text):
    try:
        parts = parse(text)
    except PlaceholderError as exc:
        assert 0 <= exc.position < len(text)
        assert text[exc.position : exc.position + 2] == "${"
    else:
        assert all(p.value for p in parts if isinstance(p, Text))
