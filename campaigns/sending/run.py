"""Run one dispatch: claim it, check on its first run that it may still go, plan its first
requests, and hand it to the send loop, which sends them while it plans the rest
(``campaigns.sending.plan.Planner``), for at most one task's budget.

A task works for at most ``CRIER_DISPATCH_TASK_BUDGET`` seconds (well under the queue's
``timeout``), then hands the dispatch back (``running -> pending``) and enqueues its own
continuation (docs/queue-and-http.md). An occurrence reached after ``expired_seconds`` is
recorded ``expired``, not sent late; one whose campaign changed since it was approved is
``refused`` and the approval voided; one that reaches more recipients than the campaign's
approved bound is ``held`` for a reviewer before anything is planned
(``campaigns.sending.reach``).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from campaigns import stored_text
from campaigns.models import CampaignStatus, Dispatch, DispatchStatus
from campaigns.provider_options import send_message
from campaigns.sending import shutdown
from campaigns.sending.claims import claim, release, worker_id
from campaigns.sending.finish import campaign_move, campaign_settle
from campaigns.sending.loop import Exit, SendLoop, chunk_size_for
from campaigns.sending.operations import sending_stopped
from campaigns.sending.plan import DispatchRefused, PlanConflict, Planner
from campaigns.sending.reach import hold_if_over
from campaigns.sending.transitions import dispatch_move
from campaigns.sending.wake import enqueue_dispatch
from campaigns.services import campaign_void_if_changed
from campaigns.snapshot import campaign_hash
from observability.metrics import occurrence_started

logger = logging.getLogger(__name__)

NOT_CLAIMED = "not-claimed"


def end_without_sending(dispatch: Dispatch, me: str, status: str, detail: str) -> str:
    """End a dispatch this worker holds with ``status`` (expired, refused, failed) before any request."""
    dispatch_move(
        dispatch.pk,
        DispatchStatus.RUNNING,
        status,
        where={"claimed_by": me},
        detail=detail[:2000],
        finished_at=timezone.now(),
        claimed_by="",
        heartbeat_at=None,
    )
    ids = {"dispatch_id": dispatch.pk, "campaign_id": dispatch.campaign_id}  # JSON logs' keys
    logger.info("dispatch %s %s: %s", dispatch.pk, status, detail, extra=ids)
    if not dispatch.is_preview:
        campaign_settle(dispatch.campaign)
    return status


def _occurrence_refusal(dispatch: Dispatch, me: str, now: datetime) -> str | None:
    """End an occurrence that is too late or no longer approved; None when it may go.

    Also binds the dispatch to the approved content hash and starts the campaign sending.
    """
    campaign = dispatch.campaign
    expires = dispatch.due_at + timedelta(seconds=campaign.expired_seconds)
    if now > expires:
        return end_without_sending(
            dispatch,
            me,
            DispatchStatus.EXPIRED,
            stored_text.english(
                stored_text.EXPIRED,
                at=f"{now:%Y-%m-%d %H:%M:%S}",
                late=int((now - dispatch.due_at).total_seconds()),
                limit=campaign.expired_seconds,
            ),
        )
    current = campaign_hash(campaign)
    if not campaign.approved_hash or current != campaign.approved_hash:
        refused = end_without_sending(
            dispatch,
            me,
            DispatchStatus.REFUSED,
            stored_text.REFUSED_CHANGED,
        )
        # Back to draft, with what changed in the audit trail: it needs a new review.
        campaign_void_if_changed(campaign=campaign)
        return refused
    Dispatch.objects.filter(pk=dispatch.pk).update(content_hash=current)
    if campaign.status == CampaignStatus.APPROVED:
        due = f"occurrence due {dispatch.due_at:%Y-%m-%d %H:%M:%S} UTC"
        campaign_move(campaign, CampaignStatus.SENDING, due)
    return None


def _first_run(dispatch: Dispatch, me: str, now: datetime) -> tuple[str | None, Planner | None]:
    """Check a dispatch nothing of which is planned yet and plan its first chunk of requests
    (the rest is planned while they are sent): (an exit, None) or (None, its planner)."""
    if not dispatch.is_preview:
        refused = _occurrence_refusal(dispatch, me, now)
        if refused is not None:
            return refused, None
        if hold_if_over(dispatch, me):
            return DispatchStatus.HELD, None
    account = dispatch.campaign.provider_account
    if not account.enabled:
        release(dispatch.pk, me, stored_text.english(stored_text.ACCOUNT_DISABLED, name=account.name))
        return Exit.STOPPED, None
    planner = Planner(dispatch, account.provider(with_credentials=True), me=me)
    try:
        # One chunk's worth: the first request leaves as soon as it is planned.
        planner.step(max_requests=chunk_size_for(account, planner.provider))
    except DispatchRefused as exc:
        return end_without_sending(dispatch, me, DispatchStatus.FAILED, str(exc)), None
    except PlanConflict:
        return Exit.LOST_CLAIM, None
    if not dispatch.is_preview:  # checked and its first chunk planned: it leaves now (docs/metrics.md)
        occurrence_started((timezone.now() - dispatch.due_at).total_seconds())
    return None, planner


def _claimed(dispatch_id: int, now: datetime) -> Dispatch:
    """Load a dispatch this worker has just claimed, with what sending reads; stamp its start."""
    dispatch = Dispatch.objects.select_related(
        "campaign__provider_account", "campaign__audience", "campaign__template", "campaign__template_version"
    ).get(pk=dispatch_id)
    if dispatch.started_at is None:
        Dispatch.objects.filter(pk=dispatch_id).update(started_at=now)
    return dispatch


def dispatch_run(dispatch_id: int, *, budget_seconds: float | None = None) -> str:
    """Claim a pending dispatch and send it, for at most ``budget_seconds``; return what happened.

    Returns one of ``not-claimed`` (someone else has it, or it is finished), ``stopped``
    (emergency stop: handed back), ``continue`` (budget used: handed back and re-enqueued),
    ``shutdown`` (this worker's cluster is stopping: handed back and re-enqueued for
    another), ``lost-claim``, or the dispatch's final status.
    """
    budget = settings.CRIER_DISPATCH_TASK_BUDGET if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    me = worker_id()
    if shutdown.shutting_down():
        # A task this stopping cluster had already taken from the broker (its in-memory
        # queue runs before the workers stop): wake a worker elsewhere instead of sending.
        enqueue_dispatch(dispatch_id)
        return Exit.SHUTDOWN
    if sending_stopped():
        return Exit.STOPPED
    now = timezone.now()
    if not claim(dispatch_id, me, now):
        return NOT_CLAIMED
    dispatch = _claimed(dispatch_id, now)
    if dispatch.planned_at is None and dispatch.total_requests == 0 and dispatch.plan_after == 0:
        ended, planner = _first_run(dispatch, me, now)
        if ended is not None:
            return ended
    else:  # planned, or partly: the loop plans the rest from the cursor
        provider = dispatch.campaign.provider_account.provider(with_credentials=True)
        planner = Planner(dispatch, provider, me=me)
    # What is sent: the campaign's message and the options Crier fills in at send time.
    message = send_message(dispatch.campaign, dispatch=dispatch)
    return SendLoop(dispatch, planner, message, me=me, deadline=deadline).run()
