"""Reviews of campaigns and reviewers' decisions (the audit trail lives in the ``audit`` app)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models import AudienceKind, Campaign, ScheduleKind
from providers.registry import kind_choices


class ReviewStatus(models.TextChoices):
    # "Pending" of a review reads 待审核 (awaiting review), not the ledger's 待处理.
    PENDING = "pending", pgettext_lazy("review status", "Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    VOIDED = "voided", _("Voided by an edit")


class Review(models.Model):
    """One submission of a campaign at a content hash, and how it was decided."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reviews")
    content_hash = models.CharField(max_length=64)
    # The snapshot the hash was computed over, as reviewers saw it.
    snapshot = models.JSONField(default=dict)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    # The requirement the approval rules set at submission (``approvals.rules.Requirement``
    # as data: the count and where it came from, the groups that must be represented, the
    # matching rules). Approval is judged against it, so editing a rule later does not
    # change a review already open.
    requirement = models.JSONField(default=dict, blank=True)
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
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
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
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


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
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["review", "reviewer"], name="decision_one_per_reviewer")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} {self.decision} {self.review_id}"


class ApprovalRule(models.Model):
    """A rule of how many distinct approvals a campaign needs, and from whom.

    A rule matches a campaign when every condition it sets holds (a blank condition always
    holds); of the enabled rules that match, the strictest applies
    (``approvals.rules.requirement_for``).
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("A disabled rule matches nothing.")
    )
    min_reach = models.PositiveIntegerField(
        _("reach at least"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Matches when the campaign can reach at least this many recipients through its "
            "provider (counted at submission and again at every occurrence). A reach only the "
            "provider knows (a broadcast, a provider segment) counts as reaching it. Empty: any reach."
        ),
    )
    audience_kind = models.CharField(
        _("audience kind"),
        max_length=16,
        choices=AudienceKind.choices,
        blank=True,
        help_text=_("Matches campaigns to this kind of audience. Empty: any audience."),
    )
    provider_kind = models.CharField(
        _("provider"),
        max_length=32,
        choices=kind_choices,
        blank=True,
        help_text=_("Matches campaigns sent through this provider. Empty: any provider."),
    )
    schedule_kind = models.CharField(
        _("schedule kind"),
        max_length=16,
        choices=ScheduleKind.choices,
        blank=True,
        help_text=_("Matches campaigns with this kind of schedule. Empty: any schedule."),
    )
    approvals_required = models.PositiveSmallIntegerField(
        _("approvals required"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("How many distinct reviewers must approve a matching campaign (at least 1)."),
    )
    required_group = models.ForeignKey(
        "auth.Group",
        verbose_name=_("required group"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval_rules",
        help_text=_(
            "If set, at least one of the approvals must come from a member of this group "
            "(for example Compliance). Its members still need the permission to approve."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("approval rule")
        verbose_name_plural = _("approval rules")
        permissions = [("manage_approval_rules", "Can manage approval rules")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approvals_required__gte=1), name="approval_rule_needs_an_approval"
            ),
            models.CheckConstraint(
                condition=models.Q(min_reach__isnull=True) | models.Q(min_reach__gte=1),
                name="approval_rule_min_reach_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name
