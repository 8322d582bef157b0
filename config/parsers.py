"""The API's JSON parser: valid Unicode or 400 (docs/architecture.md, "The picture").

DRF's ``JSONParser`` accepts a lone surrogate (``"\\ud800"``), a NUL and any nesting: the
first is stored and then breaks every page that hashes or renders the row, the second is
refused by PostgreSQL later, the third raises ``RecursionError`` (a 500). This parser
refuses all three before any view runs, with a 400 naming the rule and the JSON path
(``providers.safe_json``), so nothing is stored.
"""

from __future__ import annotations

import codecs
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from providers import safe_json


class SafeJSONParser(JSONParser):
    """``JSONParser`` that refuses lone surrogates, NUL characters and deep nesting."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        options = {"parse_constant": _refuse_constant} if api_settings.STRICT_JSON else {}
        try:
            text = codecs.getreader(encoding)(stream).read()
            return safe_json.loads(text, **options)
        except safe_json.HostileInput as exc:
            raise ParseError(_("JSON refused - %(reason)s") % {"reason": exc}) from exc
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(reason)s") % {"reason": exc}) from exc


def _refuse_constant(name: str) -> None:
    """Refuse ``NaN`` and ``Infinity``, as DRF's strict JSON does."""
    raise ValueError(_("%(name)s is not valid JSON") % {"name": name})
