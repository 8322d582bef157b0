"""The dispatcher tick: every due occurrence of an approved campaign becomes exactly one
``Dispatch``, and a worker is woken for it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, Dispatch
from campaigns.schedules.kinds import kind_rules
from campaigns.schedules.occurrences import occurrences
from campaigns.schedules.spec import ScheduleSpec
from campaigns.sending import native
from campaigns.sending.operations import sending_stopped
from campaigns.sending.wake import enqueue_dispatch


def _next_after(campaign: Campaign, after: datetime) -> datetime | None:
    """The campaign's occurrence after ``after``; None when it has no more that Crier fires."""
    rules = kind_rules(campaign.schedule_kind)
    if (rules is not None and not rules.period) or native.applies(campaign):
        return None  # one occurrence only; or mPaaS native scheduling: mPaaS fires them, not us
    return next(iter(occurrences(ScheduleSpec.from_campaign(campaign), after=after, limit=1)), None)


def _dispatch_occurrence(campaign_id: int, due_at: datetime) -> int | None:
    """Advance the campaign past ``due_at`` and create its dispatch; None when another ticker won."""
    with transaction.atomic():
        campaign = Campaign.objects.get(pk=campaign_id)
        if native.native_finish(campaign, due_at):
            return None  # its mPaaS schedule has ended: finished, nothing to dispatch
        following = _next_after(campaign, due_at)
        won = Campaign.objects.filter(pk=campaign_id, next_due_at=due_at).update(next_due_at=following)
        if not won:
            return None
        dispatch, made = Dispatch.objects.get_or_create(
            campaign_id=campaign_id, due_at=due_at, is_preview=False
        )
        if not made:
            return None
        enqueue_dispatch(dispatch.pk)
        return dispatch.pk


def dispatcher_tick(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Turn every due occurrence into exactly one Dispatch and wake a worker for it.

    The claim is a compare-and-swap on ``next_due_at``: of several tickers (clusters)
    firing at once, one advances it and creates the dispatch; the unique constraint on
    (campaign, due_at) backs that up. Returns the ids of dispatches created.
    """
    now = now or timezone.now()
    if sending_stopped():
        return []
    due = list(
        Campaign.objects.filter(
            next_due_at__lte=now, status__in=[CampaignStatus.APPROVED, CampaignStatus.SENDING]
        )
        .order_by("next_due_at")
        .values_list("pk", "next_due_at")[:limit]
    )
    created = [_dispatch_occurrence(campaign_id, due_at) for campaign_id, due_at in due]
    return [dispatch_id for dispatch_id in created if dispatch_id is not None]


def dispatch_due_now(campaign_id: int) -> int | None:
    """Turn an approved campaign's occurrence that is due now into its Dispatch at once and wake
    a worker (called when its approval commits), instead of at the ticker's next pass; None
    when nothing is due or another ticker won. Idempotent like the tick it anticipates; the
    ticker stays the safety net (docs/architecture.md, *Execution model*)."""
    if sending_stopped():
        return None
    due_at = (
        Campaign.objects.filter(
            pk=campaign_id,
            next_due_at__lte=timezone.now(),
            status__in=[CampaignStatus.APPROVED, CampaignStatus.SENDING],
        )
        .values_list("next_due_at", flat=True)
        .first()
    )
    return None if due_at is None else _dispatch_occurrence(campaign_id, due_at)
