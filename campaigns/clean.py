"""What a campaign must satisfy on every write (``campaign_clean``): the model's own rules,
the content (parameters, template and provider), the schedule's rules at write and the
provider options, the same for the admin and the API (README, "One validation path").
Rules of the moment (dates relative to today, the pending limit) are checked on submit and
approve by ``campaigns.services.campaign_check_sendable``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.models import Campaign
from campaigns.provider_options import campaign_option_errors
from campaigns.schedules.spec import ScheduleSpec
from campaigns.schedules.validation import write_errors
from providers.base import Message
from templates_registry.rendering import check_parameter_lengths

MAX_TEST_UIDS = 5



def campaign_clean(campaign: Campaign, *, message: Message | None = None) -> None:
    """Raise ValidationError with field errors when ``campaign``'s values break a rule.

    ``message``: the campaign's message as ``campaigns.messages.build_message`` built it,
    when the caller has it (a submission renders it once); otherwise the provider options'
    checks build it.

    The model's own validation (choices, ranges, constraints) plus: the pinned version
    belongs to the template, ``parameters`` and ``provider_options`` are objects,
    ``test_uids`` is a list of at most five ids, ``circle_value`` a list of whole numbers,
    and the schedule's rules at write (``campaigns.schedules.validation.write_errors``:
    its kind's fields, syntax and ranges, an IANA zone). Schedule dates relative to today
    are checked on submit and approve (``campaigns.schedules.validation.validate``), when
    they matter.
    """
    errors: dict[str, list[str]] = {}
    try:
        campaign.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    version = campaign.template_version
    if version is not None and campaign.template_id and version.template_id != campaign.template_id:
        errors.setdefault("template_version", []).append(
            _("template_version %(version)s belongs to another template than %(template)s")
            % {"version": version, "template": campaign.template}
        )
    if not isinstance(campaign.parameters, dict):
        errors.setdefault("parameters", []).append(
            _("parameters %(value)r must be an object of name: value") % {"value": campaign.parameters}
        )
    if not isinstance(campaign.provider_options, dict):
        errors.setdefault("provider_options", []).append(
            _("provider_options %(value)r must be an object") % {"value": campaign.provider_options}
        )
    uids = campaign.test_uids
    if not isinstance(uids, list) or not all(isinstance(u, str | int) and str(u).strip() for u in uids):
        errors.setdefault("test_uids", []).append(
            _("test_uids %(value)r must be a list of user ids") % {"value": uids}
        )
    elif len(uids) > MAX_TEST_UIDS:
        errors.setdefault("test_uids", []).append(
            _("Test uids: %(count)s ids given; a preview goes to at most %(max)s test users.")
            % {"count": len(uids), "max": MAX_TEST_UIDS}
        )
    circle = campaign.circle_value
    whole = isinstance(circle, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in circle)
    if not whole:
        errors.setdefault("circle_value", []).append(
            _("circle_value %(value)r must be a list of whole numbers (weekdays 1-7 or month days 1-31)")
            % {"value": circle}
        )
    if version is not None and isinstance(campaign.parameters, dict) and "parameters" not in errors:
        # The rendered-length cap is checked on every write, not only on submit, with the
        # message a render gives (templates_registry/rendering.py, docs/architecture.md,
        # "Where each rule lives"): a draft never holds values that could not be sent.
        try:
            check_parameter_lengths(version, campaign.parameters)
        except ValidationError as exc:
            merge_errors(errors, exc)
    _content_write_errors(campaign, errors)
    _schedule_write_errors(campaign, errors)
    _option_write_errors(campaign, errors, message)
    if errors:
        raise ValidationError(errors)


def _option_write_errors(campaign: Campaign, errors: dict[str, list[str]], message: Message | None) -> None:
    """Add the provider options' errors by path (``provider_options.PushStatus``): on every
    write, as the admin form refuses them on save (issue 16: one validation path), from the
    provider's schema and checks (``campaigns.provider_options.campaign_option_errors``)."""
    if "provider_options" in errors or not (campaign.provider_account_id and campaign.audience_id):
        return
    for path, messages in campaign_option_errors(campaign, message=message).items():
        known = errors.setdefault(path, [])
        known.extend(m for m in messages if m not in known)


def _content_write_errors(campaign: Campaign, errors: dict[str, list[str]]) -> None:
    """Add what every save refuses about the content, in the admin and the API alike: a
    template variable without a value, and a template the account's provider does not know."""
    version = campaign.template_version
    if version is None:
        return
    given = campaign.parameters if isinstance(campaign.parameters, dict) else {}
    missing = [name for name in version.variables or [] if not str(given.get(name) or "").strip()]
    if missing and "parameters" not in errors:
        names = ", ".join(f"${{{name}}}" for name in missing)
        errors["parameters"] = [
            ngettext(
                "Parameters: no value for %(names)s; template %(key)s v%(number)s uses it.",
                "Parameters: no value for %(names)s; template %(key)s v%(number)s uses them.",
                len(missing),
            ) % {"names": names, "key": version.template.key, "number": version.number}
        ]
    account = campaign.provider_account if campaign.provider_account_id else None
    if account is not None and account.kind not in (version.provider_refs or {}) and "template" not in errors:
        errors["template"] = [
            _("Template: %(key)s v%(number)s is not registered with %(provider)s (provider account "
              "%(account)s); choose another template or account.")
            % {"key": version.template.key, "number": version.number, "provider": account.kind,
               "account": account}
        ]


def _schedule_write_errors(campaign: Campaign, errors: dict[str, list[str]]) -> None:
    """Add the schedule rules every save checks, in the admin and the API alike (the rules of
    the moment wait for submit: ``campaigns.schedules.validation``); fields already refused
    keep their first error."""
    try:
        found = write_errors(ScheduleSpec.from_campaign(campaign))
    except ValidationError as exc:
        found = exc.message_dict
    for field, messages in found.items():
        key = "schedule_kind" if field == "kind" else field
        if key not in errors:
            errors[key] = list(messages)


def merge_errors(errors: dict[str, list[str]], exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    else:
        errors.setdefault("non_field_errors", []).extend(exc.messages)
