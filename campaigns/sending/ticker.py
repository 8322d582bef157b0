"""The dispatcher tick: every due occurrence of an approved campaign becomes exactly one
``Dispatch``, and a worker is woken for it.

Due occurrences are claimed in batches, one transaction per batch (docs/architecture.md,
"Execution model"): on PostgreSQL the due rows are locked with ``FOR UPDATE SKIP LOCKED``,
so a second ticker (another cluster's loop, or the ``tick_once`` an approval enqueues)
takes the next rows instead of waiting for the first one's; on SQLite the transaction
holds the one write lock (``transaction_mode="IMMEDIATE"``). In both the claim itself is
still the compare-and-swap on ``next_due_at``, backed by the unique constraint on
(campaign, due_at), so no lock is relied on for exactly once. The batch's dispatches are
created with one ``INSERT`` and their tasks enqueued when it commits; the broker spreads
them over every cluster's workers (docs/queue-and-http.md, "django-q2").
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, Dispatch
from campaigns.schedules.kinds import kind_rules
from campaigns.schedules.occurrences import occurrences
from campaigns.schedules.spec import ScheduleSpec
from campaigns.sending import native
from campaigns.sending.operations import sending_stopped
from campaigns.sending.wake import enqueue_dispatch

logger = logging.getLogger(__name__)

# Occurrences claimed per transaction; a tick takes batches until none is due or its time is up.
BATCH = 100


def _next_after(campaign: Campaign, after: datetime) -> datetime | None:
    """The campaign's occurrence after ``after``; None when it has no more that Crier fires."""
    rules = kind_rules(campaign.schedule_kind)
    if (rules is not None and not rules.period) or native.applies(campaign):
        return None  # one occurrence only; or mPaaS native scheduling: mPaaS fires them, not us
    return next(iter(occurrences(ScheduleSpec.from_campaign(campaign), after=after, limit=1)), None)


def _due(now: datetime, limit: int, done: set[int], campaign_id: int | None = None):
    """The due campaigns (or only ``campaign_id``), oldest first, locked where the database can
    skip rows locked by others; not those in ``done`` (one occurrence per campaign a tick, as
    before batching)."""
    due = Campaign.objects.filter(
        next_due_at__lte=now, status__in=[CampaignStatus.APPROVED, CampaignStatus.SENDING]
    )
    if campaign_id is not None:
        due = due.filter(pk=campaign_id)
    due = (
        due.exclude(pk__in=done)
        .select_related("provider_account")
        .order_by("next_due_at", "pk")
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    return list(due[:limit])


def _create_dispatches(won: list[tuple[int, datetime]]) -> list[int]:
    """Create one dispatch per claimed occurrence; return the ids of those created.

    One ``INSERT`` for the batch where the database returns the new ids; should one
    occurrence already have its dispatch (the unique constraint refuses the batch), or the
    database return no ids, each is created on its own, as before batching.
    """
    if connection.features.can_return_rows_from_bulk_insert:
        try:
            with transaction.atomic():
                made = Dispatch.objects.bulk_create(
                    [Dispatch(campaign_id=pk, due_at=due_at, is_preview=False) for pk, due_at in won]
                )
            return [d.pk for d in made]
        except IntegrityError:
            pass
    created = []
    for pk, due_at in won:
        dispatch, fresh = Dispatch.objects.get_or_create(campaign_id=pk, due_at=due_at, is_preview=False)
        if fresh:
            created.append(dispatch.pk)
    return created


def _claim_batch(
    now: datetime, limit: int, done: set[int], campaign_id: int | None = None
) -> tuple[list[int], int]:
    """Claim up to ``limit`` due occurrences (of ``campaign_id`` only, if given) in one
    transaction; return (dispatch ids, rows seen). Adds every campaign it looked at to ``done``.
    """
    with transaction.atomic():
        campaigns = _due(now, limit, done, campaign_id)
        won: list[tuple[int, datetime]] = []
        for campaign in campaigns:
            done.add(campaign.pk)
            due_at = campaign.next_due_at
            if native.native_finish(campaign, due_at):
                continue  # its mPaaS schedule has ended: finished, nothing to dispatch
            try:
                following = _next_after(campaign, due_at)
            except Exception:  # one campaign's broken schedule must not hold the others' batch
                logger.exception("campaign %s: its next occurrence cannot be computed", campaign.pk)
                continue
            if Campaign.objects.filter(pk=campaign.pk, next_due_at=due_at).update(next_due_at=following):
                won.append((campaign.pk, due_at))
        created = _create_dispatches(won) if won else []
        for dispatch_id in created:
            enqueue_dispatch(dispatch_id)  # on commit
    return created, len(campaigns)


def dispatcher_tick(*, now: datetime | None = None, limit: int = BATCH, budget: float = 5.0) -> list[int]:
    """Turn every due occurrence into exactly one Dispatch and wake a worker for it.

    The claim is a compare-and-swap on ``next_due_at``: of several tickers (clusters)
    firing at once, one advances it and creates the dispatch; the unique constraint on
    (campaign, due_at) backs that up. Claims ``limit`` occurrences a transaction, batch
    after batch while full ones come back, for at most ``budget`` seconds (the ticker's
    lease must be renewed). Returns the ids of dispatches created, oldest due first.
    """
    now = now or timezone.now()
    if sending_stopped():
        return []
    created: list[int] = []
    done: set[int] = set()
    ends = time.monotonic() + budget
    while True:
        batch, seen = _claim_batch(now, limit, done)
        created.extend(batch)
        if seen < limit or time.monotonic() >= ends:
            return created


def seconds_to_next_due(now: datetime | None = None) -> float | None:
    """Seconds from ``now`` to the next occurrence of an approved campaign that is not due
    yet; None when none is scheduled. The ticker loop sleeps no longer than this, so an
    occurrence due at 10:00:00 is claimed at 10:00:00, not up to a tick later (one indexed
    ``MIN`` over the partial index on ``next_due_at``; docs/architecture.md, *Execution model*)."""
    now = now or timezone.now()
    following = (
        Campaign.objects.filter(
            next_due_at__gt=now, status__in=[CampaignStatus.APPROVED, CampaignStatus.SENDING]
        )
        .order_by("next_due_at")
        .values_list("next_due_at", flat=True)
        .first()
    )
    return None if following is None else (following - now).total_seconds()


def dispatch_due_now(campaign_id: int) -> int | None:
    """Turn an approved campaign's occurrence that is due now into its Dispatch at once and wake
    a worker (called when its approval commits), instead of at the ticker's next pass; None
    when nothing is due or another ticker won. The same claim as a tick's (compare-and-swap on
    ``next_due_at``, unique occurrence), so it is idempotent like the tick it anticipates; the
    ticker stays the safety net (docs/architecture.md, *Execution model*)."""
    if sending_stopped():
        return None
    created, _seen = _claim_batch(timezone.now(), 1, set(), campaign_id)
    return created[0] if created else None
