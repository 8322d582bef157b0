"""Campaigns and their schedules; the models of the sub-domains are defined in
``campaigns.audiences.models`` and ``campaigns.sending.models`` and imported here, so
Django finds every model of the app in ``campaigns.models``.

State columns change only through the transition helpers (``campaigns.lifecycle`` for
campaigns, ``campaigns.sending.transitions`` for dispatches and deliveries: compare-and-swap);
nothing here overrides ``save()`` for business rules.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.audiences.models import (
    Audience,
    AudienceDigest,
    AudienceKind,
    AudienceMember,
    Recipient,
    RecipientTag,
)
from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate, TemplateVersion


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    REJECTED = "rejected", _("Rejected")
    APPROVED = "approved", _("Approved")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    PARTIALLY_FAILED = "partially_failed", _("Partially failed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ScheduleKind(models.TextChoices):
    NOW = "now", _("As soon as approved")
    ONCE = "once", _("Once, at a fixed time")
    RECURRING = "recurring", _("Recurring")
    CRON = "cron", _("Cron expression")


class CircleType(models.IntegerChoices):
    DAILY = 1, _("Daily")
    WEEKLY = 2, _("Weekly")
    MONTHLY = 3, _("Monthly")


class Campaign(models.Model):
    """A template, bound to a provider account and an audience, on a schedule, under review."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("template")
    )
    template_version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="campaigns", null=True, blank=True,
        verbose_name=_("template version"),
    )
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="campaigns",
        verbose_name=_("provider account"),
    )
    audience = models.ForeignKey(
        Audience, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("audience")
    )
    language = models.CharField(max_length=35, default="en", verbose_name=_("language"))
    parameters = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    path = models.CharField(
        max_length=2048, blank=True, help_text=_("Landing path or redirect URL."), verbose_name=_("path")
    )
    provider_options = models.JSONField(default=dict, blank=True, verbose_name=_("provider options"))
    priority = models.PositiveSmallIntegerField(
        verbose_name=_("priority"),
        default=2, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    expired_seconds = models.PositiveIntegerField(
        verbose_name=_("expired seconds"),
        default=86400,
        validators=[MinValueValidator(60), MaxValueValidator(864000)],
        help_text=_("An occurrence not sent within this many seconds of its due time expires."),
    )
    test_uids = models.JSONField(default=list, blank=True, verbose_name=_("test uids"))

    # Schedule (follows mPaaS StrategyContent); evaluated in ``timezone``, stored in UTC.
    schedule_kind = models.CharField(
        verbose_name=_("schedule kind"),
        max_length=16, choices=ScheduleKind.choices, default=ScheduleKind.NOW
    )
    fixed_time = models.DateTimeField(null=True, blank=True, verbose_name=_("fixed time"))
    circle_type = models.PositiveSmallIntegerField(
        choices=CircleType.choices, null=True, blank=True, verbose_name=_("circle type")
    )
    circle_value = models.JSONField(default=list, blank=True, verbose_name=_("circle value"))
    time = models.TimeField(null=True, blank=True, verbose_name=_("time"))
    start_date = models.DateField(null=True, blank=True, verbose_name=_("start date"))
    end_date = models.DateField(null=True, blank=True, verbose_name=_("end date"))
    cron = models.CharField(max_length=100, blank=True, verbose_name=_("cron"))
    timezone = models.CharField(max_length=64, default="UTC", verbose_name=_("timezone"))

    status = models.CharField(
        verbose_name=_("status"),
        max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT, editable=False
    )
    # The approval snapshot: hash at submit, hash approved; a dispatch refuses a mismatch.
    submitted_hash = models.CharField(max_length=64, blank=True, editable=False)
    approved_hash = models.CharField(max_length=64, blank=True, editable=False)
    # Next occurrence not yet dispatched (UTC), for the dispatcher's partial index.
    next_due_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("next due at"))
    # mPaaS native scheduling (campaigns.sending.native): the scheduled task ids mPaaS returned
    # (PushResult.Data), cancelled with CancelPushScheduler when the approval goes.
    native_task_ids = models.JSONField(default=list, blank=True, editable=False)
    # The reach a reviewer approved (recipients the campaign could reach through its provider
    # when it was submitted, or as last confirmed), and the most an occurrence may reach
    # without being held for a reviewer: approved reach x (1 + CRIER_REACH_TOLERANCE), or
    # less where a stricter approval rule starts. None: no bound (the provider alone knows
    # the reach of a broadcast). Set by approvals when a campaign is approved or a held
    # occurrence confirmed; the send engine only compares.
    approved_reach = models.PositiveIntegerField(
        null=True, blank=True, editable=False, verbose_name=_("approved reach")
    )
    reach_limit = models.PositiveIntegerField(
        null=True, blank=True, editable=False, verbose_name=_("reach limit")
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns_created",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        permissions = [
            ("approve_campaign", "Can approve or reject campaigns"),
            ("submit_campaign", "Can submit campaigns for review"),
            ("cancel_campaign", "Can cancel campaigns"),
            ("operate_dispatches", "Can stop, resume and resolve dispatches"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1) & Q(priority__lte=3), name="campaign_priority_1_3"
            ),
            models.CheckConstraint(
                condition=~Q(schedule_kind="once") | Q(fixed_time__isnull=False),
                name="campaign_once_has_fixed_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_due_at"],
                name="campaign_due_idx",
                condition=Q(next_due_at__isnull=False),
            ),
            models.Index(fields=["status"], name="campaign_status_idx"),
        ]

    def __str__(self) -> str:
        return self.name


# The send ledger refers to Campaign by name; importing it last keeps one import order.
from campaigns.sending.models import (  # noqa: E402
    Delivery,
    DeliveryAttempt,
    DeliveryReceipt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
    Lease,
    ReceiptStatus,
    SendSwitch,
)

__all__ = [
    "Audience", "AudienceDigest", "AudienceKind", "AudienceMember", "Campaign", "CampaignStatus",
    "CircleType",
    "Delivery", "DeliveryAttempt", "DeliveryReceipt", "DeliveryStatus", "Dispatch", "DispatchStatus",
    "Lease", "ReceiptStatus", "Recipient", "RecipientTag", "ScheduleKind", "SendSwitch",
]
