"""The API's JSON parser: valid Unicode or 400 (docs/architecture.md, "The picture").

DRF's ``JSONParser`` accepts a lone surrogate (``"\\ud800"``), a NUL and any nesting: the
first is stored and then breaks every page that hashes or renders the row, the second is
refused by PostgreSQL later, the third raises ``RecursionError`` (a 500). This parser
refuses all three before any view runs, with a 400 naming the rule and the JSON path
(``providers.safe_json``), so nothing is stored.

The API also takes form-encoded and multipart bodies (DRF's defaults, kept for scripts
and the browsable forms). There a JSON field arrives as text that DRF's ``JSONField``
reads with plain ``json.loads``: a value nested 100,000 deep was a ``RecursionError`` (a
500), and ``"\\u0000"`` or ``"\\ud800"`` escaped inside it got through. The form parsers
below check every value: a NUL is refused outright, and a value that reads as JSON must
pass the same rules; a value that is not JSON is left to its field. Lone surrogates cannot
arrive otherwise: Django decodes form bytes with ``errors="replace"``.
"""

from __future__ import annotations

import codecs
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
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


def _check_form(data: Any) -> None:
    """Raise ParseError when a form value holds a NUL, or reads as JSON that
    ``providers.safe_json`` refuses; the message names the field and the rule."""
    for name, values in data.lists():
        for value in [name, *values]:
            if not isinstance(value, str):
                continue
            if "\x00" in value:
                raise ParseError(
                    _("form field %(field)s refused - the NUL character (\\u0000) is not allowed in text")
                    % {"field": safe_json.printable(name)}
                )
            if value.lstrip()[:1] in ("[", "{", '"'):
                try:
                    safe_json.loads(value)
                except safe_json.HostileInput as exc:
                    path = exc.path if exc.path[:1] in ("", "[") else f".{exc.path}"
                    where = f"{safe_json.printable(name)}{path}"
                    raise ParseError(
                        _("form field %(field)s refused - %(reason)s")
                        % {"field": where, "reason": exc.message}
                    ) from exc
                except ValueError:
                    pass  # not JSON: the field's own rules apply


class SafeFormParser(FormParser):
    """``FormParser`` whose values follow the JSON parser's rules (module docstring)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class SafeMultiPartParser(MultiPartParser):
    """``MultiPartParser`` whose values follow the JSON parser's rules (module docstring);
    uploaded files are left to the endpoint that reads them."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _check_form(parsed.data)
        return parsed
