"""The campaign form's provider options: a form section drawn from the chosen provider's
options schema, over the JSON the campaign stores, checked by the same rules as submit
(``campaigns.provider_options``).

:func:`with_provider_options` wraps a Campaign model form (the admin's
``CampaignAdminForm``) so that:

* ``provider_options`` is a section that changes with the chosen account
  (``provider_options.js``): each option of the account kind's ``option_schema``
  (``providers.options.describe``) as a select for choices, a checkbox for a boolean,
  ticks for several choices, a number input with its bounds, a list (one a line) or a
  small JSON box, with the schema's help under it; the raw JSON stays editable under
  "Advanced (JSON)" (it is the field posted, so options the form does not show are kept);
* a blank form shows empty inputs and an empty JSON box (never ``null``);
* the options are checked when the form is saved, and each error is shown by its input
  (and on the field with its path, ``PushStatus: PushStatus 0 needs …``, as submit and
  the API report it); mPaaS native-scheduling errors appear on ``timezone``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.html import format_html, json_script
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.provider_options import PREFIX, campaign_option_errors
from campaigns.sending.native import native_errors
from providers import safe_json
from providers.models import ProviderAccount
from providers.option_fields import describe
from providers.registry import provider_classes
from providers.safe_json import SafeJSONField

HELP = gettext_lazy(
    "The provider's own parameters for the chosen account. Empty inputs are left out; "
    "Advanced (JSON) shows and edits everything. Checked when saved and again at submit."
)


def _words() -> dict[str, str]:
    """The section's own words, translated here (the script has no catalogue of its own)."""
    return {
        "choose": _("Choose a provider account to see its options."),
        "none": _("This provider takes no options."),
        "unset": _("— not set —"),
        "badJson": _("The JSON under Advanced is not a valid object; fix it there to use the form."),
        "jsonHint": _("A JSON object."),
        "notJson": _("This is not valid JSON."),
        "example": _("Start from an example"),
        "replace": _("Replace the options written so far?"),
        "advanced": _("Advanced (JSON)"),
        "dropped": _("Options the chosen provider does not take were removed: %(names)s."),
    }


class ProviderOptionsWidget(forms.Textarea):
    """The JSON text area (under "Advanced (JSON)") and the per-provider form section
    ``provider_options.js`` draws above it; ``option_errors`` (path: messages) are the
    errors of the last save, shown by their inputs."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs={"rows": 6, "class": "vLargeTextField provider-options", **(attrs or {})})
        self.option_errors: dict[str, list[str]] = {}

    def format_value(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                # safe_json: a refused value (a lone surrogate would break the page's encoding)
                # is shown as typed, like any other text that is not JSON.
                value = safe_json.loads(value)
            except ValueError:
                return value  # what the user typed, shown back with its error
        if value in (None, "", {}):
            return ""  # a blank form is empty, never "null"
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer=None) -> str:
        classes = [cls for cls in provider_classes() if cls.option_schema is not None]
        config = {
            "kinds": {str(pk): kind for pk, kind in ProviderAccount.objects.values_list("pk", "kind")},
            "schemas": {cls.kind: describe(cls.option_schema) for cls in classes},
            "known": {cls.kind: list(cls.option_schema().fields) for cls in classes},
            "examples": {cls.kind: cls.option_example for cls in provider_classes() if cls.option_example},
            "errors": {
                path.removeprefix(f"{PREFIX}."): list(texts) for path, texts in self.option_errors.items()
            },
            "words": _words(),
        }
        return format_html(
            '<div class="provider-options-section" id="provider-options-section">'
            '<div class="provider-options-form" id="provider-options-form"></div>'
            '<details class="provider-options-advanced" id="provider-options-advanced" open>'
            "<summary>{}</summary>{}</details></div>{}",
            _("Advanced (JSON)"),
            super().render(name, value, attrs, renderer),
            json_script(config, "provider-options-config"),
        )


def with_provider_options(form_class: type[forms.ModelForm]) -> type[forms.ModelForm]:
    """Return ``form_class`` with the provider-options field and checks (see the module docstring)."""

    class ProviderOptionsForm(form_class):
        provider_options = SafeJSONField(
            required=False,
            widget=ProviderOptionsWidget(),
            help_text=HELP,
            label=gettext_lazy("Provider options"),
        )

        class Media:
            js = ["campaigns/provider_options.js"]
            css = {"all": ["campaigns/provider_options.css"]}

        def clean_provider_options(self) -> Any:
            value = self.cleaned_data.get("provider_options")
            if value in (None, ""):
                return {}
            if not isinstance(value, dict):
                raise forms.ValidationError(
                    _('provider options must be a JSON object, e.g. {"PushStatus": 1}')
                )
            return value

        def _post_clean(self) -> None:
            super()._post_clean()
            instance = self.instance
            if not (instance.provider_account_id and instance.audience_id and instance.template_id):
                return
            if "provider_options" in self.fields and "provider_options" not in self.errors:
                found = campaign_option_errors(instance)
                self.fields["provider_options"].widget.option_errors = found
                for path, messages in found.items():
                    name = path.removeprefix(f"{PREFIX}.")
                    for message in messages:
                        self.add_error("provider_options", f"{name}: {message}")
            if "timezone" in self.fields and "timezone" not in self.errors:
                for message in native_errors(instance).get("timezone", []):
                    self.add_error("timezone", message)

    ProviderOptionsForm.__name__ = f"{form_class.__name__}WithProviderOptions"
    ProviderOptionsForm.__qualname__ = ProviderOptionsForm.__name__
    return ProviderOptionsForm
