"""The approval rules section of the review page
(``admin/campaigns/campaign/review.html``: ``{% crier_approval_rules review original %}``)."""

from __future__ import annotations

from typing import Any

from django import template

from approvals.models import Review, ReviewStatus
from approvals.rules import requirement_for, requirement_progress
from campaigns.audiences.services import audience_size
from campaigns.models import Campaign, CampaignStatus

register = template.Library()


@register.inclusion_tag("admin/campaigns/campaign/_approval_rules.html")
def crier_approval_rules(review: Review | None, campaign: Campaign) -> dict[str, Any]:
    """Return the rules that apply to ``campaign`` and what its approval still misses.

    For a campaign in review or approved, the requirement its review recorded at
    submission, and how far the approvals are from it; otherwise the requirement the rules
    would set if it were submitted now, at the reach counted now.
    """
    recorded = review is not None and (
        (review.status == ReviewStatus.PENDING and campaign.status == CampaignStatus.IN_REVIEW)
        or (review.status == ReviewStatus.APPROVED and campaign.status != CampaignStatus.DRAFT)
    )
    if recorded:
        progress = requirement_progress(review=review)
        requirement = progress.requirement
    else:
        progress = None
        reach = audience_size(campaign.audience, provider_kind=campaign.provider_account.kind)
        requirement = requirement_for(campaign, reach=reach)
    return {
        "requirement": requirement,
        "legacy": recorded and not review.requirement,
        "progress": progress,
        "pending": recorded and review.status == ReviewStatus.PENDING,
        "recorded": recorded,
        "baseline_setting": requirement.source_kind == "setting",
    }
