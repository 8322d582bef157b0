"""The campaign form's ``parameters``: one text input per variable of the template version,
named ``<name>__<variable>`` (the raw JSON object of the model form is still read)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from providers import safe_json


class ParametersWidget(forms.Widget):
    """One text input per template variable, named ``<name>__<variable>``."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.variables: list[str] = []
        self.empty_text = gettext_lazy("This template has no variables.")

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer=None) -> str:
        values = value if isinstance(value, dict) else _json_object(value)
        names = list(self.variables) or sorted(values)
        rows = format_html_join(
            "",
            '<div class="parameter-input"><label for="id_{0}__{1}"><code>${{{1}}}</code></label>'
            '<input type="text" class="vTextField" name="{0}__{1}" id="id_{0}__{1}" value="{2}"></div>',
            ((name, variable, values.get(variable, "")) for variable in names),
        )
        empty = "" if names else format_html('<p class="help">{}</p>', self.empty_text)
        return format_html(
            '<div class="parameter-inputs" id="id_{0}" data-name="{0}">{1}{2}</div>'
            '<input type="hidden" name="{0}-present" value="1">',
            name,
            rows,
            empty,
        )

    def value_from_datadict(self, data, files, name: str) -> Any:
        if name in data:  # the raw JSON the model form took
            return data.get(name)
        prefix = f"{name}__"
        if f"{name}-present" not in data and not any(key.startswith(prefix) for key in data):
            return None
        return {key[len(prefix) :]: data.get(key, "") for key in data if key.startswith(prefix)}

    def value_omitted_from_data(self, data, files, name: str) -> bool:
        return self.value_from_datadict(data, files, name) is None


def _json_object(value: Any) -> dict:
    if not value:
        return {}
    try:
        parsed = safe_json.loads(value)
    except (TypeError, ValueError):  # HostileInput too: a page never renders what it refused
        return {}
    return parsed if isinstance(parsed, dict) else {}


class ParametersField(forms.Field):
    """The campaign's parameters as ``{variable: value}``; the form checks them against the version."""

    widget = ParametersWidget

    def to_python(self, value: Any) -> dict[str, str]:
        if value in (None, ""):
            return {}
        if isinstance(value, str):
            try:
                value = safe_json.loads(value)
            except safe_json.HostileInput as exc:
                raise ValidationError(safe_json.refusal(_("Parameters"), exc)) from exc
            except ValueError as exc:
                raise ValidationError(_not_an_object(value)) from exc
        if not isinstance(value, dict):
            raise ValidationError(_not_an_object(value))
        try:
            safe_json.check(value)  # also the values typed in the per-variable inputs
        except safe_json.HostileInput as exc:
            raise ValidationError(safe_json.refusal(_("Parameters"), exc)) from exc
        return {str(k): ("" if v is None else str(v)).strip() for k, v in value.items()}

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(initial or {}) != self.to_python(data)
        except ValidationError:
            return True


def _not_an_object(value: Any) -> str:
    return _("Parameters: %(value)s is not an object of variable: value, e.g. {\"name\": \"Ada\"}.") % {
        "value": repr(value)[:80]
    }
