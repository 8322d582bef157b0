"""The rules of single values in recipients and audiences: external ids, tags, and the
user addresses each provider accepts.

External ids and tags follow Crier's own rules. What a provider says about its addresses
(whether one is a credential, which pattern it must match) is asked of the provider class
(``providers.base.Provider``: ``address_is_credential``, ``address_pattern``,
``address_rule``), never listed here, so a new provider needs no edit in this package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from django.utils.translation import gettext as _

from providers.registry import PROVIDERS, provider_class

EXTERNAL_ID_MAX_LENGTH = 64
TAG_MAX_BYTES = 40
ADDRESS_MAX_LENGTH = 128

# The characters of a Jiguang UMS userid: letters, digits, "_" and @!#$&*+=.|¥
# (docs/providers.md). External ids also take "-", because ids such as UUIDs need it; such
# an id is not a valid address at a provider whose ``address_pattern`` refuses "-", so
# there it needs an explicit address (see ``address_error``).
_ID_CHARS = r"A-Za-z0-9_@!#$&*+=.|¥"
_EXTERNAL_ID = re.compile(rf"[{_ID_CHARS}\-]{{1,{EXTERNAL_ID_MAX_LENGTH}}}")
# Tags go to providers that send to tags as they are (Jiguang's aud_tag): the same
# characters plus CJK ideographs.
_TAG = re.compile(rf"[{_ID_CHARS}\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def id_rule() -> str:
    """The external id rule in words, in the active language."""
    return _("%(min)s–%(max)s characters among letters, digits, _ @ ! # $ & * + = . | ¥ -") % {
        "min": 1, "max": EXTERNAL_ID_MAX_LENGTH,
    }


def tag_rule() -> str:
    """The tag rule in words, in the active language."""
    return _("at most %(max)s bytes of UTF-8 among letters, digits, CJK, _ @ ! # $ & * + = . | ¥") % {
        "max": TAG_MAX_BYTES,
    }


def external_id_error(value: Any) -> str | None:
    """Return why ``value`` is not a valid external id, or None when it is."""
    if not isinstance(value, str):
        return _("external_id %(value)r must be a string of %(rule)s") % {"value": value, "rule": id_rule()}
    if not _EXTERNAL_ID.fullmatch(value):
        return _("external_id %(value)r must be %(rule)s") % {"value": value, "rule": id_rule()}
    return None


def tag_error(value: Any, *, field_name: str = "tags") -> str | None:
    """Return why ``value`` is not a valid tag, or None when it is."""
    if not isinstance(value, str):
        return _("%(field)s: tag %(value)r must be a string") % {"field": field_name, "value": value}
    size = len(value.encode("utf-8"))
    if size > TAG_MAX_BYTES:
        return _("%(field)s: tag %(value)r is %(size)s bytes of UTF-8; a tag is %(rule)s") % {
            "field": field_name, "value": value, "size": size, "rule": tag_rule(),
        }
    if not _TAG.fullmatch(value):
        return _("%(field)s: tag %(value)r must be %(rule)s") % {
            "field": field_name, "value": value, "rule": tag_rule(),
        }
    return None


def clean_tags(value: Any, *, field_name: str = "tags") -> tuple[list[str], list[str]]:
    """Return (tags stripped and de-duplicated in order, error messages) for a list of tags."""
    if not isinstance(value, list | tuple):
        return [], [_("%(field)s %(value)r must be a list of tags") % {"field": field_name, "value": value}]
    tags: list[str] = []
    errors: list[str] = []
    for raw in value:
        tag = raw.strip() if isinstance(raw, str) else raw
        message = tag_error(tag, field_name=field_name)
        if message:
            errors.append(message)
        elif tag not in tags:
            tags.append(tag)
    return tags, errors


# --- provider addresses --------------------------------------------------------------


def address_is_credential(kind: str | None) -> bool:
    """Return whether an address at provider ``kind`` is a credential (False for an unknown kind).

    Such an address is required (the external id is no fallback) and shown masked.
    """
    return kind in PROVIDERS and provider_class(kind).address_is_credential


def credential_address_kinds() -> list[str]:
    """Return the registered provider kinds whose addresses are credentials, sorted."""
    return sorted(kind for kind in PROVIDERS if address_is_credential(kind))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def address_has_rule(kind: str) -> bool:
    """Return whether provider ``kind`` checks its addresses against an ``address_pattern``."""
    return kind in PROVIDERS and bool(provider_class(kind).address_pattern)


def address_matches(kind: str, address: str) -> bool:
    """Return whether ``address`` is one provider ``kind`` accepts (True where it has no rule)."""
    pattern = provider_class(kind).address_pattern if kind in PROVIDERS else ""
    return not pattern or _compiled(pattern).fullmatch(address) is not None


# The one form of ``address_pattern`` translated to SQL: a bracket class of literal characters
# and ranges (no escape, no negation, no nested bracket: PostgreSQL would read "[:", "[." and
# "[=" there as classes) with a {m,n} count. Python's fullmatch is PostgreSQL's ^…$ (which
# match only at the string's ends by default, never before a final newline). The count is
# checked with char_length: PostgreSQL expands {1,64} into 64 copies of the class, 2.5 µs a
# row against 0.3-0.5 µs for ``*`` and a length (BENCHMARKS.md, "This round").
_SQL_PATTERN = re.compile(r"\[([^\\\[\]^][^\\\[\]]*)\]\{(\d{1,3}),(\d{1,3})\}")


def address_check_sql(kind: str, expression: str) -> tuple[str, list] | None:
    """Return SQL (and parameters) true when the text ``expression`` is an address provider
    ``kind`` accepts, as ``address_matches`` decides, for PostgreSQL; None where it has no
    ``address_pattern`` or one not of the one form proved to agree on a corpus
    (tests/campaigns/test_address_pattern_sql.py): the caller then checks in Python."""
    pattern = provider_class(kind).address_pattern if kind in PROVIDERS else ""
    match = _SQL_PATTERN.fullmatch(pattern) if pattern else None
    if match is None:
        return None
    chars, least, most = match.groups()
    sql = f"({expression} ~ %s AND char_length({expression}) BETWEEN %s AND %s)"
    return sql, [f"^[{chars}]*$", int(least), int(most)]


def address_error(kind: str, address: str) -> str | None:
    """Return why ``address`` is not an address provider ``kind`` accepts, or None when it is."""
    if address_matches(kind, address):
        return None
    return _("addresses.%(kind)s %(address)r must be %(rule)s") % {
        "kind": kind, "address": address, "rule": provider_class(kind).address_rule,
    }


def masked_addresses(addresses: Mapping[str, str] | None) -> dict[str, str]:
    """Return ``addresses`` with credential values cut to their last four characters
    (nothing at all of a value of eight characters or fewer), as the API and the admin show them."""
    return {
        kind: (f"…{value[-4:] if len(value) > 8 else ''}" if value and address_is_credential(kind) else value)
        for kind, value in (addresses or {}).items()
    }
