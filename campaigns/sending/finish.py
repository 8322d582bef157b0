"""The end of a dispatch: its progress counters, its final status, and what that makes of
its campaign (back to approved while occurrences remain, else sent / partially failed /
failed through the campaign life cycle's one transition helper)."""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from audit.services import record_event
from campaigns import stored_text
from campaigns.audiences.stream import SkipReason
from campaigns.lifecycle import campaign_transition
from campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, Dispatch, DispatchStatus
from campaigns.sending import native
from campaigns.sending.transitions import dispatch_move

# Requests that did not reach their recipients, for the dispatch's final status.
_BAD = (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN, DeliveryStatus.EXPIRED, DeliveryStatus.CLOSED)
# The counts an audited failed finish records.
_COUNTED = (DeliveryStatus.DELIVERED, DeliveryStatus.OPTED_OUT, *_BAD)


def dispatch_progress(dispatch_id: int) -> dict[str, int]:
    """Return how many requests of a dispatch are in each delivery status."""
    rows = Delivery.objects.filter(dispatch_id=dispatch_id).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def store_counts(dispatch_id: int, counts: dict[str, int] | None = None) -> dict[str, int]:
    """Recount a dispatch's progress counters (a GROUP BY over its deliveries, unless the caller
    has just counted them: ``counts``) and store them."""
    counts = dispatch_progress(dispatch_id) if counts is None else counts
    Dispatch.objects.filter(pk=dispatch_id).update(
        delivered=counts.get(DeliveryStatus.DELIVERED, 0),
        failed=counts.get(DeliveryStatus.FAILED, 0) + counts.get(DeliveryStatus.EXPIRED, 0),
        opted_out=counts.get(DeliveryStatus.OPTED_OUT, 0),
        unknown=counts.get(DeliveryStatus.UNKNOWN, 0),
    )
    return counts


def final_status(counts: dict[str, int]) -> str:
    """Sent when nothing went wrong, failed when nothing arrived, else partially failed."""
    delivered = counts.get(DeliveryStatus.DELIVERED, 0) + counts.get(DeliveryStatus.OPTED_OUT, 0)
    bad = sum(counts.get(s, 0) for s in _BAD)
    if bad == 0:
        return DispatchStatus.SENT
    return DispatchStatus.FAILED if delivered == 0 else DispatchStatus.PARTIALLY_FAILED


def dispatch_finish(
    dispatch: Dispatch,
    *,
    from_statuses: tuple[str, ...] = (DispatchStatus.RUNNING,),
    counts: dict[str, int] | None = None,
) -> str:
    """Close a dispatch whose requests are all settled and update its campaign (``counts``:
    its requests by status, when the caller holding it has just counted them).

    An occurrence that ends failed or partially failed (``unknown`` requests included) is
    recorded in the audit trail in the same transaction: authors and operators are told of
    it from there (README, "Notifications")."""
    counts = store_counts(dispatch.pk, counts)
    # Recipients the planner reached only after the expiry were counted, not planned
    # (campaigns/sending/plan.py, Planner): they did not arrive either.
    unplanned = (dispatch.skipped_reasons or {}).get(SkipReason.EXPIRED, 0)
    if unplanned:
        counts = {**counts, DeliveryStatus.EXPIRED: counts.get(DeliveryStatus.EXPIRED, 0) + unplanned}
    status = final_status(counts)
    with transaction.atomic():
        changed = dispatch_move(
            dispatch.pk, from_statuses, status, finished_at=timezone.now(), claimed_by="", heartbeat_at=None
        )
        if changed and not dispatch.is_preview and status != DispatchStatus.SENT:
            record_event(
                campaign=dispatch.campaign,
                object_type="dispatch",
                object_id=dispatch.pk,
                action="finish" if from_statuses == (DispatchStatus.RUNNING,) else "refinish",
                to_state=status,
                data={"due_at": dispatch.due_at, **{k: counts.get(k, 0) for k in _COUNTED}},
            )
    if changed and not dispatch.is_preview:
        campaign_settle(dispatch.campaign)
    return status


def campaign_move(campaign: Campaign, to: str, reason: str = "") -> None:
    """Move the campaign through the life cycle's one transition helper (never silently)."""
    campaign.refresh_from_db(fields=["status", "next_due_at"])
    if campaign.status == to:
        return
    campaign_transition(campaign=campaign, to=to, actor=None, reason=reason)


def _last_status(campaign: Campaign) -> str:
    """The campaign's final status from the final statuses of all its occurrences."""
    finals = Counter(
        Dispatch.objects.filter(campaign=campaign, is_preview=False).values_list("status", flat=True)
    )
    if finals.get(DispatchStatus.PARTIALLY_FAILED) or (
        finals.get(DispatchStatus.SENT)
        and (finals.get(DispatchStatus.FAILED) or finals.get(DispatchStatus.EXPIRED))
    ):
        return CampaignStatus.PARTIALLY_FAILED
    if finals.get(DispatchStatus.SENT):
        return CampaignStatus.SENT
    return CampaignStatus.FAILED


def campaign_settle(campaign: Campaign, *, ended: str = stored_text.OCCURRENCE_SENT) -> None:
    """After a dispatch ends or is held: back to approved if occurrences remain, else the final
    status. A held last occurrence keeps the campaign sending until a reviewer confirms or
    cancels it, or it expires (``campaigns.sending.reach``); ``ended`` says what happened (a
    sentence of ``campaigns.stored_text``: it is stored in the audit reason)."""
    campaign.refresh_from_db(fields=["status", "next_due_at"])
    if campaign.status != CampaignStatus.SENDING:
        return
    occurrences = Dispatch.objects.filter(campaign=campaign, is_preview=False)
    if occurrences.filter(status__in=[DispatchStatus.PENDING, DispatchStatus.RUNNING]).exists():
        return
    if native.native_settle(campaign):
        return  # registered with mPaaS's scheduler: approved until its schedule ends
    if campaign.next_due_at is not None:
        more = stored_text.english(stored_text.MORE_SCHEDULED, ended=ended)
        campaign_move(campaign, CampaignStatus.APPROVED, more)
        return
    if occurrences.filter(status=DispatchStatus.HELD).exists():
        return
    campaign_move(campaign, _last_status(campaign), stored_text.LAST_FINISHED)
