"""The campaign form's provider options: a JSON field with a per-provider reference, checked
by the same rules as submit (``campaigns.provider_options``).

:func:`with_provider_options` wraps a Campaign model form (the admin's
``CampaignAdminForm``) so that:

* ``provider_options`` is a JSON text area; under it ``provider_options.js`` lists the
  options of the selected account's provider (its class's ``option_reference``) and
  offers its ``option_example`` to start from;
* the options are checked when the form is saved, and each error is shown on the field
  with its path (``PushStatus: PushStatus 0 needs …``), as submit and the API would report
  it; mPaaS native-scheduling errors appear on ``timezone``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.html import format_html, json_script

from campaigns.provider_options import PREFIX, campaign_option_errors
from campaigns.sending.native import native_errors
from providers import safe_json
from providers.models import ProviderAccount
from providers.registry import provider_classes
from providers.safe_json import SafeJSONField

HELP = (
    "A JSON object of the provider's own parameters (see the list below for the chosen "
    "account); checked when saved and again at submit."
)


class ProviderOptionsWidget(forms.Textarea):
    """A JSON text area followed by the per-provider reference ``provider_options.js`` shows."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs={"rows": 6, "class": "vLargeTextField provider-options", **(attrs or {})})

    def format_value(self, value: Any) -> str:
        if value in (None, "", {}):
            return "{}" if value == {} else ""
        if isinstance(value, str):
            try:
                # safe_json: a refused value (a lone surrogate would break the page's encoding)
                # is shown as typed, like any other text that is not JSON.
                value = safe_json.loads(value)
            except ValueError:
                return value  # what the user typed, shown back with its error
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer=None) -> str:
        config = {
            "kinds": dict(ProviderAccount.objects.values_list("pk", "kind")),
            "reference": {cls.kind: cls.option_reference for cls in provider_classes()},
            "examples": {cls.kind: cls.option_example for cls in provider_classes() if cls.option_example},
        }
        return format_html(
            '{}<div class="provider-options-reference help" id="provider-options-reference"></div>{}',
            super().render(name, value, attrs, renderer),
            json_script(config, "provider-options-config"),
        )


def with_provider_options(form_class: type[forms.ModelForm]) -> type[forms.ModelForm]:
    """Return ``form_class`` with the provider-options field and checks (see the module docstring)."""

    class ProviderOptionsForm(form_class):
        provider_options = SafeJSONField(
            required=False, widget=ProviderOptionsWidget(), help_text=HELP, label="Provider options"
        )

        class Media:
            js = ["campaigns/provider_options.js"]

        def clean_provider_options(self) -> Any:
            value = self.cleaned_data.get("provider_options")
            if value in (None, ""):
                return {}
            if not isinstance(value, dict):
                raise forms.ValidationError('provider options must be a JSON object, e.g. {"PushStatus": 1}')
            return value

        def _post_clean(self) -> None:
            super()._post_clean()
            instance = self.instance
            if not (instance.provider_account_id and instance.audience_id and instance.template_id):
                return
            if "provider_options" in self.fields and "provider_options" not in self.errors:
                for path, messages in campaign_option_errors(instance).items():
                    name = path.removeprefix(f"{PREFIX}.")
                    for message in messages:
                        self.add_error("provider_options", f"{name}: {message}")
            if "timezone" in self.fields and "timezone" not in self.errors:
                for message in native_errors(instance).get("timezone", []):
                    self.add_error("timezone", message)

    ProviderOptionsForm.__name__ = f"{form_class.__name__}WithProviderOptions"
    ProviderOptionsForm.__qualname__ = ProviderOptionsForm.__name__
    return ProviderOptionsForm
