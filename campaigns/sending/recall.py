"""Recall a sent campaign from its users, where the provider allows it.

Two providers can take back a message they accepted:

* **Jiguang UMS** — ``POST /v1/retract/{msgid}`` for messages sent within the last 24
  hours; UMS stops what is not delivered yet and withdraws what the channel allows (App
  notifications not yet clicked, …). ``1015055`` means it was retracted already.
* **mPaaS** — ``RevokePushTask`` with the broadcast's task id (``PushResult.Data``), while
  the message is still valid (the campaign's ``expired_seconds``).

Binance and Alipay+ document no recall, so a campaign there cannot be recalled.

What is recalled: every delivered request of the campaign's occurrences (previews left
out) that has a provider message id, was sent within the provider's window and was not
recalled before. Each is claimed (``Delivery.recalled_at``, compare-and-swap) before its
request goes out, so two people pressing the button at once never recall twice; a request
the provider refuses is released again. Every answer lands in the audit trail (action
``recall`` on the delivery: the provider's outcome, code, message and HTTP status), with a
summary event on the campaign.

Who: reviewers (``campaigns.approve_campaign``) and operators
(``campaigns.operate_dispatches``). :func:`recall_refusal` says why a recall is
impossible (the button is then absent, the API answers 409); :func:`campaign_recall` does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.core.exceptions import PermissionDenied
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import record_event
from campaigns.lifecycle import CampaignTransitionError
from campaigns.models import Campaign, Delivery, DeliveryStatus
from campaigns.sending import native
from providers import http as provider_http
from providers.base import Message, Outcome, Provider, ProviderError, Result
from providers.registry import provider_class

RECALL_PERMS = ("campaigns.approve_campaign", "campaigns.operate_dispatches")


class RecallRefused(CampaignTransitionError):
    """The campaign cannot be recalled now (HTTP 409): provider, age, or nothing to recall."""


@dataclass
class RecallReport:
    """What a recall did: messages recalled, refused by the provider, and their answers."""

    recalled: int = 0
    failed: int = 0
    results: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"recalled": self.recalled, "failed": self.failed, "results": self.results}


def may_recall(user) -> bool:
    """Return whether ``user`` holds a permission that allows recalling campaigns."""
    return user is not None and any(user.has_perm(perm) for perm in RECALL_PERMS)


def recall_window(campaign: Campaign) -> timedelta | None:
    """Return how long after sending the campaign's provider can recall (None: never)."""
    provider = provider_class(campaign.provider_account.kind)
    if not provider.can_recall:
        return None
    probe = Message(template_ref="", language="", parameters={}, expired_seconds=campaign.expired_seconds)
    seconds = campaign.provider_account.provider().recall_window(probe)
    return None if seconds is None else timedelta(seconds=seconds)


def _sent(campaign: Campaign) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(
            dispatch__campaign=campaign,
            dispatch__is_preview=False,
            status=DeliveryStatus.DELIVERED,
            recalled_at__isnull=True,
        )
        .exclude(provider_message_id="")
        .annotate(sent_at=Max("attempt_log__created_at"))
    )


def recallable_deliveries(*, campaign: Campaign, now: datetime | None = None) -> QuerySet[Delivery]:
    """Return the delivered requests of ``campaign`` its provider can still recall at ``now``."""
    window = recall_window(campaign)
    if window is None:
        return Delivery.objects.none()
    now = now or timezone.now()
    return _sent(campaign).filter(sent_at__gte=now - window).order_by("pk")


def recall_refusal(*, campaign: Campaign, user=None, now: datetime | None = None) -> str | None:
    """Return why ``campaign`` cannot be recalled (by ``user``, when given) at ``now``; None if it can."""
    if user is not None and not may_recall(user):
        return _("recalling needs one of the permissions %(perms)s") % {"perms": ", ".join(RECALL_PERMS)}
    kind = campaign.provider_account.kind
    window = recall_window(campaign)
    if window is None:
        return _("provider %(kind)r documents no way to recall a sent message") % {"kind": kind}
    if native.applies(campaign):
        return _(
            "the campaign is scheduled natively at mPaaS: its requests registered scheduled "
            "tasks, not sent pushes; cancel the campaign to cancel them (CancelPushScheduler)"
        )
    if recallable_deliveries(campaign=campaign, now=now).exists():
        return None
    if _sent(campaign).exists():
        hours = window.total_seconds() / 3600
        return _("provider %(kind)r recalls only within %(hours)s h of sending; everything sent is older") % {
            "kind": kind, "hours": f"{hours:g}",
        }
    return _("nothing delivered is left to recall")


def campaign_recall(
    *, campaign: Campaign, actor, reason: str = "", now: datetime | None = None
) -> RecallReport:
    """Recall every recallable message of ``campaign`` at its provider; return what happened.

    Raises PermissionDenied without a recall permission, :class:`RecallRefused` when
    there is nothing the provider could recall (see :func:`recall_refusal`).
    """
    if not may_recall(actor):
        who = getattr(actor, "username", None) or _("anonymous")
        raise PermissionDenied(
            _("user %(user)r may not recall campaigns: it needs one of %(perms)s")
            % {"user": who, "perms": ", ".join(RECALL_PERMS)}
        )
    now = now or timezone.now()
    refusal = recall_refusal(campaign=campaign, now=now)
    if refusal:
        raise RecallRefused(
            _("campaign %(id)s %(name)r cannot be recalled: %(why)s")
            % {"id": campaign.pk, "name": campaign.name, "why": refusal}
        )
    account = campaign.provider_account
    provider = account.provider(with_credentials=True)
    report = RecallReport()
    deliveries = list(recallable_deliveries(campaign=campaign, now=now))
    with provider_http.client(timeout=account.timeout_seconds) as client:
        for delivery in deliveries:
            answer = _recall_one(provider, client, delivery, now=now)
            if answer is None:
                continue
            recalled = answer["recalled"]
            report.results.append(answer)
            report.recalled += int(recalled)
            report.failed += int(not recalled)
            record_event(
                campaign=campaign,
                object_type="delivery",
                object_id=delivery.pk,
                action="recall" if recalled else "recall_failed",
                from_state=delivery.status,
                to_state="recalled" if recalled else delivery.status,
                actor=actor,
                reason=reason,
                data=answer,
            )
    record_event(
        campaign=campaign,
        object_type="campaign",
        object_id=campaign.pk,
        action="recall",
        from_state=campaign.status,
        to_state=campaign.status,
        actor=actor,
        reason=reason,
        data={"recalled": report.recalled, "failed": report.failed, "provider": account.kind},
    )
    return report


def _recall_one(
    provider: Provider, client: httpx.Client, delivery: Delivery, *, now: datetime
) -> dict | None:
    """Recall one delivered request; return the provider's answer (None: another recall has it).

    The delivery is claimed first (``recalled_at``), so a concurrent recall of the same
    message finds it taken; a refused recall releases it again.
    """
    if not Delivery.objects.filter(pk=delivery.pk, recalled_at__isnull=True).update(recalled_at=now):
        return None
    try:
        result = provider.recall(client, delivery.provider_message_id)
    except ProviderError as exc:
        result = Result(Outcome.FAILED, code="CLIENT_ERROR", message=str(exc))
    recalled = result.outcome == Outcome.DELIVERED or result.code in provider.recalled_codes
    if not recalled:
        Delivery.objects.filter(pk=delivery.pk, recalled_at=now).update(recalled_at=None)
    return {
        "delivery": delivery.pk,
        "message_id": delivery.provider_message_id,
        "recalled": recalled,
        "outcome": str(result.outcome),
        "code": result.code,
        "message": result.message,
        "http_status": result.http_status,
    }
