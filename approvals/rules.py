"""The one place that decides whether a user may approve a campaign (the four-eyes rule).

:func:`approve_refusal` returns why ``user`` may not approve ``campaign`` now, as a typed
:class:`Refusal`, or None when they may. Everyone asks it: ``approvals.services``
(``campaign_approve`` raises ``refusal.error()``), the review page and the campaign
buttons in the admin, the review API (``may_approve``/``may_not_approve_because``) and
the ``approve_campaign`` command (through the service). :func:`campaigns_awaiting_review`
is the same rule as a query, for the review queue and the dashboard, which must not cost a
query per campaign.

The rule, in the order it is checked:

1. the user holds ``campaigns.approve_campaign`` (:attr:`RefusalKind.NOT_A_REVIEWER`);
2. the campaign is in review (:attr:`RefusalKind.WRONG_STATE`) with an open review
   (:attr:`RefusalKind.NO_OPEN_REVIEW`);
3. four eyes: the user did not create it, nor edit or submit it since its last approval
   (read from the audit trail), nor submit the open review (:attr:`RefusalKind.OWN_CAMPAIGN`);
4. the user has not already decided on this review (:attr:`RefusalKind.ALREADY_DECIDED`).

:func:`preview_refusal` is the rule about the content rather than the reviewer: with
``CRIER_REQUIRE_PREVIEW`` a successful preview of exactly the reviewed content is needed
(:attr:`RefusalKind.PREVIEW_REQUIRED`). The service checks it after making sure the
content did not change since submission (a change voids the review instead).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Subquery, Value
from django.db.models.functions import Coalesce

from approvals.models import Review, ReviewStatus
from audit.models import AuditEvent
from campaigns.lifecycle import CampaignTransitionError, describe, permission_text
from campaigns.models import Campaign, CampaignStatus, Dispatch, DispatchStatus

APPROVE_PERM = "campaigns.approve_campaign"
# Audit actions on a campaign that make their actor one of its authors.
AUTHORING_ACTIONS = {"create": "created", "edit": "edited", "submit": "submitted"}


class ReviewConflict(Exception):
    """A review cannot take this decision or move (HTTP 409)."""

    conflict = True


class RefusalKind(enum.StrEnum):
    """Why a user may not approve a campaign now."""

    NOT_A_REVIEWER = "not_a_reviewer"
    WRONG_STATE = "wrong_state"
    NO_OPEN_REVIEW = "no_open_review"
    OWN_CAMPAIGN = "own_campaign"
    ALREADY_DECIDED = "already_decided"
    PREVIEW_REQUIRED = "preview_required"


@dataclass(frozen=True)
class Refusal:
    """A refusal to approve: its kind and the sentence shown to the user."""

    kind: RefusalKind
    message: str

    def __str__(self) -> str:
        return self.message

    def error(self) -> Exception:
        """Return the exception a service raises for this refusal (and so the HTTP status:
        403 for who the user is, 409 for the campaign's or review's state, 400 for content)."""
        if self.kind in (RefusalKind.NOT_A_REVIEWER, RefusalKind.OWN_CAMPAIGN):
            return PermissionDenied(self.message)
        if self.kind == RefusalKind.ALREADY_DECIDED:
            return ReviewConflict(self.message)
        if self.kind == RefusalKind.PREVIEW_REQUIRED:
            return ValidationError({"preview": [self.message]})
        return CampaignTransitionError(self.message)


def review_open(*, campaign: Campaign) -> Review | None:
    """Return the campaign's pending review, if any."""
    return campaign.reviews.filter(status=ReviewStatus.PENDING).select_related("submitted_by").first()


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


def decision_refusal(*, user, review: Review) -> Refusal | None:
    """Return a refusal if ``user`` already decided on ``review`` (each reviewer decides once)."""
    decided = review.decisions.filter(reviewer=user).values_list("decision", flat=True).first()
    if not decided:
        return None
    return Refusal(
        RefusalKind.ALREADY_DECIDED,
        f"{user.get_username()!r} already decided ({decided}) on review {review.pk} of campaign "
        f"{review.campaign_id}; each reviewer decides once",
    )


def approve_refusal(*, user, campaign: Campaign, review: Review | None = None) -> Refusal | None:
    """Return why ``user`` may not approve ``campaign`` now, or None if they may.

    ``review`` is the campaign's open review when the caller has it already (it is read
    otherwise).
    """
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE_PERM):
        return Refusal(RefusalKind.NOT_A_REVIEWER, permission_text(user, APPROVE_PERM, "approve campaigns"))
    if campaign.status != CampaignStatus.IN_REVIEW:
        return Refusal(
            RefusalKind.WRONG_STATE,
            f"{describe(campaign)} is {campaign.status}; only a campaign in review can be approved",
        )
    review = review or review_open(campaign=campaign)
    if review is None:
        return Refusal(
            RefusalKind.NO_OPEN_REVIEW, f"{describe(campaign)} is in review but has no open review"
        )
    roles = approval_blockers(campaign=campaign, review=review).get(user.pk)
    if roles:
        return Refusal(
            RefusalKind.OWN_CAMPAIGN,
            f"four-eyes rule: {user.get_username()!r} {' and '.join(roles)} {describe(campaign)} "
            "and may not approve it; another reviewer must",
        )
    return decision_refusal(user=user, review=review)


def user_may_approve(*, user, campaign: Campaign, review: Review | None = None) -> bool:
    """Return True if ``user`` may approve ``campaign`` now."""
    return approve_refusal(user=user, campaign=campaign, review=review) is None


def review_has_successful_preview(*, review: Review) -> bool:
    """Return True if a preview of the reviewed content was sent without failures."""
    return Dispatch.objects.filter(
        campaign_id=review.campaign_id,
        is_preview=True,
        content_hash=review.content_hash,
        status=DispatchStatus.SENT,
    ).exists()


def preview_refusal(*, review: Review) -> Refusal | None:
    """Return a refusal when a successful preview of the reviewed content is required
    (``CRIER_REQUIRE_PREVIEW``) and there is none."""
    if not settings.CRIER_REQUIRE_PREVIEW or review_has_successful_preview(review=review):
        return None
    return Refusal(
        RefusalKind.PREVIEW_REQUIRED,
        f"campaign {review.campaign_id} {review.campaign.name!r} needs a successful preview of the "
        "reviewed content before approval (CRIER_REQUIRE_PREVIEW is on); send one",
    )


def campaigns_awaiting_review(*, user) -> list[Campaign]:
    """Return the campaigns in review that ``user`` may approve, oldest submission first.

    Two queries whatever the number of campaigns (the dashboard and the campaign list
    call this on every page view): the four-eyes rule of :func:`approval_blockers` and
    the already-decided rule of :func:`decision_refusal` are expressed as subqueries.
    :func:`approve_refusal` stays the authority when a reviewer actually approves.
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
