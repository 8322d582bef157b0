"""Which of the campaign's own buttons a user gets: preview, cancel, recall.

The buttons about reviews (submit, withdraw, approve, reject) are added by ``approvals``,
which builds on this list (``approvals.selectors.campaign_available_actions``). The
services check again when a button is pressed; this only decides what is shown.
"""

from __future__ import annotations

from campaigns.lifecycle import PREVIEWABLE_STATES, TRANSITIONS
from campaigns.models import Campaign, CampaignStatus
from campaigns.sending.recall import may_recall, recall_refusal


def campaign_actions(*, user, campaign: Campaign) -> list[str]:
    """Return the campaign's own transitions ``user`` may start now, in button order:
    ``preview``, ``cancel`` and ``recall`` (``campaigns.sending.recall``: only where the
    provider can still take back something sent)."""
    status = campaign.status
    actions: list[str] = []
    if (
        status in PREVIEWABLE_STATES
        and campaign.test_uids
        and (user.has_perm("campaigns.change_campaign") or user.has_perm("campaigns.approve_campaign"))
    ):
        actions.append("preview")
    if (status, CampaignStatus.CANCELLED) in TRANSITIONS and user.has_perm("campaigns.cancel_campaign"):
        actions.append("cancel")
    if may_recall(user) and recall_refusal(campaign=campaign) is None:
        actions.append("recall")
    return actions
