"""A campaign's provider options: what submit checks, and what each send carries.

``providers.options`` checks the options of a message for one provider. This module adds
what only a campaign knows, and is the one place the campaigns app reads them:

* :func:`campaign_option_errors` — the errors :func:`campaigns.services.campaign_check_sendable`
  raises at submit and approve, keyed by field path (``provider_options.PushStatus``,
  ``provider_options.app_para.time_to_live``): the API answers them as 400 field errors,
  the admin form shows them on the ``provider_options`` field. Besides the provider's own
  rules: Jiguang channel registration ids (``aud_app`` …) replace the audience, so they
  need the campaign's audience to be *everyone* (then the request goes to
  ``/v1/template/sent`` with those ids only); mPaaS ``StrategyType``/``StrategyContent``
  come from the campaign's schedule (``campaigns.sending.native``), never from options; on a
  Jiguang account with API review (``settings["api_review"]``) ``option.owner`` is filled
  by Crier, so a campaign may not set it.
* :func:`send_message` — the Message a send carries: the campaign's options plus what
  Crier fills in. On a Jiguang account with API review, ``option.owner`` is the reviewer
  whose approval approved the campaign (for a preview: whoever asked for it). The
  approval snapshot hashes the request bodies with :data:`OWNER_PLACEHOLDER` there, since
  the approver is not known when the campaign is submitted; everything else in the body
  is hashed as sent. For mPaaS native scheduling the schedule's ``StrategyType`` and
  ``StrategyContent`` are added (``campaigns.sending.native``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.core.exceptions import ValidationError

from campaigns.messages import build_message
from campaigns.models import AudienceKind, Campaign, Dispatch
from campaigns.sending import native
from providers import options as rules
from providers.base import Message

OWNER_PLACEHOLDER = "<approving reviewer>"
PREFIX = rules.PREFIX


def api_review(campaign: Campaign) -> bool:
    """Return whether the campaign's account is a Jiguang channel with API review switched on."""
    account = campaign.provider_account
    return account.kind == "jiguang" and bool((account.settings or {}).get("api_review"))


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
    """Return the campaign's options with what Crier fills in (``owner`` under API review,
    the native schedule); a value that is not an object is returned as it is."""
    options = campaign.provider_options
    if not isinstance(options, dict):
        return options
    options = dict(options)
    if api_review(campaign):
        option = options.get("option") if isinstance(options.get("option"), dict) else {}
        options["option"] = {**option, "owner": owner}
    options.update(native.strategy_options(campaign))
    return options


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


def _campaign_rules(campaign: Campaign, options: dict[str, Any], add) -> None:
    kind = campaign.provider_account.kind
    if kind == "mpaas":
        for raw in options:
            name = rules.mpaas_wire_name(str(raw))
            if name in ("StrategyType", "StrategyContent"):
                add(
                    str(raw),
                    f"{raw} is set by Crier from the campaign's schedule (mPaaS native scheduling, "
                    "account setting native_scheduling); use the schedule fields instead",
                )
    if kind == "jiguang":
        nested = options.get("option") if isinstance(options.get("option"), dict) else {}
        if api_review(campaign) and (options.get("owner") or nested.get("owner")):
            path = "option.owner" if nested.get("owner") else "owner"
            add(
                path,
                f"{path} is filled by Crier with the approving reviewer: this Jiguang channel has "
                "API review (account setting api_review)",
            )
        channels = [name for name in rules.JIGUANG_CHANNEL_AUDIENCES if options.get(name) is not None]
        audience = campaign.audience
        if channels and audience.kind != AudienceKind.ALL:
            for name in channels:
                add(
                    name,
                    f"{name} (channel registration ids) cannot be mixed with the {audience.kind} "
                    f"audience {audience.name!r}: UMS never mixes channel ids with tag/user/segment "
                    "targets; choose the everyone audience, and the ids become the whole audience",
                )


def campaign_option_errors(campaign: Campaign) -> dict[str, list[str]]:
    """Return the errors of ``campaign.provider_options`` by field path (empty: valid).

    A campaign whose message cannot be built at all (no provider reference, a missing
    parameter) gets only the campaign-level rules here; the snapshot reports the rest.
    """
    options = campaign.provider_options
    if not isinstance(options, dict) or campaign.provider_account_id is None:
        return {}  # campaign_clean reports a provider_options that is not an object
    errors: dict[str, list[str]] = {}

    def add(name: str, text: str) -> None:
        errors.setdefault(f"{PREFIX}.{name}", []).append(text)

    _campaign_rules(campaign, options, add)
    try:
        message = send_message(campaign)
    except ValidationError:
        return errors
    from campaigns.snapshot import snapshot_provider

    for path, messages in snapshot_provider(campaign).option_errors(message).items():
        known = errors.setdefault(path, [])
        known.extend(m for m in messages if m not in known)
    return errors
