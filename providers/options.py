"""A campaign's ``provider_options``: what the provider checkers share, and the one entry point.

``Campaign.provider_options`` reaches the provider modules as ``Message.options``: a JSON
object of the provider's own parameter names (docs/providers.md). :func:`check` reads it for
one provider and returns :class:`Checked`: the values each provider module puts on the wire
(types normalised, e.g. mPaaS maps sent as JSON strings) and the errors, keyed by field
path (``provider_options.PushStatus``, ``provider_options.app_para.time_to_live``), each
naming the value and the rule. The provider modules build their payloads from
``Checked.values`` and their ``validate`` from ``Checked.errors``, so what is checked is
what is sent. Unknown keys are errors: a typo must not be sent silently.

Each provider's rules live beside it (``providers.<kind>_options``) and its class names
them (``Provider.option_schema``, ``check_options``, ``option_example``); this module
holds what they share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from rest_framework.settings import api_settings

if TYPE_CHECKING:
    from providers.base import Provider
    from providers.option_fields import OptionsSchema

PREFIX = "provider_options"


@dataclass
class Checked:
    """The options of one message as a provider sends them, and what is wrong with them.

    ``values`` holds only valid, normalised options; ``errors`` maps a field path
    (``provider_options.…``) to messages naming the value and the rule.
    """

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, text: str) -> None:
        """Record ``text`` against ``provider_options.<name>``."""
        self.errors.setdefault(f"{PREFIX}.{name}" if name else PREFIX, []).append(text)

    @property
    def messages(self) -> list[str]:
        """Return every error message, in the order found."""
        return [text for texts in self.errors.values() for text in texts]


def show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(value: Any) -> int | None:
    """Return ``value`` as an int (ints and digit strings, as a form posts them); None otherwise."""
    if is_int(value):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def as_object(value: Any) -> dict | None:
    """Return ``value`` as a dict when it is one or a JSON string of one; None otherwise."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def landing_value(checked: Checked, options: Mapping[str, Any], name: str, path: str) -> str:
    """Return the landing path/URL (option ``name`` or the campaign's ``path``), checking both agree."""
    if name not in options or options[name] in (None, ""):
        return path
    value = options[name]
    if not isinstance(value, str):
        checked.error(name, _("%(name)s %(value)s must be a string") % {"name": name, "value": show(value)})
        return path
    if path and value != path:
        checked.error(
            name,
            _("%(name)s %(value)r differs from the campaign's path %(path)r; give the landing page once")
            % {"name": name, "value": value, "path": path},
        )
    return value


def _flatten(detail: Any, path: str, out: dict[str, list[str]]) -> None:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            key = str(key)
            _flatten(value, path if key == api_settings.NON_FIELD_ERRORS_KEY else f"{path}.{key}", out)
    elif isinstance(detail, list) and detail and all(isinstance(x, str) for x in detail):
        out.setdefault(path, []).extend(str(x) for x in detail)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            _flatten(value, f"{path}[{index}]", out)
    else:
        out.setdefault(path, []).append(str(detail))


def schema_errors(schema: type[OptionsSchema], options: Mapping[str, Any]) -> dict[str, list[str]]:
    """Return what ``schema`` refuses in ``options``, by field path (``provider_options.…``)."""
    serializer = schema(data=dict(options))
    if serializer.is_valid():
        return {}
    errors: dict[str, list[str]] = {}
    _flatten(serializer.errors, PREFIX, errors)
    return errors


def schema_values(schema: type[OptionsSchema] | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the options ``schema`` accepts, as it reads them ({} if it refuses any; no
    schema: the options as given)."""
    if schema is None:
        return dict(options)
    serializer = schema(data=dict(schema.normalise(options)))
    return dict(serializer.validated_data) if serializer.is_valid() else {}


def check(provider: str | type[Provider], message: Any, settings: Mapping[str, Any]) -> Checked:
    """Return the checked options of ``message`` (a ``providers.base.Message``) for
    ``provider`` (a class, or a registered kind): its ``check_options`` on an object."""
    if isinstance(provider, str):
        from providers.registry import provider_class

        provider = provider_class(provider)
    options = message.options
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        checked = Checked()
        checked.error("", _("provider_options %(value)s must be an object") % {"value": show(options)})
        return checked
    errors = {}
    schema = provider.option_schema
    if schema is not None:
        errors = schema_errors(schema, schema.normalise(options))
    checked = provider.check_options(options, message, settings or {})
    # The schema's words for an option come first; the provider's own rules add what one
    # option cannot say alone (on the options the schema found nothing wrong with).
    for path, texts in checked.errors.items():
        if path not in errors:
            errors[path] = list(texts)
    checked.errors = errors
    return checked
