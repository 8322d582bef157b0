"""Four-eyes review of campaigns: submit, withdraw, approve, reject, and voiding reviews.

A submission freezes the campaign's snapshot (``campaigns.snapshot``) and its hash on a
:class:`~approvals.models.Review`. Approving binds that hash to the campaign
(``approved_hash``): the send engine refuses any occurrence whose content hashes
differently. The four-eyes rule: the creator of a campaign, whoever submitted it and
whoever edited it since its last approval may never approve it, whatever the path (admin,
API, management command all call :func:`campaign_approve`). How many approve, and from
whom, is set by the approval rules at submission (``approvals.rules.requirement_for`` at
the reach counted then, recorded on the review): a campaign is approved when enough
distinct reviewers approved the same review AND each group a matching rule names is
represented among them (``approvals.rules.requirement_progress``); until then it stays in
review and the answer says what is missing.

Every review state change goes through :func:`review_transition` (table, compare-and-swap,
audit event); every campaign state change through ``campaigns.lifecycle.campaign_transition``.
When the campaign core voids an approval or cancels a campaign in review, it tells this app
through ``campaigns.signals`` (received in ``approvals.receivers``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.models import DecisionKind, Review, ReviewDecision, ReviewStatus
from approvals.reach import approval_bound
from approvals.rules import (
    APPROVE_PERM,
    Progress,
    ReviewConflict,
    approve_refusal,
    decision_refusal,
    preview_refusal,
    requirement_for,
    requirement_progress,
    review_open,
)
from audit.services import record_event
from campaigns.lifecycle import (
    CampaignTransitionError,
    campaign_transition,
    describe,
    refresh_stale,
    require_perm,
)
from campaigns.messages import build_message
from campaigns.models import Campaign, CampaignStatus
from campaigns.provider_options import OWNER_PLACEHOLDER, send_options
from campaigns.schedules.spec import ScheduleError
from campaigns.sending.reach import campaign_reach
from campaigns.sending.ticker import dispatch_due_now
from campaigns.services import campaign_check_sendable, campaign_first_due, campaign_void_if_changed
from campaigns.snapshot import campaign_snapshot, snapshot_hash
from campaigns.volume import Volume, VolumeWarning, campaign_volume
from providers.base import Message
from templates_registry.selectors import current_version

logger = logging.getLogger(__name__)

R = ReviewStatus
S = CampaignStatus

REVIEW_TRANSITIONS: dict[tuple[str, str], str] = {
    (R.PENDING, R.APPROVED): "approve",
    (R.PENDING, R.REJECTED): "reject",
    (R.PENDING, R.WITHDRAWN): "withdraw",
    (R.PENDING, R.VOIDED): "void",
    (R.APPROVED, R.VOIDED): "void",
}


class ApprovalVoided(CampaignTransitionError):
    """The campaign changed since it was submitted: its review was voided, not approved."""


class VolumeWarningsUnacknowledged(CampaignTransitionError):
    """The campaign's volume has warnings (``campaigns.volume``) the approver did not
    acknowledge: nothing was recorded (HTTP 409 with the ``warnings``)."""

    def __init__(self, message: str, *, warnings: tuple[VolumeWarning, ...]) -> None:
        super().__init__(message)
        self.warnings = warnings


def review_volume(*, campaign: Campaign, review: Review | None, now=None) -> Volume:
    """Return the volume a reviewer approves: the campaign's schedule from now on, times the
    reach counted at the submission under review (else counted now)."""
    now = now or timezone.now()
    if review is not None and review.status == R.PENDING:
        return campaign_volume(campaign=campaign, now=now, reach=review.reach, counted=True)
    return campaign_volume(campaign=campaign, now=now)


def _require_acknowledged(campaign: Campaign, review: Review, acknowledge: bool, now) -> list[dict]:
    """Return the volume warnings ``acknowledge`` acknowledges (as recorded in the audit
    trail); raise VolumeWarningsUnacknowledged when there are some and it is False."""
    try:
        warnings = review_volume(campaign=campaign, review=review, now=now).warnings
    except (ScheduleError, ValidationError):
        return []  # campaign_check_sendable already refused a schedule that cannot be read
    if warnings and not acknowledge:
        raise VolumeWarningsUnacknowledged(
            _("%(campaign)s was not approved: its volume has warnings the reviewer must "
              "acknowledge first (acknowledge_warnings): %(warnings)s")
            % {"campaign": describe(campaign), "warnings": " ".join(w.message for w in warnings)},
            warnings=warnings,
        )
    return [warning.as_data() for warning in warnings]


def review_transition(
    *, review: Review, to: str, actor=None, reason: str = "", data: dict | None = None
) -> Review:
    """Move ``review`` to ``to`` with a compare-and-swap, record it, and return it."""
    frm = review.status
    if (frm, to) not in REVIEW_TRANSITIONS:
        raise ReviewConflict(
            _("review %(review)s is %(from)s; it cannot become %(to)s")
            % {"review": review.pk, "from": frm, "to": to}
        )
    now = timezone.now()
    with transaction.atomic():
        changed = Review.objects.filter(pk=review.pk, status=frm).update(status=to, decided_at=now)
        if not changed:
            raise ReviewConflict(
                _("review %(review)s is no longer %(from)s; %(to)s refused")
                % {"review": review.pk, "from": frm, "to": to}
            )
        record_event(
            campaign=review.campaign,
            object_type="review",
            object_id=review.pk,
            action=REVIEW_TRANSITIONS[(frm, to)],
            from_state=frm,
            to_state=to,
            actor=actor,
            reason=reason,
            data=data,
        )
    review.status, review.decided_at = to, now
    return review


def review_void_for_campaign(*, campaign: Campaign, actor=None, reason: str = "") -> Review | None:
    """Void the review that stands for ``campaign``'s current status (pending in review,
    the approved one when approved) and return it; None if there is none."""
    wanted = R.PENDING if campaign.status == S.IN_REVIEW else R.APPROVED
    review = campaign.reviews.filter(status=wanted).order_by("-submitted_at", "-id").first()
    if review is None:
        return None
    return review_transition(review=review, to=R.VOIDED, actor=actor, reason=reason)


def review_close_open(*, campaign: Campaign, actor=None, reason: str = "") -> Review | None:
    """Withdraw ``campaign``'s pending review (the campaign leaves review); return it."""
    review = review_open(campaign=campaign)
    if review is None:
        return None
    return review_transition(review=review, to=R.WITHDRAWN, actor=actor, reason=reason)


def _locked(campaign: Campaign) -> Campaign:
    return (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("template", "template_version", "provider_account", "audience")
        .get(pk=campaign.pk)
    )


def _require_in_review(campaign: Campaign, doing: str) -> Review:
    if campaign.status != S.IN_REVIEW:
        # Whole sentences per action (translatable); status ids stay English (docs/i18n-glossary.md).
        refusals = {
            "withdrawn": _("%(campaign)s is %(status)s; only a campaign in review can be withdrawn"),
            "rejected": _("%(campaign)s is %(status)s; only a campaign in review can be rejected"),
        }
        raise CampaignTransitionError(
            refusals[doing] % {"campaign": describe(campaign), "status": campaign.status}
        )
    review = review_open(campaign=campaign)
    if review is None:  # pragma: no cover - submit always opens one
        raise CampaignTransitionError(
            _("%(campaign)s is in review but has no open review") % {"campaign": describe(campaign)}
        )
    return review


def _buildable_message(campaign: Campaign) -> Message | None:
    """Return the campaign's message, rendered once for the whole submission; None when it
    cannot be built (``_submission_snapshot`` then raises the field errors)."""
    try:
        return build_message(campaign)
    except ValidationError:
        return None


def _submission_snapshot(campaign: Campaign, message: Message | None) -> dict:
    """Return the snapshot a submission freezes from the message rendered once: the provider
    checks the message as built, the snapshot hashes it as sent (with what Crier fills in,
    ``campaigns.provider_options.send_options``). Raises ValidationError (field errors)."""
    if message is None:
        message = build_message(campaign)  # raises the reason it cannot be built
    sent = replace(message, options=send_options(campaign, owner=OWNER_PLACEHOLDER))
    snapshot = campaign_snapshot(campaign, message=sent)
    errors = campaign.provider_account.provider().validate(message)
    if errors:
        raise ValidationError({field: list(messages) for field, messages in errors.items()})
    return snapshot


def campaign_submit(*, campaign: Campaign, actor) -> Review:
    """Submit a draft for review: validate it, freeze its snapshot and hash, open a review.

    Raises ValidationError (field errors) when the campaign cannot be sent as it stands
    (schedule, pending limit, mPaaS audience rule, template, parameters, provider rules),
    CampaignTransitionError when it is not a draft, PermissionDenied without
    ``campaigns.submit_campaign``. Return the new review.
    """
    require_perm(actor, "campaigns.submit_campaign", "submit campaigns for review")
    with transaction.atomic():
        current = _locked(campaign)
        if current.status != S.DRAFT:
            hint = " (edit it first: editing a rejected campaign returns it to draft)" if (
                current.status == S.REJECTED
            ) else ""
            raise CampaignTransitionError(
                f"{describe(current)} is {current.status}; only a draft can be submitted{hint}"
            )
        fields = {}
        if current.template_version_id is None:
            current.template_version = fields["template_version"] = current_version(current.template)
        now = timezone.now()
        message = _buildable_message(current)
        campaign_check_sendable(campaign=current, now=now, message=message)
        snapshot = _submission_snapshot(current, message)
        content_hash = snapshot_hash(snapshot)
        # The reach a reviewer approves as a bound (README, "What an approval binds"),
        # counted as every occurrence counts it.
        reach = campaign_reach(current)
        requirement = requirement_for(current, reach=reach)
        review = Review.objects.create(
            campaign=current,
            content_hash=content_hash,
            snapshot=snapshot,
            approvals_required=requirement.approvals_required,
            requirement=requirement.as_data(),
            reach=reach,
            submitted_by=actor,
        )
        record_event(
            campaign=current,
            object_type="review",
            object_id=review.pk,
            action="open",
            to_state=review.status,
            actor=actor,
            data={
                "content_hash": content_hash,
                "approvals_required": requirement.approvals_required,
                "requirement": requirement.as_data(),
            },
        )
        campaign_transition(
            campaign=current,
            to=S.IN_REVIEW,
            actor=actor,
            action="submit",
            data={"review": review.pk, "content_hash": content_hash},
            fields={**fields, "submitted_hash": content_hash},
        )
    refresh_stale(campaign, current)
    return review


def campaign_withdraw(*, campaign: Campaign, actor, reason: str = "") -> Review:
    """Take a campaign out of review, back to draft; its review is withdrawn.

    Allowed to its submitter and to holders of ``campaigns.submit_campaign``.
    """
    with transaction.atomic():
        current = _locked(campaign)
        review = _require_in_review(current, "withdrawn")
        is_submitter = actor is not None and actor.pk == review.submitted_by_id
        if not is_submitter:
            require_perm(actor, "campaigns.submit_campaign", "withdraw campaigns from review")
        review_transition(review=review, to=R.WITHDRAWN, actor=actor, reason=reason)
        campaign_transition(
            campaign=current, to=S.DRAFT, actor=actor, reason=reason, action="withdraw",
            data={"review": review.pk},
        )
    refresh_stale(campaign, current)
    return review


def _decide(
    review: Review, actor, decision: str, comment: str, acknowledged: list[dict] | None = None
) -> Progress:
    """Record ``actor``'s decision and its audit event (naming the volume warnings it
    ``acknowledged``); return how far the review's approvals now are from its requirement."""
    refusal = decision_refusal(user=actor, review=review)
    if refusal is not None:
        raise refusal.error()
    made = ReviewDecision.objects.create(review=review, reviewer=actor, decision=decision, comment=comment)
    progress = requirement_progress(review=review)
    record_event(
        campaign=review.campaign,
        object_type="review_decision",
        object_id=made.pk,
        action=decision,
        to_state=decision,
        actor=actor,
        reason=comment,
        data={
            "review": review.pk,
            "approvals": len(progress.approvers),
            "required": review.approvals_required,
            "missing_approvals": progress.missing_approvals,
            "missing_groups": [group.name for group in progress.missing_groups],
            **({"acknowledged_warnings": acknowledged} if acknowledged else {}),
        },
    )
    return progress


def campaign_approve(
    *, campaign: Campaign, actor, comment: str = "", acknowledge_warnings: bool = False
) -> Review:
    """Record ``actor``'s approval of the campaign's open review; approve the campaign when
    the quorum is reached. Return the review (``status`` says whether it is approved).

    Refused with PermissionDenied without ``campaigns.approve_campaign`` or under the
    four-eyes rule; ReviewConflict when ``actor`` already decided; ValidationError when the
    schedule, the pending limit, the mPaaS rule or a required preview
    (``CRIER_REQUIRE_PREVIEW``) says no; ApprovalVoided when the content no longer hashes
    to what was submitted (the review is then voided and the campaign is back in draft);
    VolumeWarningsUnacknowledged when the volume has warnings (``campaigns.volume``) and
    ``acknowledge_warnings`` is False. The decision's audit event, and the campaign's
    approval event, name the warnings acknowledged. On approval the campaign records the
    reviewed hash and its first due time.
    """
    comment = (comment or "").strip()
    voided_reason = ""
    with transaction.atomic():
        current = _locked(campaign)
        refusal = approve_refusal(user=actor, campaign=current)
        if refusal is not None:
            raise refusal.error()
        review = review_open(campaign=current)
        if campaign_void_if_changed(campaign=current, actor=actor):
            voids = current.audit_events.filter(object_type="campaign", action="void").order_by("-id")
            voided_reason = voids.values_list("reason", flat=True).first()
        else:
            refusal = preview_refusal(review=review)
            if refusal is not None:
                raise refusal.error()
            now = timezone.now()
            campaign_check_sendable(campaign=current, now=now)
            first_due = campaign_first_due(campaign=current, now=now)
            acknowledged = _require_acknowledged(current, review, acknowledge_warnings, now)
            progress = _decide(review, actor, DecisionKind.APPROVE, comment, acknowledged)
            if progress.met:
                approvers = list(progress.approvers)
                data = {"review": review.pk, "content_hash": review.content_hash, "approvers": approvers}
                if acknowledged:
                    data["acknowledged_warnings"] = acknowledged
                review_transition(review=review, to=R.APPROVED, actor=actor, reason=comment, data=data)
                campaign_transition(
                    campaign=current,
                    to=S.APPROVED,
                    actor=actor,
                    reason=comment,
                    action="approve",
                    data={**data, "first_due_at": first_due.isoformat()},
                    fields={
                        "approved_hash": review.content_hash,
                        "next_due_at": first_due,
                        **approval_bound(current, review=review),
                    },
                )
                if first_due <= timezone.now():
                    # Due now: its dispatch is created and a worker woken as soon as this
                    # commits, not at the ticker's next pass (docs/architecture.md).
                    transaction.on_commit(partial(_dispatch_now, current.pk))
                elif first_due <= timezone.now() + timedelta(seconds=settings.CRIER_DISPATCH_TICK_SECONDS):
                    transaction.on_commit(_tick_now)
    refresh_stale(campaign, current)
    if voided_reason:
        raise ApprovalVoided(
            f"{describe(current)} was not approved: {voided_reason}; resubmit it for review"
        )
    review.refresh_from_db()
    return review


def _tick_now() -> None:
    from django_q.tasks import async_task

    async_task("campaigns.tasks.tick_once", task_name="tick-once")


def _dispatch_now(campaign_id: int) -> None:
    """Dispatch the approved occurrence due now; the approval has committed, so a failure here
    only leaves it to a tick (enqueued now, and the ticker loop's next pass)."""
    try:
        dispatch_due_now(campaign_id)
    except Exception:
        logger.exception("campaign %s: dispatching at approval failed; left to the ticker", campaign_id)
        _tick_now()


def campaign_reject(*, campaign: Campaign, actor, comment: str) -> Review:
    """Reject the campaign's open review with a comment (required) saying what to change.

    One rejection rejects the review; the author edits the campaign (back to draft) and
    submits again. Needs ``campaigns.approve_campaign``.
    """
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError(
            {"comment": [_("comment is empty; a rejection must tell the author what to change")]}
        )
    require_perm(actor, APPROVE_PERM, "reject campaigns")
    with transaction.atomic():
        current = _locked(campaign)
        review = _require_in_review(current, "rejected")
        _decide(review, actor, DecisionKind.REJECT, comment)
        review_transition(review=review, to=R.REJECTED, actor=actor, reason=comment)
        campaign_transition(
            campaign=current, to=S.REJECTED, actor=actor, reason=comment, action="reject",
            data={"review": review.pk},
        )
    refresh_stale(campaign, current)
    return review
