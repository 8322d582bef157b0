"""The reach bound: every occurrence counts whom it can reach, and waits for a reviewer above
the bound.

An approval binds the audience's *definition* (``campaigns.snapshot``); the number of
recipients it reaches lives, and is approved as a bound instead (README, "What an approval
binds"). Approvals sets ``Campaign.reach_limit`` when it approves a campaign or confirms a
held occurrence; the engine only counts and compares:

* :func:`campaign_reach` counts, with the function the submission used
  (``campaigns.audiences.services.audience_size``): None where only the provider knows
  (a broadcast to everyone, a provider segment), and then there is no bound.
* :func:`hold_if_over` runs when an occurrence is planned: it stores ``Dispatch.reach``
  and, above ``reach_limit``, moves the dispatch ``running -> held`` before anything is
  planned or sent. Fewer recipients never hold; previews are never counted.
* :func:`held_expire` records ``expired`` a held occurrence nobody confirmed before its
  expiry (``due_at + expired_seconds``), from the watchdog's round.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.services import record_event
from campaigns import stored_text
from campaigns.audiences.services import audience_size
from campaigns.models import Campaign, Dispatch, DispatchStatus
from campaigns.sending.finish import campaign_settle
from campaigns.sending.transitions import dispatch_move


def campaign_reach(campaign: Campaign) -> int | None:
    """Return how many recipients ``campaign`` can reach through its provider now (None:
    only the provider knows). The submission and every occurrence count with this."""
    return audience_size(campaign.audience, provider_kind=campaign.provider_account.kind)


def reach_over_limit(campaign: Campaign, reach: int | None) -> bool:
    """Return True when ``reach`` is above the campaign's bound (never without a bound)."""
    return reach is not None and campaign.reach_limit is not None and reach > campaign.reach_limit


def held_detail(campaign: Campaign, reach: int) -> str:
    """The sentence a held dispatch carries: its reach, the bound and what happens next."""
    # Stored in English and shown in the reader's language (campaigns/stored_text.py).
    return stored_text.english(
        stored_text.HELD, reach=reach, limit=campaign.reach_limit, approved=campaign.approved_reach
    )


def hold_if_over(dispatch: Dispatch, me: str) -> bool:
    """Count the occurrence's reach and store it; hold the dispatch when it is above the
    bound. Return True when it was held (the caller then ends without planning)."""
    campaign = dispatch.campaign
    reach = campaign_reach(campaign)
    Dispatch.objects.filter(pk=dispatch.pk).update(reach=reach)
    dispatch.reach = reach
    if not reach_over_limit(campaign, reach):
        return False
    detail = held_detail(campaign, reach)
    with transaction.atomic():
        moved = dispatch_move(
            dispatch.pk,
            DispatchStatus.RUNNING,
            DispatchStatus.HELD,
            where={"claimed_by": me},
            detail=detail,
            claimed_by="",
            heartbeat_at=None,
        )
        if moved:
            record_event(
                campaign=campaign,
                object_type="dispatch",
                object_id=dispatch.pk,
                action="hold",
                from_state=DispatchStatus.RUNNING,
                to_state=DispatchStatus.HELD,
                reason=detail,
                data={
                    "due_at": dispatch.due_at,
                    "reach": reach,
                    "approved_reach": campaign.approved_reach,
                    "reach_limit": campaign.reach_limit,
                },
            )
    if moved:
        campaign_settle(campaign, ended=stored_text.OCCURRENCE_HELD)
    return True


def held_expiry(dispatch: Dispatch) -> datetime:
    """When a held occurrence expires: its due time plus the campaign's ``expired_seconds``."""
    return dispatch.due_at + timedelta(seconds=dispatch.campaign.expired_seconds)


def held_expire_one(dispatch: Dispatch, *, now: datetime) -> bool:
    """Record a held dispatch past its expiry ``expired`` (compare-and-swap on ``held``),
    audited; settle its campaign. Return False when it was no longer held."""
    expiry = held_expiry(dispatch)
    detail = stored_text.english(
        stored_text.HELD_EXPIRED,
        expiry=f"{expiry:%Y-%m-%d %H:%M:%S}",
        due=f"{dispatch.due_at:%Y-%m-%d %H:%M:%S}",
        seconds=dispatch.campaign.expired_seconds,
    )
    with transaction.atomic():
        moved = dispatch_move(
            dispatch.pk, DispatchStatus.HELD, DispatchStatus.EXPIRED, detail=detail, finished_at=now
        )
        if moved:
            record_event(
                campaign=dispatch.campaign,
                object_type="dispatch",
                object_id=dispatch.pk,
                action="expire",
                from_state=DispatchStatus.HELD,
                to_state=DispatchStatus.EXPIRED,
                reason=detail,
                data={"due_at": dispatch.due_at, "reach": dispatch.reach, "expired_at": expiry},
            )
    if moved:
        campaign_settle(dispatch.campaign, ended=stored_text.HELD_EXPIRED_ENDED)
    return bool(moved)


def held_expire(*, now: datetime | None = None) -> int:
    """Record ``expired`` every held occurrence past its expiry; return how many."""
    now = now or timezone.now()
    held = Dispatch.objects.filter(status=DispatchStatus.HELD, due_at__lt=now).select_related("campaign")
    return sum(held_expire_one(dispatch, now=now) for dispatch in held if held_expiry(dispatch) < now)
