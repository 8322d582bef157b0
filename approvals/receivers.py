"""How reviews follow what happens to their campaign: receivers of ``campaigns.signals``.

The campaign core sends the signals (it does not know this app); ``ApprovalsConfig.ready()``
connects these receivers once, each with a ``dispatch_uid``.
"""

from __future__ import annotations

from typing import Any

from approvals.services import review_close_open, review_void_for_campaign
from campaigns.models import Campaign


def void_review(*, campaign: Campaign, actor=None, reason: str = "", **kwargs) -> dict[str, Any] | None:
    """``approval_voided``: void the review the campaign's status stands on; return the
    snapshot it reviewed (None if there was none)."""
    review = review_void_for_campaign(campaign=campaign, actor=actor, reason=reason)
    return review.snapshot if review is not None else None


def close_review(*, campaign: Campaign, actor=None, reason: str = "", **kwargs) -> None:
    """``review_abandoned``: withdraw the campaign's open review (it is being cancelled)."""
    review_close_open(campaign=campaign, actor=actor, reason=reason)
