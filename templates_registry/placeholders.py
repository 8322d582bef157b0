"""The ``${name}`` placeholder syntax, in one place.

* ``${name}`` is a placeholder; a name is ``[A-Za-z_][A-Za-z0-9_]*``.
* ``$${`` is a literal ``${`` (so ``$${name}`` renders as the text ``${name}``).
* Any other ``$`` is plain text (``Win $50``).
* ``${}``, ``${1a}``, ``${first-name}`` and an unclosed ``${`` are errors that say where.

One corner follows from the escape: a literal ``$`` right before a placeholder cannot be
written, because ``$${x}`` is the escape. Put the ``$`` into the parameter value instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME = re.compile(NAME_PATTERN)
# The escape comes first so that "$${" is never read as "$" followed by "${".
_OPENING = re.compile(r"\$\$\{|\$\{")
_ESCAPE = "$${"
# How much of a malformed placeholder an error message quotes.
_QUOTE_LIMIT = 40


@dataclass(frozen=True)
class Text:
    """Literal text, escapes already resolved."""

    value: str


@dataclass(frozen=True)
class Placeholder:
    """A ``${name}`` at ``position`` (offset of its ``$`` in the source text)."""

    name: str
    position: int


Part = Text | Placeholder


class PlaceholderError(ValueError):
    """A malformed placeholder; ``position`` is the offset of its ``$`` (0-based)."""

    def __init__(self, problem: str, *, advice: str, text: str, position: int) -> None:
        self.problem = problem
        self.position = position
        self.line = text.count("\n", 0, position) + 1
        self.column = position - (text.rfind("\n", 0, position) + 1) + 1
        super().__init__(
            f"{problem} at position {position} (line {self.line}, column {self.column}): {advice}"
        )


def _quote(fragment: str) -> str:
    if len(fragment) > _QUOTE_LIMIT:
        fragment = fragment[: _QUOTE_LIMIT - 1] + "…"
    return repr(fragment)


def parse(text: str) -> list[Part]:
    """Return ``text`` as alternating Text and Placeholder parts; raise PlaceholderError.

    Adjacent literal text is merged, so a part list never holds two Texts in a row.
    """
    parts: list[Part] = []
    literal: list[str] = []
    pos = 0
    while (opening := _OPENING.search(text, pos)) is not None:
        literal.append(text[pos : opening.start()])
        if opening.group() == _ESCAPE:
            literal.append("${")
            pos = opening.end()
            continue
        start, name_start = opening.start(), opening.end()
        close = text.find("}", name_start)
        inside = text[name_start:close] if close != -1 else ""
        # A "${" or a line break before the "}" means this "${" was never closed.
        if close == -1 or "${" in inside or "\n" in inside:
            end = text.find("\n", start)
            fragment = text[start : end if end != -1 else len(text)]
            raise PlaceholderError(
                f"unclosed placeholder {_quote(fragment)}",
                advice="expected '}' after the name",
                text=text,
                position=start,
            )
        if not inside:
            raise PlaceholderError(
                "empty placeholder '${}'", advice="write a name between the braces", text=text, position=start
            )
        if not _NAME.fullmatch(inside):
            raise PlaceholderError(
                f"malformed placeholder {_quote(text[start : close + 1])}",
                advice="a name starts with a letter or '_' followed by letters, digits or '_'",
                text=text,
                position=start,
            )
        if literal_text := "".join(literal):
            parts.append(Text(literal_text))
        literal = []
        parts.append(Placeholder(inside, start))
        pos = close + 1
    literal.append(text[pos:])
    if literal_text := "".join(literal):
        parts.append(Text(literal_text))
    return parts


def variables(text: str) -> set[str]:
    """Return the placeholder names used in ``text``; raise PlaceholderError when malformed."""
    return {part.name for part in parse(text) if isinstance(part, Placeholder)}


def escape(text: str) -> str:
    """Return ``text`` written so that it parses back to itself as literal text."""
    return text.replace("${", _ESCAPE)


def unparse(parts: Iterable[Part]) -> str:
    """Return source text that parses to ``parts`` (literal text escaped).

    The one part list it cannot write is a Text ending in ``$`` right before a Placeholder
    (see the module docstring); that text parses as an escape instead.
    """
    return "".join(
        f"${{{part.name}}}" if isinstance(part, Placeholder) else escape(part.value) for part in parts
    )
