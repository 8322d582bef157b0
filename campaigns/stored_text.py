"""Sentences stored in English and shown in the reader's language (README, "Languages").

The worker has no reader, so what it writes for people — ``Dispatch.detail`` (why an
occurrence was refused, expired or skipped recipients) and the audit reasons that repeat
it — is stored once, in English, and read later on pages and in notifications in whatever
language the reader chose. Each such sentence is a msgid listed here: the writer stores the
English text (:func:`english`), and :func:`in_reader_language` recognises the msgid's shape
in a stored text and renders it translated with the same values. Anything else (a
provider's own words, a reviewer's comment, text written before a sentence was listed
here) is shown as stored.
"""

from __future__ import annotations

import re
from functools import cache

from django.utils.translation import gettext, gettext_noop, pgettext_lazy

from campaigns.audiences.stream import SkipReason

REFUSED_CHANGED = gettext_noop("the campaign changed since it was approved (content hash differs); not sent")
EXPIRED = gettext_noop(
    "reached at %(at)s UTC, %(late)s s after its due time; expired_seconds is %(limit)s"
)
RESUMED = gettext_noop("resumed after its worker stopped")
CANCELLED = gettext_noop("campaign cancelled")
CONTENT_CHANGED = gettext_noop("content changed")
HELD = gettext_noop(
    "held: this occurrence reaches %(reach)s recipients, above the approved bound of "
    "%(limit)s (approved reach %(approved)s); nothing is sent until a reviewer confirms "
    "the new reach or cancels it"
)
HELD_EXPIRED = gettext_noop(
    "expired: held since its reach was above the approved bound, and not confirmed before "
    "its expiry at %(expiry)s UTC (due %(due)s UTC, expired_seconds %(seconds)s)"
)
SKIPPED = gettext_noop("skipped: %(counts)s")
SKIPPED_ITEM = "%(count)s %(reason)s"  # one reason of SKIPPED's list, e.g. "3 no address"
# How a reader's language writes one item and joins them (zh-Hans: "无地址 3 人", "、").
SKIPPED_ITEM_WORDS = pgettext_lazy("skipped recipients: a count and its reason", "%(count)s %(reason)s")
SKIPPED_SEPARATOR = pgettext_lazy("between the reasons of skipped recipients", ", ")

SENTENCES = (REFUSED_CHANGED, EXPIRED, RESUMED, CANCELLED, CONTENT_CHANGED, HELD, HELD_EXPIRED)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def english(msgid: str, **values) -> str:
    """The text to store: ``msgid`` in English with ``values`` (never the writer's language)."""
    return msgid % values if values else msgid


def skipped(counts: dict[str, int]) -> str:
    """The stored English of recipients skipped by reason ("" when none was)."""
    if not counts:
        return ""
    items = ", ".join(SKIPPED_ITEM % {"count": n, "reason": reason} for reason, n in sorted(counts.items()))
    return english(SKIPPED, counts=items)


@cache
def _shape(msgid: str) -> re.Pattern:
    """A pattern matching ``msgid`` with any value in place of each placeholder."""
    parts = PLACEHOLDER.split(msgid)  # literal, name, literal, name, …, literal
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(pattern, re.DOTALL)


def _skipped_items(counts: str) -> str | None:
    reasons = "|".join(re.escape(reason.value) for reason in SkipReason)
    items = counts.split(", ")
    out = []
    for item in items:
        match = re.fullmatch(rf"(\d+) ({reasons})", item)
        if match is None:
            return None
        out.append(str(SKIPPED_ITEM_WORDS) % {"count": match[1], "reason": gettext(match[2])})
    return str(SKIPPED_SEPARATOR).join(out)


def in_reader_language(text: str) -> str:
    """``text`` in the active language when it is a sentence listed here, else as stored."""
    if not text:
        return text
    for msgid in SENTENCES:
        match = _shape(msgid).fullmatch(text)
        if match is not None:
            return gettext(msgid) % match.groupdict() if match.groupdict() else gettext(msgid)
    match = _shape(SKIPPED).fullmatch(text)
    if match is not None and (items := _skipped_items(match["counts"])) is not None:
        return gettext(SKIPPED) % {"counts": items}
    return text

