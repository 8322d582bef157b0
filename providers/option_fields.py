"""The options schema's building blocks: the base serializer a provider declares its
``provider_options`` with, strict field classes that word each refusal with the option
and its value, and what is read off a schema (the admin form section, the review table).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.text import get_text_list
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from providers.options import PREFIX, as_int, as_object, is_int, show

# --- the schema: each provider's options declared once ------------------------------------
#
# A provider declares its options as a DRF serializer (``Provider.option_schema``, a
# subclass of :class:`OptionsSchema` in its ``<kind>_options`` module). DRF serializers,
# not a second library: DRF is already how the API validates, drf-spectacular turns a
# serializer into an OpenAPI component as it stands (the campaign schema's
# ``provider_options`` is a oneOf of the four), and the field classes carry what the admin
# form needs (choices, bounds, help text). From that one declaration come
#
# * :func:`schema_errors`: the per-option checks (known names, types, choices, bounds),
#   keyed by field path like every other option error;
# * :func:`describe`: the admin form section (``campaigns/admin/provider_options.py``);
# * :func:`reference`: the one-line rules listed under the JSON editor.
#
# What one option cannot say alone (PushStatus 0 needs BindPeriod, preview needs
# experienceUids, a landing page given twice) stays in the provider's ``check_options``.


def _named(field: serializers.Field, value: Any) -> str:
    return f"{field.field_name} {show(value)}"


class OptionsSchema(serializers.Serializer):
    """Base of a provider's options schema: an object whose unknown keys are errors.

    ``provider_label`` names the provider in the unknown-key message; ``advanced`` lists
    options the admin form leaves to the JSON editor (set by Crier, or rarely used).
    """

    provider_label: ClassVar[str] = ""
    refuse_unknown_keys: ClassVar[bool] = True
    advanced: ClassVar[frozenset[str]] = frozenset()
    # How an unknown key is refused; %(name)r, %(provider)s and %(known)s are filled in.
    unknown_words: ClassVar[Any] = _("%(name)r is not a %(provider)s option; known: %(known)s")

    @classmethod
    def normalise(cls, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return ``options`` by the names the schema declares (mPaaS also reads docs-case names)."""
        return options

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            name = self.field_name or PREFIX
            raise serializers.ValidationError(
                {
                    api_settings.NON_FIELD_ERRORS_KEY: [
                        _("%(name)s %(value)s must be an object") % {"name": name, "value": show(data)}
                    ]
                }
            )
        errors: dict[str, Any] = {}
        if self.refuse_unknown_keys:
            known = ", ".join(self.fields)
            provider = str(getattr(self.root, "provider_label", "") or self.provider_label)
            for name in data:
                if name not in self.fields:
                    errors[str(name)] = [
                        self.unknown_words % {"name": name, "provider": provider, "known": known}
                    ]
        # null is "not given", as the JSON editor and the form's empty inputs mean it.
        given = {k: v for k, v in data.items() if k in self.fields and v is not None}
        try:
            value = super().to_internal_value(given)
        except serializers.ValidationError as exc:
            errors = {**exc.detail, **errors}
            value = None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` only (DRF's own also takes "yes", 1, "on")."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        raise serializers.ValidationError(
            _("%(option)s must be true or false") % {"option": _named(self, data)}
        )


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (never a bool or a string), within ``min_value``/``max_value``;
    ``seconds`` says in the range's words that it counts seconds."""

    def __init__(self, *, seconds: bool = False, **kwargs: Any) -> None:
        self.seconds = seconds
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if not is_int(data):
            raise serializers.ValidationError(
                _("%(option)s must be an integer") % {"option": _named(self, data)}
            )
        self.run_bounds(data)
        return data

    def run_bounds(self, data: int) -> None:
        low, high = self.min_value, self.max_value
        if (low is not None and data < low) or (high is not None and data > high):
            raise serializers.ValidationError(
                _("%(option)s must be %(low)s to %(high)s seconds")
                % {"option": _named(self, data), "low": low, "high": high}
                if low is not None and high is not None and self.seconds
                else _("%(option)s must be %(low)s to %(high)s")
                % {"option": _named(self, data), "low": low, "high": high}
                if low is not None and high is not None
                else _("%(option)s must be at least %(low)s") % {"option": _named(self, data), "low": low}
                if low is not None
                else _("%(option)s must be at most %(high)s") % {"option": _named(self, data), "high": high}
            )

    def run_validators(self, value: Any) -> None:  # bounds are checked above, with the value named
        return None


class LenientIntegerField(StrictIntegerField):
    """An integer, or a string of digits (as an HTML form or a copied URL parameter gives it)."""

    def to_internal_value(self, data: Any) -> int:
        number = as_int(data)
        if number is None:
            raise serializers.ValidationError(
                _("%(option)s must be an integer") % {"option": _named(self, data)}
            )
        self.run_bounds(number)
        return number


class OptionChoiceField(serializers.ChoiceField):
    """One of ``choices`` (value, words), named with its words in the error:
    ``PushStatus 3 must be 0 (bound users), 1 (all users) or 2 (unbound users)``."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or data == "" or str(data) not in self.choice_strings_to_values:
            worded = any(str(words) != str(key) for key, words in self.choices.items())
            if not worded:
                raise serializers.ValidationError(
                    _("%(option)s is not one of %(allowed)s")
                    % {"option": _named(self, data), "allowed": ", ".join(str(k) for k in self.choices)}
                )
            items = [f"{key} ({words})" for key, words in self.choices.items()]
            raise serializers.ValidationError(
                _("%(option)s must be %(allowed)s")
                % {"option": _named(self, data), "allowed": get_text_list(items, _("or"))}
            )
        return self.choice_strings_to_values[str(data)]


def _too_long(field: serializers.Field, count: int, limit: int) -> serializers.ValidationError:
    return serializers.ValidationError(
        _("%(name)s is %(count)d characters; %(provider)s allows %(max)d")
        % {"name": field.field_name, "count": count, "provider": _provider(field), "max": limit}
    )


def _provider(field: serializers.Field) -> str:
    return str(getattr(field.root, "provider_label", "") or _("the provider"))


class OptionTextField(serializers.CharField):
    """A string of at most ``max_length`` characters, the limit named as the provider's.

    ``rule`` says what the string is where "a string" says too little; ``accept_integers``
    reads an integer as its digits (mPaaS ids a form may post as numbers).
    """

    def __init__(self, *, rule: Any = None, accept_integers: bool = False, **kwargs: Any) -> None:
        self.rule = rule
        self.accept_integers = accept_integers
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if self.accept_integers and is_int(data):
            data = str(data)
        if not isinstance(data, str) or (not self.allow_blank and not data.strip()):
            if self.rule:
                raise serializers.ValidationError(
                    _("%(option)s must be %(rule)s") % {"option": _named(self, data), "rule": self.rule}
                )
            raise serializers.ValidationError(
                _("%(option)s must be a non-empty string") % {"option": _named(self, data)}
            )
        if self.max_length is not None and len(data) > self.max_length:
            raise _too_long(self, len(data), self.max_length)
        return data

    def run_validators(self, value: Any) -> None:  # the length is checked above, in words
        return None


@extend_schema_field({"readOnly": True, "description": "Set by Crier; refused when given."})
class SetByCrierField(serializers.Field):
    """An option of the provider's request that Crier sets itself: refused whatever its value."""

    def __init__(self, *, why: Any, **kwargs: Any) -> None:
        self.why = why
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        raise serializers.ValidationError(
            _("%(name)s is set by Crier (%(why)s)") % {"name": self.field_name, "why": self.why}
        )

    def to_representation(self, value: Any) -> Any:
        return value


class MultipleOptionChoiceField(serializers.ListField):
    """One of ``choices`` or a list of them (distinct); the form shows a checkbox each."""

    def __init__(self, *, choices: list[tuple[Any, Any]], **kwargs: Any) -> None:
        super().__init__(child=OptionChoiceField(choices=choices), **kwargs)

    def to_internal_value(self, data: Any) -> list:
        items = data if isinstance(data, list | tuple) else [data]
        allowed = self.child.choice_strings_to_values
        if not items:
            raise serializers.ValidationError(
                _("%(name)s must not be an empty list") % {"name": self.field_name}
            )
        for item in items:
            if isinstance(item, bool) or str(item) not in allowed:
                choices = get_text_list([f"{k} ({w})" for k, w in self.child.choices.items()], _("or"))
                raise serializers.ValidationError(
                    _("%(option)s is not valid; %(provider)s takes %(allowed)s, or a list of them")
                    % {"option": _named(self, item), "provider": _provider(self), "allowed": choices}
                )
        return list(dict.fromkeys(allowed[str(item)] for item in items))


class StringListField(serializers.ListField):
    """A list of non-empty strings, at most ``max_length`` of them."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField())
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list:
        if not isinstance(data, list | tuple) or not all(isinstance(x, str) and x.strip() for x in data):
            raise serializers.ValidationError(
                _("%(option)s must be a list of non-empty strings") % {"option": _named(self, data)}
            )
        if self.max_length is not None and len(data) > self.max_length:
            raise serializers.ValidationError(
                _("%(name)s has %(count)d items; %(provider)s takes at most %(max)d")
                % {
                    "name": self.field_name,
                    "count": len(data),
                    "provider": _provider(self),
                    "max": self.max_length,
                }
            )
        return list(data)


class ObjectField(serializers.DictField):
    """A JSON object (or the text of one: the admin's JSON inputs post text), with at most
    ``max_keys`` keys; ``string_values`` requires every value to be a string or an integer."""

    def __init__(self, *, max_keys: int | None = None, string_values: bool = False, **kwargs: Any) -> None:
        self.max_keys = max_keys
        self.string_values = string_values
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict:
        parsed = as_object(data)
        if parsed is None:
            raise serializers.ValidationError(
                _("%(option)s must be an object") % {"option": _named(self, data)}
            )
        if self.max_keys is not None and len(parsed) > self.max_keys:
            raise serializers.ValidationError(
                _("%(name)s has %(count)d keys; %(provider)s allows at most %(max)d")
                % {
                    "name": self.field_name,
                    "count": len(parsed),
                    "provider": _provider(self),
                    "max": self.max_keys,
                }
            )
        if self.string_values and not (
            parsed
            and all(isinstance(k, str) and k and (isinstance(v, str) or is_int(v)) for k, v in parsed.items())
        ):
            raise serializers.ValidationError(
                _('%(option)s must map vendors to values, e.g. {"oppo": "2"}')
                % {"option": _named(self, data)}
            )
        return parsed


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": True}]})
class TextOrObjectField(serializers.Field):
    """A string, or an object sent as its JSON text; at most ``max_length`` characters as sent."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, dict | list):
            data = json.dumps(data, ensure_ascii=False, sort_keys=True)
        if not isinstance(data, str):
            raise serializers.ValidationError(
                _("%(option)s must be a string or an object") % {"option": _named(self, data)}
            )
        if len(data) > self.max_length:
            raise _too_long(self, len(data), self.max_length)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


def _kind_of(field: serializers.Field) -> str:
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.ChoiceField):
        return "choice"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.ListField):
        child = field.child
        return "choices" if isinstance(child, serializers.ChoiceField) else "list"
    if isinstance(field, serializers.Serializer):
        return "group"
    if isinstance(field, ObjectField | TextOrObjectField | serializers.DictField | serializers.JSONField):
        return "json"
    return "text"


def describe(schema: type[OptionsSchema] | OptionsSchema) -> list[dict[str, Any]]:
    """Return the admin form section of ``schema``: one entry per option (name, label, kind
    — boolean, choice, choices, integer, list, text, json, group — help, choices, bounds),
    without its ``advanced`` options, which the JSON editor keeps."""
    instance = schema() if isinstance(schema, type) else schema
    rows = []
    for name, option in instance.fields.items():
        if name in type(instance).advanced:
            continue
        kind = _kind_of(option)
        row: dict[str, Any] = {
            "name": name,
            "label": str(option.label or name),
            "kind": kind,
            "help": str(option.help_text or ""),
        }
        choice = option.child if kind == "choices" else option
        if kind in ("choice", "choices"):
            row["choices"] = [[key, str(words)] for key, words in choice.choices.items()]
        if kind == "integer":
            row["min"], row["max"] = option.min_value, option.max_value
        if kind == "list" and option.max_length is not None:
            row["max"] = option.max_length
        if kind == "group":
            row["fields"] = describe(option)
        rows.append(row)
    return rows


def readable(schema: type[OptionsSchema] | None, options: Any) -> list[dict[str, str]]:
    """Return ``options`` as rows a reviewer reads: ``path`` (wire names, dotted), ``label``
    (the schema's), ``value`` in words (choices with their meaning, yes/no, lists joined);
    an option the schema does not know is shown by its name and JSON value."""
    if not isinstance(options, Mapping):
        return [] if options in (None, {}) else [{"path": PREFIX, "label": "", "value": show(options)}]
    fields = schema().fields if schema is not None else {}
    if schema is not None:
        options = schema.normalise(options)
    return _readable_rows(fields, options, "", "")


def _readable_rows(fields: Mapping[str, Any], options: Mapping[str, Any], path: str, prefix: str) -> list:
    rows: list[dict[str, str]] = []
    for name, value in options.items():
        option = fields.get(name)
        here = f"{path}{name}"
        label = f"{prefix}{option.label or name}" if option is not None else f"{prefix}{name}"
        if isinstance(option, serializers.Serializer) and isinstance(value, Mapping):
            rows += _readable_rows(option.fields, value, f"{here}.", f"{label} › ")
            continue
        rows.append({"path": here, "label": str(label), "value": _in_words(option, value)})
    return rows


def _in_words(option: Any, value: Any) -> str:
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    choice = option.child if isinstance(option, serializers.ListField) else option
    items = value if isinstance(value, list) else [value]
    if isinstance(choice, serializers.ChoiceField) and all(
        str(x) in choice.choice_strings_to_values for x in items
    ):
        words = []
        for item in items:
            meaning = str(choice.choices[choice.choice_strings_to_values[str(item)]])
            words.append(str(item) if meaning == str(item) else f"{item} ({meaning})")
        return ", ".join(words)
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return ", ".join(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
