"""What the campaign core tells the layers above it, without importing them.

The campaign core (``campaigns.services``) knows that a campaign can be submitted and
approved, but not how reviews are kept: that is ``approvals``, which builds on campaigns.
So when the core changes something a review stands on, it sends one of these signals, and
``approvals`` connects its receivers in ``ApprovalsConfig.ready()``
(``approvals.receivers``). Both are sent with ``send()`` (not ``send_robust``) inside the
transaction of the change: a receiver that fails rolls the change back with it.

``approval_voided(sender=Campaign, campaign, actor, reason)``
    The campaign's approval (approved) or its submission (in review) no longer stands:
    it was edited while approved, or its content changed under the review. Sent before the
    campaign returns to draft. A receiver voids what it recorded and returns the snapshot
    that was reviewed (a dict), or None when it had none; :func:`reviewed_snapshot_voided`
    returns the first snapshot, which the core compares with the current content to name
    what changed in the audit trail.

``review_abandoned(sender=Campaign, campaign, actor, reason)``
    A campaign in review is being cancelled: its open review will never be decided.
    Receivers close it (the review is withdrawn).
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from campaigns.models import Campaign

approval_voided = Signal()
review_abandoned = Signal()


def reviewed_snapshot_voided(*, campaign: Campaign, actor=None, reason: str = "") -> dict[str, Any] | None:
    """Send :data:`approval_voided` and return the reviewed snapshot a receiver gave back."""
    responses = approval_voided.send(sender=Campaign, campaign=campaign, actor=actor, reason=reason)
    return next((snapshot for _receiver, snapshot in responses if snapshot is not None), None)


def review_abandon(*, campaign: Campaign, actor=None, reason: str = "") -> None:
    """Send :data:`review_abandoned` for ``campaign`` (in review, being cancelled)."""
    review_abandoned.send(sender=Campaign, campaign=campaign, actor=actor, reason=reason)
