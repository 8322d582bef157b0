"""The English-text scan of the zh-Hans tests: the English text of every msgid of the
catalogue, looked for in what a person reads (a page's visible text, an e-mail, a chat
message). A hit is a string shown untranslated: not marked in its source, or marked but
missing from the catalogue, or rendered outside the reader's language."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser

import polib

from tests.i18n.test_catalogue import PO

PLACEHOLDER = re.compile(r"%\(\w+\)[sdrf]|%[sd]|<[^>]+>")


@cache
def english_fragments() -> dict[str, re.Pattern]:
    """The English text of the catalogue's msgids, cut at placeholders, as whole-word patterns:
    phrases of two words or more, and single capitalised words (labels such as "Draft")."""
    fragments: set[str] = set()
    for entry in polib.pofile(str(PO)):
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            for part in PLACEHOLDER.split(msgid):
                part = part.strip(" .,:;()“”\"'-—→")
                words = re.findall(r"[A-Za-z]+", part)
                if len(words) >= 2 or (len(words) == 1 and len(part) >= 4 and part[0].isupper()
                                       and part.isalpha()):
                    fragments.add(part)
    return {f: re.compile(rf"(?<![A-Za-z]){re.escape(f)}(?![A-Za-z])") for f in sorted(fragments)}


def english_in(text: str) -> list[str]:
    """The catalogue's English fragments found in ``text``."""
    return [fragment for fragment, pattern in english_fragments().items() if pattern.search(text)]


class _Text(HTMLParser):
    """The text of an HTML document a person reads: not scripts, styles, code or form values,
    nor what the document hides (``hidden``, ``display: none``) or says is in another language."""

    SKIP = frozenset({"script", "style", "pre", "code", "textarea", "noscript", "template", "title"})
    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                      "track", "wbr"})

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language.lower()
        self.stack: list[bool] = []  # per open element: is its content skipped
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.VOID:
            return
        attrs = dict(attrs)
        lang = (attrs.get("lang") or "").lower()
        skipped = (
            tag in self.SKIP
            or "hidden" in attrs
            or "display: none" in (attrs.get("style") or "").replace(":none", ": none")
            or (tag != "html" and bool(lang) and lang != self.language)
        )
        self.stack.append(skipped or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data) -> None:
        if not (self.stack and self.stack[-1]) and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str, language: str) -> str:
    """The text of ``html`` a reader of ``language`` is shown (without a browser)."""
    parser = _Text(language)
    parser.feed(html)
    return "\n".join(parser.parts)
