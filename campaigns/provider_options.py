"""A campaign's provider options: what submit checks, and what each send carries.

``providers.options`` checks the options of a message for one provider. This module adds
what only a campaign knows, and is the one place the campaigns app reads them:

* :func:`campaign_option_errors` — the errors :func:`campaigns.services.campaign_check_sendable`
  raises at submit and approve, keyed by field path (``provider_options.PushStatus``,
  ``provider_options.app_para.time_to_live``): the API answers them as 400 field errors,
  the admin form shows them on the ``provider_options`` field. Besides the message's own
  rules, the provider judges the options against the campaign
  (``Provider.campaign_option_errors``: e.g. Jiguang channel registration ids need the
  *everyone* audience; options Crier fills in itself, such as the mPaaS strategy of a
  native schedule or the Jiguang owner under API review, may not be set).
* :func:`send_message` — the Message a send carries: the campaign's options plus what
  Crier fills in. Where the provider's request names the approving reviewer
  (``Provider.with_approver``: Jiguang API review), it is the reviewer whose approval
  approved the campaign (for a preview: whoever asked for it). The approval snapshot
  hashes the request bodies with :data:`OWNER_PLACEHOLDER` there, since the approver is
  not known when the campaign is submitted; everything else in the body is hashed as
  sent. A native schedule's options are added too (``campaigns.sending.native``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from campaigns.messages import build_message
from campaigns.models import Campaign, Dispatch
from campaigns.sending import native
from providers import options as rules
from providers.base import Message
from providers.registry import provider_classes

OWNER_PLACEHOLDER = "<approving reviewer>"
PREFIX = rules.PREFIX


def approver_username(campaign: Campaign) -> str:
    """Return the user whose approval approved the campaign last ("" if it never was)."""
    from audit.models import AuditEvent

    event = (
        AuditEvent.objects.filter(campaign=campaign, object_type="campaign", action="approve")
        .select_related("actor")
        .order_by("-id")
        .first()
    )
    return event.actor.get_username() if event is not None and event.actor is not None else ""


def preview_requester(dispatch: Dispatch) -> str:
    """Return who asked for the preview ``dispatch`` (its author when not recorded)."""
    from audit.models import AuditEvent

    event = (
        AuditEvent.objects.filter(object_type="dispatch", object_id=str(dispatch.pk), action="preview")
        .select_related("actor")
        .order_by("-id")
        .first()
    )
    if event is not None and event.actor is not None:
        return event.actor.get_username()
    return dispatch.campaign.created_by.get_username()


def send_options(campaign: Campaign, *, owner: str) -> Any:
    """Return the campaign's options with what Crier fills in (the approving reviewer where
    the provider names him, the native schedule); a value that is not an object is
    returned as it is."""
    options = campaign.provider_options
    if not isinstance(options, dict):
        return options
    options = campaign.provider_account.provider().with_approver(dict(options), owner)
    return {**options, **native.strategy_options(campaign)}


def send_message(campaign: Campaign, *, dispatch: Dispatch | None = None) -> Message:
    """Return the Message that ``dispatch`` of ``campaign`` sends (no dispatch: the one the
    approval snapshot hashes, with :data:`OWNER_PLACEHOLDER` for the approver).

    Raises ``ValidationError`` like ``campaigns.messages.build_message``.
    """
    message = build_message(campaign)
    if dispatch is None:
        owner = OWNER_PLACEHOLDER
    elif dispatch.is_preview:
        owner = preview_requester(dispatch)
    else:
        owner = approver_username(campaign) or OWNER_PLACEHOLDER
    return replace(message, options=send_options(campaign, owner=owner))


def campaign_option_errors(campaign: Campaign, *, message: Message | None = None) -> dict[str, list[str]]:
    """Return the errors of ``campaign.provider_options`` by field path (empty: valid).

    ``message`` is the campaign's message as ``campaigns.messages.build_message`` built it,
    when the caller has it already (a submit builds it once); otherwise it is built here. A
    campaign whose message cannot be built at all (no provider reference, a missing
    parameter) gets only the campaign-level rules here; the snapshot reports the rest.
    """
    options = campaign.provider_options
    if not isinstance(options, dict) or campaign.provider_account_id is None:
        return {}  # campaign_clean reports a provider_options that is not an object
    provider = campaign.provider_account.provider()
    audience = campaign.audience
    found = provider.campaign_option_errors(options, audience_kind=audience.kind, audience_name=audience.name)
    errors = {f"{PREFIX}.{name}": list(messages) for name, messages in found.items()}
    if message is None:
        try:
            sent = send_message(campaign)
        except ValidationError:
            return errors
    else:
        sent = replace(message, options=send_options(campaign, owner=OWNER_PLACEHOLDER))
    for path, messages in provider.option_errors(sent).items():
        known = errors.setdefault(path, [])
        known.extend(m for m in messages if m not in known)
    return errors


# --- the API's provider_options field ------------------------------------------------------


class ProviderOptionsField(serializers.DictField):
    """``provider_options`` in the campaign API: an object of the provider's own parameters.

    Which options apply depends on the provider account's kind, so the field is checked at
    submit against that kind's ``option_schema`` (:func:`campaign_option_errors`), and the
    OpenAPI schema documents it as any of the per-kind components (below).
    """


class ProviderOptionsFieldExtension(OpenApiSerializerFieldExtension):
    """Document ``provider_options`` as ``anyOf`` the options schema of each provider kind.

    Each kind's schema (``Provider.option_schema``) becomes a component of its own
    (``BinanceOptions``, ``MpaasOptions``, …) that /api/docs/ shows with its fields, types,
    choices and help. ``anyOf`` rather than ``oneOf``: the options carry no kind of their
    own to discriminate by (the account does), and ``{}`` is valid for every provider.
    """

    target_class = ProviderOptionsField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        refs, kinds = [], []
        for cls in provider_classes():
            if cls.option_schema is None:
                continue
            component = auto_schema.resolve_serializer(cls.option_schema, direction)
            refs.append(component.ref)
            kinds.append(f"`{cls.kind}`: {component.name}")
        description = (
            "The provider's own parameters by wire name; which schema applies depends on the "
            "provider account's kind ("
            + "; ".join(kinds)
            + "). Checked at submit and approve; errors are keyed by path, e.g. "
            "provider_options.PushStatus."
        )
        return {"type": "object", "anyOf": refs, "description": description}
