"""Provider limits Crier enforces itself, so a campaign is refused when it is submitted or
approved rather than by the provider at send time.

* At most ``CRIER_MAX_PENDING_SCHEDULED`` (default 100) scheduled or recurring campaigns
  may be pending per provider account, as mPaaS allows 100 pending scheduled tasks.
* Some providers cannot schedule a push to tags or a segment, only send it at once
  (``Limits.scheduled_tags``; mPaaS).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.utils.translation import gettext as _

from campaigns.models import AudienceKind, Campaign, CampaignStatus
from campaigns.schedules.kinds import SCHEDULE_FIELDS, SCHEDULED_KINDS
from campaigns.schedules.occurrences import has_occurrences_left
from campaigns.schedules.spec import ScheduleError, ScheduleSpec
from providers.models import ProviderAccount
from providers.registry import provider_class

# Awaiting review, or approved and not finished: the states that hold a provider slot.
PENDING_STATUSES: tuple[str, ...] = (
    CampaignStatus.IN_REVIEW,
    CampaignStatus.APPROVED,
    CampaignStatus.SENDING,
)


def max_pending_scheduled() -> int:
    """Return how many scheduled or recurring campaigns may be pending per provider account."""
    return int(getattr(settings, "CRIER_MAX_PENDING_SCHEDULED", 100))


def pending_scheduled_count(
    account: ProviderAccount, *, now: dt.datetime, exclude_campaign_id: int | None = None
) -> int:
    """Return how many once, recurring or cron campaigns of ``account`` are pending at ``now``.

    A campaign is pending while it awaits review or is approved (status in_review, approved
    or sending) and has an occurrence left: ``next_due_at`` is set, or, for a campaign in
    review (``next_due_at`` is only set at approval), its schedule fires after ``now``.
    ``exclude_campaign_id`` leaves one campaign out, so re-checking a campaign that is
    already pending does not count it twice.
    """
    candidates = Campaign.objects.filter(
        provider_account=account,
        schedule_kind__in=SCHEDULED_KINDS,
        status__in=PENDING_STATUSES,
    )
    if exclude_campaign_id is not None:
        candidates = candidates.exclude(pk=exclude_campaign_id)
    with_due_time = candidates.filter(next_due_at__isnull=False).count()
    in_review = candidates.filter(next_due_at__isnull=True, status=CampaignStatus.IN_REVIEW)
    in_review_left = sum(
        1 for campaign in in_review.only(*SCHEDULE_FIELDS).iterator() if _fires_after(campaign, now)
    )
    return with_due_time + in_review_left


def _fires_after(campaign: Campaign, now: dt.datetime) -> bool:
    try:
        return has_occurrences_left(ScheduleSpec.from_campaign(campaign), after=now)
    except (ValidationError, ScheduleError):
        # A schedule that cannot be read still holds its slot until a reviewer rejects it;
        # not counting it would let broken campaigns push the account past the limit.
        return True


def check_pending_limit(*, campaign: Campaign, now: dt.datetime) -> None:
    """Raise ValidationError on ``schedule`` if ``campaign`` would exceed the pending limit.

    Call it inside the caller's ``transaction.atomic()``, in the same transaction that
    moves the campaign into a pending status (submit, approve). It first locks the
    provider account's row (``SELECT … FOR UPDATE``), held until that transaction ends,
    so on PostgreSQL concurrent submits and approvals for one account take turns and each
    counts what the others committed. (SQLite has no row locks; its ``IMMEDIATE``
    transactions serialise writers instead.) Raise ``TransactionManagementError`` when
    called outside a transaction, where the lock would end before the status changes.
    Campaigns sent ``now`` do not count and are never refused.
    """
    if campaign.schedule_kind not in SCHEDULED_KINDS:
        return
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "check_pending_limit must run inside transaction.atomic(), so that the provider "
            "account stays locked until the campaign's new status is committed"
        )
    account = ProviderAccount.objects.select_for_update().get(pk=campaign.provider_account_id)
    limit = max_pending_scheduled()
    pending = pending_scheduled_count(account, now=now, exclude_campaign_id=campaign.pk)
    if pending + 1 > limit:
        raise ValidationError(
            {
                "schedule": [
                    _("provider account %(account)r already has %(pending)s scheduled or recurring "
                      "campaigns pending; at most %(limit)s are allowed (CRIER_MAX_PENDING_SCHEDULED)")
                    % {"account": account.name, "pending": pending, "limit": limit}
                ]
            }
        )


def check_scheduled_audience(*, campaign: Campaign) -> None:
    """Raise ValidationError on ``audience`` if the provider cannot schedule a push to it.

    A provider whose ``limits.scheduled_tags`` is false sends to tags or a segment only at
    once (mPaaS: "Scheduled and recurring pushes are not supported when the target audience
    is a tag group", which is how a tags or segment audience reaches mPaaS).
    """
    if campaign.schedule_kind not in SCHEDULED_KINDS:
        return
    provider = provider_class(campaign.provider_account.kind)
    if provider.limits.scheduled_tags:
        return
    audience = campaign.audience
    if audience.kind not in (AudienceKind.TAGS, AudienceKind.SEGMENT):
        return
    raise ValidationError(
        {
            "audience": [
                _("audience %(audience)r selects by %(kind)s, and %(provider)s does not support a "
                  "'%(schedule)s' schedule for a tag group or segment; send it now, or choose an audience "
                  "of everyone or of listed user ids")
                % {"audience": audience.name, "kind": audience.kind,
                   "provider": provider.template_reference.provider, "schedule": campaign.schedule_kind}
            ]
        }
    )
