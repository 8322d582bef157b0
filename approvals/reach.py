"""The reach bound an approval grants: how many recipients an occurrence may reach unheld.

Approval binds the audience's definition and approves its reach (the recipients the
campaign can reach through its provider, counted at submission) as a bound, not a hash
(README, "What an approval binds"). :func:`reach_limit` turns an approved reach into
``Campaign.reach_limit``: ``floor(reach × (1 + CRIER_REACH_TOLERANCE))``, lowered to just
below the reach threshold of an approval rule that the approvers did not satisfy
(``approvals.rules.reach_ceiling``): an occurrence that grew into such a rule is held for
the reviewers it asks for. A reach only the provider knows (None) gives no bound.

It is computed here when a campaign is approved (``approvals.services``) and when a
reviewer confirms a held occurrence (``approvals.holds``); the send engine only counts
each occurrence (``campaigns.sending.reach``) and compares.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings

from approvals.models import DecisionKind, Review
from approvals.rules import reach_ceiling
from campaigns.models import Campaign


def tolerance() -> Decimal:
    """``CRIER_REACH_TOLERANCE`` as an exact decimal (0.10 → 10 % growth is sent as approved)."""
    return Decimal(str(settings.CRIER_REACH_TOLERANCE))


def reach_limit(campaign: Campaign, *, reach: int | None, approvers: Iterable) -> int | None:
    """Return the most recipients an occurrence of ``campaign`` may reach without being held,
    when ``approvers`` (users) approved a reach of ``reach``; None: no bound."""
    if reach is None:
        return None
    limit = math.floor(reach * (1 + tolerance()))
    ceiling = reach_ceiling(campaign, approvers=approvers)
    return limit if ceiling is None else min(limit, ceiling)


def review_approvers(review: Review | None) -> list:
    """Return the users who approved ``review``, in the order they did (none without one)."""
    if review is None:
        return []
    decisions = review.decisions.filter(decision=DecisionKind.APPROVE).select_related("reviewer")
    return [decision.reviewer for decision in decisions.order_by("created_at", "id")]


def approval_bound(campaign: Campaign, *, review: Review) -> dict[str, int | None]:
    """Return the campaign fields an approval of ``review`` sets: the reach counted at its
    submission as ``approved_reach``, and the ``reach_limit`` its approvers granted."""
    return {
        "approved_reach": review.reach,
        "reach_limit": reach_limit(campaign, reach=review.reach, approvers=review_approvers(review)),
    }
