"""Reads for reviews: who may approve what, the reviewer queue, previews, the audit trail."""

from __future__ import annotations

import json
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from approvals.models import DecisionKind, Review, ReviewStatus
from audit.models import AuditEvent
from campaigns.models import Campaign, CampaignStatus, Dispatch, DispatchStatus, ScheduleKind
from campaigns.schedules.spec import ScheduleError, ScheduleSpec, next_occurrences
from campaigns.sending.recall import may_recall, recall_refusal
from campaigns.services import FINAL_STATES, PREVIEWABLE_STATES, TRANSITIONS
from campaigns.snapshot import campaign_snapshot, snapshot_provider
from providers.base import Provider

APPROVE_PERM = "campaigns.approve_campaign"
# Audit actions on a campaign that make their actor one of its authors.
AUTHORING_ACTIONS = {"create": "created", "edit": "edited", "submit": "submitted"}


def review_open(*, campaign: Campaign) -> Review | None:
    """Return the campaign's pending review, if any."""
    return campaign.reviews.filter(status=ReviewStatus.PENDING).select_related("submitted_by").first()


def review_latest(*, campaign: Campaign) -> Review | None:
    """Return the campaign's most recent review, whatever its status."""
    return campaign.reviews.order_by("-submitted_at", "-id").select_related("submitted_by").first()


def review_list(*, status: str | None = None) -> QuerySet[Review]:
    """Return reviews, newest first, optionally of one status, with their decisions."""
    reviews = Review.objects.select_related("campaign", "submitted_by").prefetch_related(
        "decisions__reviewer"
    )
    if status:
        reviews = reviews.filter(status=status)
    return reviews.order_by("-submitted_at", "-id")


def approval_blockers(*, campaign: Campaign, review: Review | None = None) -> dict[int, list[str]]:
    """Return the users who may not approve ``campaign`` (four-eyes rule), with why.

    They are its creator, and everyone who created, edited or submitted it since its last
    approval (read from the audit trail, which every edit through the services writes),
    plus the submitter of ``review``.
    """
    blockers: dict[int, list[str]] = {campaign.created_by_id: ["created"]}
    events = AuditEvent.objects.filter(campaign=campaign, object_type="campaign")
    last_approval = events.filter(action="approve").order_by("-id").values_list("id", flat=True).first()
    if last_approval is not None:
        events = events.filter(id__gt=last_approval)
    authored = events.filter(action__in=list(AUTHORING_ACTIONS), actor__isnull=False)
    for actor_id, action in authored.values_list("actor_id", "action"):
        roles = blockers.setdefault(actor_id, [])
        if AUTHORING_ACTIONS[action] not in roles:
            roles.append(AUTHORING_ACTIONS[action])
    if review is not None:
        roles = blockers.setdefault(review.submitted_by_id, [])
        if "submitted" not in roles:
            roles.append("submitted")
    return blockers


def approve_refusal(*, user, campaign: Campaign, review: Review | None = None) -> str | None:
    """Return why ``user`` may not approve ``campaign`` now, or None if they may."""
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE_PERM):
        return f"approving needs the permission {APPROVE_PERM}"
    if campaign.status != CampaignStatus.IN_REVIEW:
        return f"the campaign is {campaign.status}, not in review"
    review = review or review_open(campaign=campaign)
    if review is None:
        return "the campaign has no open review"
    roles = approval_blockers(campaign=campaign, review=review).get(user.pk)
    if roles:
        return (
            f"four-eyes rule: {user.get_username()!r} {' and '.join(roles)} this campaign; "
            "another reviewer must approve it"
        )
    if review.decisions.filter(reviewer=user).exists():
        return f"{user.get_username()!r} already decided on this review"
    return None


def user_may_approve(*, user, campaign: Campaign, review: Review | None = None) -> bool:
    """Return True if ``user`` may approve ``campaign`` now."""
    return approve_refusal(user=user, campaign=campaign, review=review) is None


def campaigns_awaiting_review(*, user) -> list[Campaign]:
    """Return the campaigns in review that ``user`` may approve, oldest submission first.

    Two queries whatever the number of campaigns (the dashboard and the campaign list
    call this on every page view): the four-eyes rule of :func:`approval_blockers` and
    the already-decided rule of :func:`approve_refusal` are expressed as subqueries.
    ``approve_refusal`` stays the authority when a reviewer actually approves.
    """
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE_PERM):
        return []
    open_review = Review.objects.filter(campaign=OuterRef("pk"), status=ReviewStatus.PENDING)
    last_approval = (
        AuditEvent.objects.filter(campaign=OuterRef("pk"), object_type="campaign", action="approve")
        .order_by("-id")
        .values("id")[:1]
    )
    authored_by_user = AuditEvent.objects.filter(
        campaign=OuterRef("pk"),
        object_type="campaign",
        action__in=list(AUTHORING_ACTIONS),
        actor=user,
        id__gt=OuterRef("last_approval_id"),
    )
    candidates = (
        Campaign.objects.filter(status=CampaignStatus.IN_REVIEW)
        .exclude(created_by=user)
        .annotate(last_approval_id=Coalesce(Subquery(last_approval), Value(0)))
        .filter(Exists(open_review))
        .exclude(Exists(open_review.filter(submitted_by=user)))
        .exclude(Exists(open_review.filter(decisions__reviewer=user)))
        .exclude(Exists(authored_by_user))
        .select_related("provider_account", "audience", "created_by")
        .prefetch_related(
            Prefetch(
                "reviews",
                queryset=Review.objects.filter(status=ReviewStatus.PENDING).select_related("submitted_by"),
                to_attr="pending_reviews",
            )
        )
        .order_by("updated_at")
    )
    awaiting = []
    for campaign in candidates:
        campaign.open_review = campaign.pending_reviews[0]
        awaiting.append(campaign)
    return awaiting


def review_approvals(*, review: Review) -> list:
    """Return the users who approved ``review``, in decision order."""
    return [
        d.reviewer
        for d in review.decisions.filter(decision=DecisionKind.APPROVE).select_related("reviewer")
    ]


def review_previews(*, review: Review) -> QuerySet[Dispatch]:
    """Return the previews of exactly the content ``review`` reviews, newest first."""
    return Dispatch.objects.filter(
        campaign_id=review.campaign_id, is_preview=True, content_hash=review.content_hash
    ).order_by("-due_at")


def review_has_successful_preview(*, review: Review) -> bool:
    """Return True if a preview of the reviewed content was sent without failures."""
    return review_previews(review=review).filter(status=DispatchStatus.SENT).exists()


def campaign_previews(*, campaign: Campaign) -> QuerySet[Dispatch]:
    """Return every preview of ``campaign``, newest first."""
    return Dispatch.objects.filter(campaign=campaign, is_preview=True).order_by("-due_at")


def campaign_audit_trail(*, campaign: Campaign) -> QuerySet[AuditEvent]:
    """Return the audit events of ``campaign`` in the order they happened."""
    return AuditEvent.objects.filter(campaign=campaign).select_related("actor").order_by("id")


def campaign_accepted_label(*, campaign: Campaign) -> str:
    """Return what an accepted request means at the campaign's provider (e.g. Binance:
    "accepted for Binance review", not delivered)."""
    return snapshot_provider(campaign).accepted_label


def dispatch_outcome(*, dispatch: Dispatch, accepted_label: str) -> str:
    """Return a preview's outcome in words, an accepted request named as the provider means it."""
    if dispatch.status == DispatchStatus.SENT:
        return f"{accepted_label} ({dispatch.delivered} of {dispatch.total_requests} requests)"
    if dispatch.status == DispatchStatus.PARTIALLY_FAILED:
        return f"partially failed: {dispatch.delivered} {accepted_label}, {dispatch.failed} failed"
    if dispatch.status in (DispatchStatus.FAILED, DispatchStatus.REFUSED, DispatchStatus.EXPIRED):
        detail = f": {dispatch.detail}" if dispatch.detail else ""
        return f"{dispatch.get_status_display().lower()}{detail}"
    return dispatch.get_status_display().lower()


def campaign_approval_summary(*, campaign: Campaign) -> dict | None:
    """Return the latest review's state: status, approvals required and given; None if
    the campaign was never submitted."""
    review = review_latest(campaign=campaign)
    if review is None:
        return None
    decisions = list(review.decisions.select_related("reviewer").order_by("created_at", "id"))
    return {
        "review": review.pk,
        "status": review.status,
        "content_hash": review.content_hash,
        "required": review.approvals_required,
        "approved_by": [d.reviewer.get_username() for d in decisions if d.decision == DecisionKind.APPROVE],
        "rejected_by": [d.reviewer.get_username() for d in decisions if d.decision == DecisionKind.REJECT],
        "submitted_by": review.submitted_by.get_username(),
        "submitted_at": review.submitted_at,
    }


def campaign_next_occurrences(*, campaign: Campaign, count: int = 5) -> list[datetime]:
    """Return the campaign's next due times in UTC (for schedule "now", its due time once
    approved); empty for a finished campaign or a schedule that cannot be evaluated."""
    if campaign.status in FINAL_STATES:
        return []
    if campaign.schedule_kind == ScheduleKind.NOW:
        return [campaign.next_due_at] if campaign.next_due_at else []
    try:
        return next_occurrences(ScheduleSpec.from_campaign(campaign), after=timezone.now(), count=count)
    except (ValidationError, ScheduleError):
        return []


def campaign_available_actions(*, user, campaign: Campaign) -> list[str]:
    """Return the transitions ``user`` may start on ``campaign`` now, for buttons.

    Among: ``submit``, ``withdraw``, ``preview``, ``cancel``, ``review`` (open the review
    page), ``approve``, ``reject``, ``recall`` (``campaigns.sending.recall``: only where the
    provider can still take back something sent). The services check again when a button
    is pressed.
    """
    status = campaign.status
    actions: list[str] = []
    if status == CampaignStatus.DRAFT and user.has_perm("campaigns.submit_campaign"):
        actions.append("submit")
    if status == CampaignStatus.IN_REVIEW:
        review = review_open(campaign=campaign)
        submitter = review is not None and review.submitted_by_id == user.pk
        if submitter or user.has_perm("campaigns.submit_campaign"):
            actions.append("withdraw")
    if (
        status in PREVIEWABLE_STATES
        and campaign.test_uids
        and (user.has_perm("campaigns.change_campaign") or user.has_perm(APPROVE_PERM))
    ):
        actions.append("preview")
    if (status, CampaignStatus.CANCELLED) in TRANSITIONS and user.has_perm("campaigns.cancel_campaign"):
        actions.append("cancel")
    if status == CampaignStatus.IN_REVIEW and user.has_perm(APPROVE_PERM):
        actions.append("review")
        review = review_open(campaign=campaign)
        if review is not None and not review.decisions.filter(reviewer=user).exists():
            if user_may_approve(user=user, campaign=campaign, review=review):
                actions.append("approve")
            actions.append("reject")
    if may_recall(user) and recall_refusal(campaign=campaign) is None:
        actions.append("recall")
    return actions


def review_page(*, campaign: Campaign, user) -> dict:
    """Return what a reviewer sees for ``campaign``: the reviewed snapshot (or, before a
    submission, the live one), the rendered messages, audience and size, schedule and
    next occurrences, provider request bodies, previews, decisions, and what ``user`` may do.
    """
    review = review_open(campaign=campaign) or review_latest(campaign=campaign)
    frozen = review is not None and (
        (review.status == ReviewStatus.PENDING and campaign.status == CampaignStatus.IN_REVIEW)
        or (review.status == ReviewStatus.APPROVED and campaign.status not in (CampaignStatus.DRAFT,))
    )
    snapshot: dict = {}
    errors: dict[str, list[str]] = {}
    if frozen:
        snapshot = review.snapshot
    else:
        try:
            snapshot = campaign_snapshot(campaign)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"campaign": exc.messages}
    label = campaign_accepted_label(campaign=campaign)
    reviewed_hash = review.content_hash if review is not None else ""
    previews = [
        {
            "dispatch": d,
            "outcome": dispatch_outcome(dispatch=d, accepted_label=label),
            "of_reviewed_content": bool(reviewed_hash) and d.content_hash == reviewed_hash,
        }
        for d in campaign_previews(campaign=campaign)[:20]
    ]
    pending = review is not None and review.status == ReviewStatus.PENDING
    decisions = list(review.decisions.select_related("reviewer")) if review is not None else []
    refusal = approve_refusal(user=user, campaign=campaign, review=review if pending else None)
    actions = campaign_available_actions(user=user, campaign=campaign)
    return {
        "review": review,
        "snapshot": snapshot,
        "snapshot_is_frozen": frozen,
        "snapshot_errors": errors,
        "rendered_messages": snapshot.get("messages", []),
        "requests_json": json.dumps(
            snapshot.get("requests", []), indent=2, ensure_ascii=False, sort_keys=True
        ),
        "audience_snapshot": snapshot.get("audience", {}),
        "schedule_snapshot": snapshot.get("schedule", {}),
        "next_occurrences": campaign_next_occurrences(campaign=campaign),
        "accepted_label": label,
        "provider_reviews": label != Provider.accepted_label,
        "previews": previews,
        "decisions": decisions,
        "approvals_given": sum(1 for d in decisions if d.decision == DecisionKind.APPROVE),
        "may_approve": "approve" in actions,
        "approve_refusal": refusal or "",
        "may_reject": "reject" in actions,
    }
