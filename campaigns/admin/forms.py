"""The campaign admin form: one input per template variable, schedule widgets that match the
kind, and the service rules reported on the fields they concern.

Forms only check input; ``campaigns.services`` writes. What the form adds to the model form:

* ``parameters`` is one text input per variable of the template version the campaign will
  pin (the posted template's current version, or the pinned one while the template is
  unchanged). A missing value is an error on ``parameters`` naming the variable; values
  for variables the version does not declare are dropped (rendering refuses them).
* ``language`` chooses among the version's languages.
* The schedule fields and their check come from ``campaigns.admin.schedule_form``: when a
  schedule field changes, the schedule is checked as submitting would check it
  (``campaigns.schedules.validation.validate``), so a schedule that cannot be sent is
  reported on save.

``campaign_form.js`` (static) redraws the variable inputs and languages when the template
changes, shows only the schedule fields of the chosen kind (the table of
``campaigns.schedules.kinds``, handed over in the form's configuration), and asks the
admin's JSON endpoints for the next five occurrences and the audience's size. Without
JavaScript the form still works: the inputs follow the template after a save.

The raw formats of the model form are still read (``parameters`` as a JSON object,
``test_uids`` and ``circle_value`` as JSON lists), so scripts posting them keep working.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model, Q
from django.urls import reverse
from django.utils.html import format_html, json_script
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.admin.parameters import ParametersField
from campaigns.admin.schedule_form import (
    LIST_SEPARATORS,
    CircleValueField,
    LocalDateTimeField,
    schedule_errors,
    time_zone_choices,
)
from campaigns.audiences.services import audience_size
from campaigns.clean import MAX_TEST_UIDS, campaign_clean
from campaigns.models import Audience, Campaign, CampaignStatus
from campaigns.schedules.kinds import SCHEDULE_FIELDS, SCHEDULE_LABELS, form_table, kind_rules
from campaigns.schedules.spec import wall_time_to_utc, zone_or_none
from campaigns.services import EDITABLE_FIELDS
from providers import safe_json
from providers.models import ProviderAccount
from providers.registry import PROVIDERS
from providers.registry import label as provider_label
from templates_registry.models import MessageTemplate, TemplateStatus, TemplateVersion
from templates_registry.selectors import current_version, template_list


def _version_info(version: TemplateVersion) -> dict[str, Any]:
    variants = list(version.variants or [])
    default = next((v for v in variants if v["language"] == version.default_language), None)
    default = default or (variants[0] if variants else {"title": "", "body": ""})
    return {
        "version": version.number,
        "variables": list(version.variables or []),
        "languages": [v["language"] for v in variants],
        "default_language": version.default_language,
        "title": default.get("title", ""),
        "body": default.get("body", ""),
        "providers": sorted(version.provider_refs or {}),
    }


def template_catalog(templates) -> dict[str, dict[str, Any]]:
    """Return, per template id, its key and current version's variables, languages and text."""
    return {str(t.pk): {"key": t.key, **_version_info(current_version(t))} for t in templates}


def audience_size_text(*, audience: Audience | None, account: ProviderAccount | None) -> str:
    """Return the audience's size in words for the provider of ``account``."""
    if audience is None:
        return ""
    kind = account.kind if account is not None else None
    size = audience_size(audience, provider_kind=kind)
    if size is None:
        return _("%(kind)s: the size is known only to the provider") % {"kind": audience.get_kind_display()}
    if kind in PROVIDERS:
        return ngettext(
            "%(count)s recipient reachable through %(provider)s",
            "%(count)s recipients reachable through %(provider)s",
            size,
        ) % {"count": f"{size:,}", "provider": provider_label(kind)}
    return ngettext("%(count)s recipient", "%(count)s recipients", size) % {"count": f"{size:,}"}


# --- fields and widgets ------------------------------------------------------------------------


class ListField(forms.CharField):
    """A list of ids typed as "a, b c" (a JSON list is read too); shown comma separated."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        # Django's NUL check sees the list's repr, not the ids (providers/safe_json.py).
        return safe_json.checked(self.label or _("value"), self._ids(value))

    def _ids(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
        text = (value or "").strip()
        if text.startswith("["):
            try:
                parsed = safe_json.loads(text)
            except safe_json.HostileInput as exc:
                raise ValidationError(safe_json.refusal(self.label or _("value"), exc)) from exc
            except ValueError as exc:
                raise ValidationError(
                    _("%(label)s: %(value)s is not a list of ids; separate them with commas.")
                    % {"label": self.label or _("value"), "value": text[:80]}
                ) from exc
            return self._ids(parsed if isinstance(parsed, list) else [parsed])
        return [part for part in LIST_SEPARATORS.split(text) if part]

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(initial or []) != self.to_python(data)
        except ValidationError:
            return True


# Saving a change in these states withdraws the approval (or the submission): confirmed first.
WITHDRAWING_STATES = (CampaignStatus.APPROVED, CampaignStatus.IN_REVIEW)


def withdraw_warning(status: str) -> str:
    """Return what saving a change of a campaign in ``status`` does, before it is done."""
    if status == CampaignStatus.IN_REVIEW:
        return _("Saving withdraws the campaign from review; it must be submitted and reviewed again.")
    return _("Saving withdraws the approval; the campaign must be reviewed again.")


def withdrawn_message(campaign: Campaign, status: str) -> str:
    """Return what saving a change of a campaign that was in ``status`` did."""
    if status == CampaignStatus.IN_REVIEW:
        text = _("“%(name)s” was returned to draft: it was withdrawn from review; "
                 "submit it for review again.")
    else:
        text = _("“%(name)s” was returned to draft: its approval was withdrawn; submit it for review again.")
    return text % {"name": campaign.name}


# --- the form ------------------------------------------------------------------------------------


class CampaignAdminForm(forms.ModelForm):
    """Write a campaign: template and its variables, account, audience, language, schedule, test uids."""

    parameters = ParametersField(
        required=False, label=gettext_lazy("Parameters"),
        help_text=gettext_lazy("One value per variable of the template."),
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        help_text=gettext_lazy(
            "The campaign's language; recipients get their own language where the template has it."
        ),
    )
    test_uids = ListField(
        label=gettext_lazy("Test uids"),
        required=False,
        widget=forms.TextInput(attrs={"class": "vTextField", "placeholder": "u001, u002"}),
    )
    fixed_time = LocalDateTimeField(
        required=False, label=SCHEDULE_LABELS["fixed_time"],
        help_text=gettext_lazy("Date and time in the campaign's time zone."),
    )
    circle_value = CircleValueField(required=False, label=SCHEDULE_LABELS["circle_value"])
    # Sent only by the "Save anyway" button of the warning below (not in the fieldsets).
    confirm_withdraw = forms.BooleanField(required=False, widget=forms.HiddenInput)
    timezone = forms.ChoiceField(
        label=SCHEDULE_LABELS["timezone"],
        choices=time_zone_choices,
        initial="UTC",
        widget=forms.Select(
            attrs={"data-filter-placeholder": gettext_lazy("Filter time zones, e.g. Berlin")}
        ),
        help_text=gettext_lazy(
            "Times above are in this zone; a daily 09:00 stays 09:00 across daylight saving. "
            "Type to filter; the common zones come first."
        ),
    )

    class Meta:
        model = Campaign
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "schedule_kind": forms.RadioSelect(attrs={"class": "radiolist inline"}),
            "time": forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 60}),
            "start_date": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
            "end_date": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
            "cron": forms.TextInput(attrs={"placeholder": "0 9 * * 1-5", "class": "vTextField"}),
        }
        # The schedule labels are declared once, with the messages that name them
        # (campaigns/schedules/kinds.py); an error by a field speaks of the field's label.
        labels = {
            name: SCHEDULE_LABELS[name]
            for name in ("circle_type", "time", "start_date", "end_date", "schedule_kind", "cron")
        }
        help_texts = {
            "cron": "Five fields: minute hour day-of-month month day-of-week, in the campaign's time zone.",
            "end_date": "At most 180 days from today.",
        }

    class Media:
        js = ["campaigns/campaign_form.js"]
        css = {"all": ["campaigns/campaign_form.css"]}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        # Stored values (foreign keys as ids) to tell what an edit really changes.
        stored = {name: getattr(instance, Campaign._meta.get_field(name).attname) for name in EDITABLE_FIELDS}
        self._stored = stored if instance.pk else {}
        self.version = self._version_in_use()
        if "fixed_time" in self.fields and instance.fixed_time and not self.is_bound:
            zone = zone_or_none(instance.timezone) or dt.UTC
            self.initial["fixed_time"] = instance.fixed_time.astimezone(zone).replace(tzinfo=None)
        if "template" in self.fields:
            self._set_up_template()
        if "parameters" in self.fields:
            widget = self.fields["parameters"].widget
            widget.variables = list(self.version.variables) if self.version else []
            if self.version is None:
                widget.empty_text = gettext_lazy("Choose a template: one input per variable appears here.")
        if "language" in self.fields:
            self._set_up_languages()
        if "audience" in self.fields:
            self._set_up_audience()
        if "timezone" in self.fields:
            self.fields["timezone"].choices = time_zone_choices(instance.timezone if instance.pk else None)
        self.schedule_warnings: list[str] = []
        if "test_uids" in self.fields:
            self.fields["test_uids"].help_text = _(
                "Up to %(max)s user ids that previews go to, separated by commas."
            ) % {"max": MAX_TEST_UIDS}
        if "provider_account" in self.fields:
            enabled = Q(enabled=True)
            if instance.provider_account_id:
                enabled |= Q(pk=instance.provider_account_id)
            self.fields["provider_account"].queryset = ProviderAccount.objects.filter(enabled)

    # --- what the posted template pins ---------------------------------------------------------

    def _posted(self, name: str) -> Any:
        """Return the value submitted for ``name`` (or given as initial, e.g. ``?template=3``)."""
        if name not in self.fields:
            return None
        if self.is_bound:
            return self.data.get(self.add_prefix(name))
        value = self.initial.get(name)
        return getattr(value, "pk", value)

    def _version_in_use(self) -> TemplateVersion | None:
        """Return the version the campaign will pin once saved (as the services pin it)."""
        instance = self.instance
        template_id = self._posted("template") or instance.template_id
        if not template_id:
            return None
        try:
            template = MessageTemplate.objects.get(pk=template_id)
        except (MessageTemplate.DoesNotExist, ValueError, TypeError):
            return None
        version_id = self._posted("template_version")
        if version_id:
            version = TemplateVersion.objects.filter(pk=version_id, template=template).first()
            if version is not None:
                return version
        if instance.pk and instance.template_id == template.pk and instance.template_version_id:
            return instance.template_version
        try:
            return current_version(template)
        except TemplateVersion.DoesNotExist:
            return None

    def _set_up_template(self) -> None:
        field = self.fields["template"]
        chosen = Q(status=TemplateStatus.ACTIVE)
        if self.instance.template_id:
            chosen |= Q(pk=self.instance.template_id)
        templates = template_list().filter(chosen).order_by("key")
        field.queryset = templates
        config = {
            "templates": template_catalog(templates),
            "scheduleUrl": reverse("admin:campaigns_campaign_schedule_preview"),
            "audienceSizeUrl": reverse("admin:campaigns_campaign_audience_size"),
            "schedule": form_table(),
        }
        # The admin shows help text unescaped; every value here is escaped by format_html.
        field.help_text = format_html(
            '<span id="template-info">{}</span>{}',
            self._template_info(),
            json_script(config, "campaign-form-config"),
        )

    def _template_info(self) -> str:
        if self.version is None:
            return ""
        info = _version_info(self.version)
        variables = ", ".join(f"${{{name}}}" for name in info["variables"]) or _("none")
        return format_html(
            _("Version {version} · languages {languages} · variables {variables}")
            + "<br><q>{title}</q> — {body}",
            version=info["version"],
            languages=", ".join(info["languages"]),
            variables=variables,
            title=info["title"],
            body=info["body"],
        )

    def _set_up_languages(self) -> None:
        languages = [v["language"] for v in self.version.variants] if self.version else []
        current = self._posted("language") or self.instance.language
        if current and current not in languages and self.instance.pk and current == self.instance.language:
            languages.append(current)  # kept as stored, even if the template dropped it
        self.fields["language"].choices = [(lang, lang) for lang in languages] or [("en", "en")]
        if not self.instance.pk and self.version is not None and not self.is_bound:
            self.initial.setdefault("language", self.version.default_language)

    def _set_up_audience(self) -> None:
        # After a failed save the size is of the audience and account posted, not the stored.
        audience = self._posted_or_stored(Audience, "audience")
        account = self._posted_or_stored(ProviderAccount, "provider_account")
        self.fields["audience"].help_text = format_html(
            '{} <span id="audience-size">{}</span>',
            _("Size:"),
            audience_size_text(audience=audience, account=account) or _("choose an audience"),
        )

    def _posted_or_stored(self, model: type[Model], name: str) -> Any:
        posted = self._posted(name) if self.is_bound else None
        if posted:
            return model.objects.filter(pk=posted).first() if str(posted).isdigit() else None
        return getattr(self.instance, name) if getattr(self.instance, f"{name}_id") else None

    # --- checks ------------------------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._clean_parameters(cleaned)
        self._clean_fixed_time(cleaned)
        rules = kind_rules(cleaned.get("schedule_kind"))
        if "circle_value" in cleaned and (rules is None or "circle_value" not in rules.fields):
            cleaned["circle_value"] = []
        if self._schedule_changed():
            self._check_schedule(cleaned)
        return cleaned

    def before_submit_messages(self) -> list[str]:
        """Return what the admin says after saving: what submitting will refuse as it stands."""
        return [
            _("Saved, but it cannot be submitted yet. %(problem)s") % {"problem": problem}
            for problem in self.schedule_warnings
        ]

    def _clean_parameters(self, cleaned: dict[str, Any]) -> None:
        if "parameters" not in self.fields or self.version is None or "parameters" not in cleaned:
            return
        # Values for variables the version lacks are dropped (rendering refuses them); a
        # missing value is refused by ``campaign_clean`` in _post_clean, as in the API.
        given = cleaned["parameters"]
        cleaned["parameters"] = {name: given.get(name, "") for name in self.version.variables}

    def _clean_fixed_time(self, cleaned: dict[str, Any]) -> None:
        wall = cleaned.get("fixed_time")
        if wall is None or wall.tzinfo is not None:
            return
        name = cleaned.get("timezone") or self.instance.timezone or "UTC"
        zone = zone_or_none(name)
        cleaned["fixed_time"] = wall_time_to_utc(wall, zone) if zone else None

    def _schedule_changed(self) -> bool:
        if not self.instance.pk:
            return True
        return any(name in self.changed_data for name in SCHEDULE_FIELDS)

    def _check_schedule(self, cleaned: dict[str, Any]) -> None:
        """Refuse what every save refuses (the API too); keep the rules of the moment as
        ``schedule_warnings``, shown after saving (submitting refuses them)."""
        values = {name: cleaned.get(name, getattr(self.instance, name)) for name in SCHEDULE_FIELDS}
        values["schedule_kind"] = cleaned.get("schedule_kind")  # no kind posted: nothing to check
        errors, self.schedule_warnings = schedule_errors(values)
        for target, messages in errors.items():
            if target in self.fields and target not in self.errors:
                for message in messages:
                    self.add_error(target, message)

    def _post_clean(self) -> None:
        super()._post_clean()
        instance = self.instance
        if instance.template_id and (
            not instance.template_version_id or instance.template_version.template_id != instance.template_id
        ):
            instance.template_version = self.version or current_version(instance.template)
        try:
            campaign_clean(instance)
        except ValidationError as exc:
            # Only what the model validation above did not already report.
            extra = {k: v for k, v in exc.error_dict.items() if k in self.fields and k not in self.errors}
            if extra:
                self._update_errors(ValidationError(extra))
        self._require_withdraw_confirmed()

    def _require_withdraw_confirmed(self) -> None:
        """Refuse to save a change of an approved or in-review campaign until the user
        confirms that it withdraws the approval (``withdraw_unconfirmed`` shows the warning)."""
        self.withdraw_unconfirmed = False
        if self.errors or self.instance.status not in WITHDRAWING_STATES:
            return
        if self.cleaned_data.get("confirm_withdraw") or not self.changed_data:
            return
        self.withdraw_unconfirmed = True
        self.add_error(None, withdraw_warning(self.instance.status))

    @property
    def changed_data(self) -> list[str]:
        """Return the fields whose cleaned value differs from the stored campaign.

        Compared with the stored values rather than the widgets' initial text, so a new
        time zone counts as a change of ``fixed_time`` (the same wall time is another instant).
        """
        cleaned = getattr(self, "cleaned_data", None)
        if cleaned is None or not self._stored:
            return super().changed_data
        changed = []
        for name in self.fields:
            if name not in cleaned or name not in self._stored:
                continue
            old, new = self._stored[name], cleaned[name]
            if isinstance(new, Model):
                new = new.pk
            same = old == new or (old in (None, "", [], {}) and new in (None, "", [], {}))
            if not same:
                changed.append(name)
        return changed
