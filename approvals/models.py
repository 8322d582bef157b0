"""Reviews of campaigns and the append-only, hash-chained audit trail."""

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


class AuditEventImmutable(PermissionError):
    """An attempt to change or remove a recorded audit event."""


class AuditEventQuerySet(models.QuerySet):
    """Audit events are append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):  # type: ignore[override]
        raise AuditEventImmutable("audit events are append-only: update refused")

    def delete(self):  # type: ignore[override]
        raise AuditEventImmutable("audit events are append-only: delete refused")


class AuditEvent(models.Model):
    """An append-only record of a state change: who, when, from -> to, why; hash-chained."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="audit_events", null=True, blank=True
    )
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64)
    action = models.CharField(max_length=50)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="audit_events",
        null=True,
        blank=True,
    )
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        # The base manager is what Model.save() and deletion collectors use for
        # updates; making it the append-only one closes that side door too.
        base_manager_name = "objects"
        constraints = [
            # One successor per event: two concurrent appends can never fork the chain.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_event_linear_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id} {self.from_state}->{self.to_state}"

    # Integrity guards, not business rules: an event, once written, never changes.
    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditEventImmutable(f"audit event {self.pk} is append-only: save refused")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise AuditEventImmutable(f"audit event {self.pk} is append-only: delete refused")
