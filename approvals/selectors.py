"""Reads for reviews: who may approve what, the reviewer queue, previews, the audit trail."""

from __future__ import annotations

from django.db.models import QuerySet

from approvals.models import AuditEvent, DecisionKind, Review, ReviewStatus
from campaigns.models import Campaign, CampaignStatus, Dispatch, DispatchStatus

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
    """Return the campaigns in review that ``user`` may approve, oldest submission first."""
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE_PERM):
        return []
    candidates = (
        Campaign.objects.filter(status=CampaignStatus.IN_REVIEW)
        .exclude(created_by=user)
        .select_related("provider_account", "audience", "created_by")
        .order_by("updated_at")
    )
    awaiting = []
    for campaign in candidates:
        review = review_open(campaign=campaign)
        if review is not None and user_may_approve(user=user, campaign=campaign, review=review):
            campaign.open_review = review
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
