"""BCP-47 language tags: check them, write them in canonical case, list their fallbacks.

Tags are case-insensitive (``zh-cn`` and ``zh-CN`` are the same language), so the registry
stores them in the case RFC 5646 recommends — language lower case, script title case,
region upper case — and two variants can never differ only by case.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_TAG_LENGTH = 35

# RFC 5646 "langtag": language (with up to three extlang subtags), script, region,
# variants, extensions and a private-use suffix. Refused although RFC 5646 allows them:
# 4-8 letter language subtags (reserved or unused, and "english" is a typo, not a tag),
# grandfathered tags (i-klingon) and private-use-only tags (x-foo); no provider knows them.
_LANGTAG = re.compile(
    r"""
    [a-z]{2,3}(?:-[a-z]{3}){0,3}                # language, extlang
    (?:-[a-z]{4})?                              # script
    (?:-(?:[a-z]{2}|[0-9]{3}))?                 # region
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*    # variants
    (?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*        # extensions
    (?:-x(?:-[a-z0-9]{1,8})+)?                  # private use
    """,
    re.VERBOSE | re.IGNORECASE,
)


def normalize_language(tag: str) -> str:
    """Return ``tag`` in canonical case; raise ValidationError when it is not a BCP-47 tag."""
    value = (tag or "").strip().replace("_", "-")
    if len(value) > MAX_TAG_LENGTH or not _LANGTAG.fullmatch(value):
        raise ValidationError(
            _("%(tag)r is not a BCP-47 language tag such as en, en-US, zh-CN or zh-Hant-TW") % {"tag": tag},
            code="invalid_language",
        )
    subtags = value.split("-")
    canonical = [subtags[0].lower()]
    after_singleton = False
    for subtag in subtags[1:]:
        # Case conventions apply only before the first singleton (extension or "x").
        after_singleton = after_singleton or len(subtag) == 1
        if not after_singleton and len(subtag) == 4 and subtag.isalpha():
            canonical.append(subtag.title())
        elif not after_singleton and len(subtag) == 2 and subtag.isalpha():
            canonical.append(subtag.upper())
        else:
            canonical.append(subtag.lower())
    return "-".join(canonical)


def validate_language_tag(value: str) -> None:
    """Raise ValidationError unless ``value`` is a BCP-47 language tag (model field validator)."""
    normalize_language(value)


def language_fallbacks(tag: str) -> list[str]:
    """Return ``tag`` and the ever shorter tags to try after it (RFC 4647 lookup).

    ``zh-Hant-TW`` gives ``["zh-Hant-TW", "zh-Hant", "zh"]``; a singleton left at the end
    after a cut (``de-x`` from ``de-x-old``) is dropped with it.
    """
    subtags = normalize_language(tag).split("-")
    chain = []
    while subtags:
        chain.append("-".join(subtags))
        subtags.pop()
        if subtags and len(subtags[-1]) == 1:
            subtags.pop()
    return chain
