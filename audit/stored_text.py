"""Sentences stored in English and read in the reader's language (README, "Languages").

What a worker writes for people has no reader yet: a dispatch's detail, a request's
message, an audit reason, a notification's last error. It is stored once, in English, and
read later on pages and in notifications in whatever language the reader chose. The apps
declare each such sentence here with :func:`sentence` (a ``gettext_noop`` msgid, so the
catalogue has it); the writer stores :func:`english`; every page that shows stored text
passes it through :func:`in_reader_language`, which recognises a declared sentence by its
shape and renders it translated with the same values. A value that is itself a declared
sentence (``"%(ended)s; more are scheduled"``) is translated too. Anything else — a
provider's words, a reviewer's comment, text stored before its sentence was declared — is
shown as stored.

It lives in the bottom layer because the audit trail's own admin shows stored reasons, and
every app above writes them. Each app declares its sentences in a module its ``AppConfig``
imports in ``ready()`` (``campaigns.stored_text``, ``notifications.errors``), so every
process knows all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from django.utils import translation
from django.utils.translation import gettext

# msgid -> readers of some of its values: a reader returns the value in the reader's
# language, or None when the value is not one Crier writes (then the text is shown as stored).
ValueReader = Callable[[str], "str | None"]
_SENTENCES: dict[str, dict[str, ValueReader]] = {}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def sentence(msgid: str, **readers: ValueReader) -> str:
    """Declare ``msgid`` a stored sentence; return it (``X = sentence(gettext_noop("…"))``).
    A value without a reader is read by :func:`in_reader_language` itself."""
    if not re.search(r"\w", PLACEHOLDER.sub("", msgid)):
        raise ValueError(f"a stored sentence needs words of its own, not only values: {msgid!r}")
    _SENTENCES[msgid] = readers
    _in_matching_order.cache_clear()
    return msgid


@cache
def _in_matching_order() -> tuple[str, ...]:
    """The declared sentences, those with more words of their own first: "cancelled by
    %(user)s: %(reason)s" is tried before "cancelled by %(user)s", whose value would
    otherwise swallow the reason."""
    return tuple(sorted(_SENTENCES, key=lambda msgid: -len(PLACEHOLDER.sub("", msgid))))


def english(msgid: str, **values) -> str:
    """The text to store: ``msgid`` in English with ``values`` (never the writer's language;
    a lazily translated value is rendered in English too)."""
    if not values:
        return msgid
    with translation.override("en"):
        return msgid % {name: str(value) for name, value in values.items()}


@cache
def _shape(msgid: str) -> re.Pattern:
    """A pattern matching ``msgid`` with any value in place of each placeholder."""
    parts = PLACEHOLDER.split(msgid)  # literal, name, literal, name, …, literal
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(pattern, re.DOTALL)


def in_reader_language(text: str) -> str:
    """``text`` in the active language when it is a declared sentence, else as stored."""
    if not text:
        return text
    for msgid in _in_matching_order():
        readers = _SENTENCES[msgid]
        match = _shape(msgid).fullmatch(text)
        if match is None:
            continue
        values = {}
        for name, value in match.groupdict().items():
            read = readers[name](value) if name in readers else in_reader_language(value)
            if read is None:
                break
            values[name] = read
        else:
            return gettext(msgid) % values if values else gettext(msgid)
    return text


def declared() -> tuple[str, ...]:
    """Every declared sentence (the tests check each is translated and recognised)."""
    return tuple(_SENTENCES)
