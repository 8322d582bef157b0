"""Who is told of each event: the README's "Notifications" table, as code.

* submitted for review: every user who may approve it (``approvals.rules``: holds the
  approve permission and is not blocked by the four-eyes rule, so never its author or
  submitter);
* approved, rejected: its author (creator) and the submitter of the review;
* approval voided: its author and the reviewers who had approved it;
* occurrence held for reach: every user who may confirm it (a reviewer, four eyes);
* dispatch failed / partially failed, deliveries unknown: its author and the operators;
* emergency stop, resume, provider check failing: the operators.

A user without an e-mail address cannot be e-mailed and is left out; per-user preferences
(``notifications.preferences``) decide afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q

from approvals.models import DecisionKind, Review
from approvals.rules import APPROVE_PERM, approval_blockers, review_open
from campaigns.models import Campaign
from notifications.events import EventKind

K = EventKind
OPERATE_PERM = "campaigns.operate_dispatches"


def holders_of(perm: str):
    """Active users who hold ``perm`` (through a group, directly, or as superusers)."""
    app_label, codename = perm.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    held = Q(is_superuser=True)
    if permission is not None:
        held |= Q(groups__permissions=permission) | Q(user_permissions=permission)
    return get_user_model().objects.filter(held, is_active=True).distinct().order_by("pk")


def reviewers_who_may_approve(campaign: Campaign) -> list:
    """The users who may approve ``campaign``'s open review now (approvals.rules: approve
    permission, not its creator, editor since approval or submitter)."""
    review = review_open(campaign=campaign)
    blocked = approval_blockers(campaign=campaign, review=review)
    return [user for user in holders_of(APPROVE_PERM) if user.pk not in blocked]


def reviewers_who_may_confirm(campaign: Campaign) -> list:
    """The users who may confirm a held occurrence (approvals.holds: a reviewer, four eyes)."""
    blocked = approval_blockers(campaign=campaign)
    return [user for user in holders_of(APPROVE_PERM) if user.pk not in blocked]


def authors(campaign: Campaign) -> list:
    """The campaign's creator and the submitter of its latest review."""
    found = [campaign.created_by] if campaign.created_by_id else []
    latest = Review.objects.filter(campaign=campaign).select_related("submitted_by").order_by("-id").first()
    if latest is not None and latest.submitted_by_id not in {u.pk for u in found}:
        found.append(latest.submitted_by)
    return found


def approvers_of_latest_review(campaign: Campaign) -> list:
    latest = Review.objects.filter(campaign=campaign).order_by("-id").first()
    if latest is None:
        return []
    decisions = latest.decisions.filter(decision=DecisionKind.APPROVE).select_related("reviewer")
    return [d.reviewer for d in decisions.order_by("id")]


def _unique(users: Iterable) -> list:
    seen, out = set(), []
    for user in users:
        if user is not None and user.pk not in seen and user.is_active:
            seen.add(user.pk)
            out.append(user)
    return out


def recipients_for(kind: str, campaign: Campaign | None) -> list:
    """Return the users told of ``kind`` about ``campaign`` (None for events without one)."""
    if kind == K.REVIEW_REQUESTED:
        users = reviewers_who_may_approve(campaign)
    elif kind in (K.APPROVED, K.REJECTED):
        users = authors(campaign)
    elif kind == K.VOIDED:
        users = [*authors(campaign), *approvers_of_latest_review(campaign)]
    elif kind == K.HELD:
        users = reviewers_who_may_confirm(campaign)
    elif kind in (K.DISPATCH_FAILED, K.DISPATCH_PARTIALLY_FAILED, K.DELIVERIES_UNKNOWN):
        users = [*(authors(campaign) if campaign else []), *holders_of(OPERATE_PERM)]
    else:  # stop, resume, provider check failing
        users = list(holders_of(OPERATE_PERM))
    return _unique(users)
