"""Reads for reviews: the review queue's rows, previews of the reviewed content, the review
page, and which buttons a user gets on a campaign. Who may approve is decided in
``approvals.rules``."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from approvals.models import DecisionKind, Review, ReviewStatus
from approvals.reach import reach_limit, review_approvers
from approvals.rules import APPROVE_PERM, approve_refusal, decision_refusal, review_open, user_may_approve
from campaigns.actions import campaign_actions
from campaigns.audiences.services import only_the_provider_knows
from campaigns.audiences.stream import iter_audience_targets
from campaigns.models import Campaign, CampaignStatus, Dispatch
from campaigns.schedules.describe import describe_duration, describe_schedule, local_and_utc
from campaigns.schedules.spec import ScheduleSpec
from campaigns.selectors import (
    campaign_accepted_label,
    campaign_next_occurrences,
    campaign_previews,
    dispatch_outcome,
)
from campaigns.sending.reach import campaign_reach
from campaigns.snapshot import campaign_snapshot
from providers.base import Provider


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


# The order of the buttons on a campaign's page.
ACTION_ORDER = ("submit", "withdraw", "preview", "cancel", "review", "approve", "reject", "recall")


def campaign_available_actions(*, user, campaign: Campaign) -> list[str]:
    """Return the transitions ``user`` may start on ``campaign`` now, for buttons.

    The campaign's own (``campaigns.actions``: ``preview``, ``cancel``, ``recall``) plus
    those of reviews: ``submit``, ``withdraw``, ``review`` (open the review page),
    ``approve`` (``approvals.rules``) and ``reject``; in :data:`ACTION_ORDER`. The services
    check again when a button is pressed.
    """
    status = campaign.status
    actions = campaign_actions(user=user, campaign=campaign)
    if status == CampaignStatus.DRAFT and user.has_perm("campaigns.submit_campaign"):
        actions.append("submit")
    review = review_open(campaign=campaign) if status == CampaignStatus.IN_REVIEW else None
    if status == CampaignStatus.IN_REVIEW:
        submitter = review is not None and review.submitted_by_id == user.pk
        if submitter or user.has_perm("campaigns.submit_campaign"):
            actions.append("withdraw")
    if status == CampaignStatus.IN_REVIEW and user.has_perm(APPROVE_PERM):
        actions.append("review")
        if review is not None and decision_refusal(user=user, review=review) is None:
            if user_may_approve(user=user, campaign=campaign, review=review):
                actions.append("approve")
            actions.append("reject")
    return sorted(actions, key=ACTION_ORDER.index)


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
    reach, limit = _reach_and_bound(campaign, review if frozen else None)
    moments = campaign_next_occurrences(campaign=campaign)
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
        "next_occurrences": moments,
        **_schedule_in_words(campaign, snapshot, moments),
        "expected_skips": expected_skips(campaign),
        "accepted_label": label,
        "provider_reviews": label != Provider.accepted_label,
        "previews": previews,
        "decisions": decisions,
        "approvals_given": sum(1 for d in decisions if d.decision == DecisionKind.APPROVE),
        "may_approve": "approve" in actions,
        "approve_refusal": str(refusal or ""),
        "may_reject": "reject" in actions,
        "reach": reach,
        "reach_limit": limit,
    }


def _schedule_in_words(campaign: Campaign, snapshot: dict, moments: list) -> dict:
    """The schedule, the expiry and the next occurrences as a reviewer reads them
    (``campaigns.schedules.describe``): of the snapshot reviewed when there is one."""
    schedule = snapshot.get("schedule") or {}
    try:
        spec = ScheduleSpec.from_dict(schedule) if schedule else ScheduleSpec.from_campaign(campaign)
    except ValidationError:
        spec = None
    zone = spec.timezone if spec is not None else campaign.timezone
    return {
        "schedule_text": describe_schedule(spec) if spec is not None else "",
        "expires_text": describe_duration(snapshot.get("expired_seconds", campaign.expired_seconds)),
        "occurrence_times": [local_and_utc(moment, zone) for moment in moments],
    }


# How many of an audience's recipients the review page reads to count the expected skips:
# enough for most audiences, bounded so a large one cannot slow the page (the page says
# when it counted only the first ones).
SKIP_SAMPLE = 10_000


def expected_skips(campaign: Campaign, *, limit: int = SKIP_SAMPLE) -> dict | None:
    """Return who the send would skip today and why, as the engine decides it
    (``campaigns.audiences.stream``): ``{"reasons": [(reason, count)], "read": n,
    "complete": bool}``; None for an audience only the provider resolves (a segment, a
    broadcast to everyone)."""
    account = campaign.provider_account if campaign.provider_account_id else None
    if account is None or not campaign.audience_id or campaign.template_id is None:
        return None
    if only_the_provider_knows(campaign.audience, account.kind):
        return None
    try:
        stream = iter_audience_targets(
            campaign.audience, provider_kind=account.kind, template_key=campaign.template.key
        )
    except ValidationError:
        return None
    # One aggregate over the first ``limit`` recipients, decided as the send decides them
    # (AudienceStream.sample_skips): streaming them was 70-85 % of this page (BENCHMARKS.md).
    skipped, read = stream.sample_skips(limit)
    complete = read < limit  # else maybe more: the page says it counted the first ones only
    reasons = sorted(skipped.items(), key=lambda item: (-item[1], item[0]))
    return {
        "reasons": [(str(reason), count) for reason, count in reasons], "read": read, "complete": complete,
    }


def _reach_and_bound(campaign: Campaign, review: Review | None) -> tuple[int | None, int | None]:
    """Return the reach the reviewer approves (counted at the submission under review, else
    now) and the most an occurrence may then reach before it is held (None: no bound)."""
    unreviewed = (CampaignStatus.DRAFT, CampaignStatus.IN_REVIEW, CampaignStatus.REJECTED)
    if campaign.status not in unreviewed and (
        campaign.approved_reach is not None or campaign.reach_limit is not None
    ):
        return campaign.approved_reach, campaign.reach_limit  # as approved, or as last confirmed
    reach = review.reach if review is not None else campaign_reach(campaign)
    return reach, reach_limit(campaign, reach=reach, approvers=review_approvers(review))
