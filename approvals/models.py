"""Reviews of campaigns and reviewers' decisions (the audit trail lives in the ``audit`` app)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from campaigns.models import Campaign


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    VOIDED = "voided", "Voided by an edit"


class Review(models.Model):
    """One submission of a campaign at a content hash, and how it was decided."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reviews")
    content_hash = models.CharField(max_length=64)
    # The snapshot the hash was computed over, as reviewers saw it.
    snapshot = models.JSONField(default=dict)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    # Recipients the campaign could reach through its provider when it was submitted (None:
    # only the provider knows, e.g. a broadcast); approved as a bound, not hashed.
    reach = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_submitted"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            # At most one open review per campaign.
            models.UniqueConstraint(
                fields=["campaign"],
                condition=models.Q(status="pending"),
                name="review_one_pending_per_campaign",
            )
        ]

    def __str__(self) -> str:
        return f"review of {self.campaign_id} ({self.status})"


class DecisionKind(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class ReviewDecision(models.Model):
    """One reviewer's decision on a review; a quorum of approvals approves the campaign."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_decisions"
    )
    decision = models.CharField(max_length=16, choices=DecisionKind.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["review", "reviewer"], name="decision_one_per_reviewer")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} {self.decision} {self.review_id}"
