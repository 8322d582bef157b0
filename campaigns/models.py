"""Recipients, audiences, campaigns and their schedules, dispatches and deliveries.

State columns change only through ``campaigns.services`` (compare-and-swap updates);
nothing here overrides ``save()`` for business rules.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate, TemplateVersion


class Recipient(models.Model):
    """An end user known to us, with per-provider addresses and opt-outs learned from providers."""

    external_id = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=35, default="en")
    tags = models.JSONField(default=list, blank=True)
    # kind -> address at that provider (Alipay+ accessToken, Jiguang userid, …).
    addresses = models.JSONField(default=dict, blank=True)
    # Provider kinds the user refused everything from, and template keys they refused.
    opted_out_providers = models.JSONField(default=list, blank=True)
    opted_out_templates = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.external_id


class RecipientTag(models.Model):
    """One tag of one recipient: a row per tag so tag audiences query by index."""

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "tag"], name="recipient_tag_unique")
        ]
        indexes = [models.Index(fields=["tag", "recipient"], name="recipient_tag_idx")]

    def __str__(self) -> str:
        return f"{self.recipient_id}:{self.tag}"


class AudienceKind(models.TextChoices):
    ALL = "all", "Everyone"
    USERS = "users", "List of user ids"
    TAGS = "tags", "Tags"
    SEGMENT = "segment", "Provider segment"


class Audience(models.Model):
    """Who a campaign goes to, less a suppression list."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=AudienceKind.choices)
    tags = models.JSONField(default=list, blank=True)
    segment = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AudienceMember(models.Model):
    """A user id listed in an audience, or suppressed from it (never sent to)."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="members")
    external_id = models.CharField(max_length=64)
    suppressed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "suppressed", "external_id"], name="audience_member_unique"
            )
        ]
        # The send engine pages through a list by id (keyset pagination).
        indexes = [models.Index(fields=["audience", "suppressed", "id"], name="audience_member_scan_idx")]

    def __str__(self) -> str:
        return f"{self.audience_id}:{'-' if self.suppressed else '+'}{self.external_id}"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    REJECTED = "rejected", "Rejected"
    APPROVED = "approved", "Approved"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ScheduleKind(models.TextChoices):
    NOW = "now", "As soon as approved"
    ONCE = "once", "Once, at a fixed time"
    RECURRING = "recurring", "Recurring"
    CRON = "cron", "Cron expression"


class CircleType(models.IntegerChoices):
    DAILY = 1, "Daily"
    WEEKLY = 2, "Weekly"
    MONTHLY = 3, "Monthly"


class Campaign(models.Model):
    """A template, bound to a provider account and an audience, on a schedule, under review."""

    name = models.CharField(max_length=200)
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="campaigns")
    template_version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="campaigns", null=True, blank=True
    )
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="campaigns"
    )
    audience = models.ForeignKey(Audience, on_delete=models.PROTECT, related_name="campaigns")
    language = models.CharField(max_length=35, default="en")
    parameters = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=2048, blank=True, help_text="Landing path or redirect URL.")
    provider_options = models.JSONField(default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    expired_seconds = models.PositiveIntegerField(
        default=86400,
        validators=[MinValueValidator(60), MaxValueValidator(864000)],
        help_text="An occurrence not sent within this many seconds of its due time expires.",
    )
    test_uids = models.JSONField(default=list, blank=True)

    # Schedule (follows mPaaS StrategyContent); evaluated in ``timezone``, stored in UTC.
    schedule_kind = models.CharField(
        max_length=16, choices=ScheduleKind.choices, default=ScheduleKind.NOW
    )
    fixed_time = models.DateTimeField(null=True, blank=True)
    circle_type = models.PositiveSmallIntegerField(choices=CircleType.choices, null=True, blank=True)
    circle_value = models.JSONField(default=list, blank=True)
    time = models.TimeField(null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")

    status = models.CharField(
        max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT, editable=False
    )
    # The approval snapshot: hash at submit, hash approved; a dispatch refuses a mismatch.
    submitted_hash = models.CharField(max_length=64, blank=True, editable=False)
    approved_hash = models.CharField(max_length=64, blank=True, editable=False)
    # Next occurrence not yet dispatched (UTC), for the dispatcher's partial index.
    next_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # mPaaS native scheduling (campaigns.native): the scheduled task ids mPaaS returned
    # (PushResult.Data), cancelled with CancelPushScheduler when the approval goes.
    native_task_ids = models.JSONField(default=list, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns_created"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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


class DispatchStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SENT = "sent", "Sent"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    REFUSED = "refused", "Refused (approval no longer matches)"
    CANCELLED = "cancelled", "Cancelled"


class Dispatch(models.Model):
    """One occurrence of a campaign; (campaign, due_at) is the idempotency key of a send."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="dispatches")
    due_at = models.DateTimeField()
    is_preview = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=DispatchStatus.choices, default=DispatchStatus.PENDING
    )
    content_hash = models.CharField(max_length=64, blank=True)
    # Which worker holds it and when it last showed life (the watchdog's input).
    claimed_by = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_requests = models.PositiveIntegerField(default=0)
    total_recipients = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    opted_out = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True)
    # Set in the same transaction that creates all its Delivery rows: planning is all or nothing.
    planned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "due_at", "is_preview"], name="dispatch_unique_occurrence"
            )
        ]
        indexes = [
            models.Index(
                fields=["heartbeat_at"],
                name="dispatch_running_idx",
                condition=Q(status="running"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}@{self.due_at:%Y-%m-%d %H:%M:%S}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    RETRY = "retry", "Waiting to retry"
    DELIVERED = "delivered", "Delivered (accepted by provider)"
    FAILED = "failed", "Failed"
    OPTED_OUT = "opted_out", "Opted out"
    UNKNOWN = "unknown", "Unknown (operator must decide)"
    EXPIRED = "expired", "Expired"
    CLOSED = "closed", "Closed by operator"


class Delivery(models.Model):
    """One provider request within a dispatch, with its idempotency key and outcome."""

    dispatch = models.ForeignKey(Dispatch, on_delete=models.CASCADE, related_name="deliveries")
    batch_no = models.PositiveIntegerField()
    # requestId (Alipay+), Msgkey (mPaaS), sendno (Jiguang); deterministic per batch.
    idempotency_key = models.CharField(max_length=64, unique=True)
    # External ids this request addresses (empty for a provider-side broadcast).
    targets = models.JSONField(default=list, blank=True)
    # [address, language] per target, resolved when the dispatch was planned, so sending
    # reads no recipient again. Empty where the address is a credential (an Alipay+ access
    # token stays in Recipient only, and a retry uses a refreshed one), for previews and for
    # deliveries planned before this field: those look their addresses up when sent.
    routes = models.JSONField(default=list, blank=True)
    target_count = models.PositiveIntegerField(default=0)
    # Provider-side selection instead of targets: {"tags": [...]} or {"segment": "..."}.
    selector = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_code = models.CharField(max_length=64, blank=True)
    provider_message = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    # When the sent message was recalled at the provider (campaigns.recall); null: not recalled.
    recalled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dispatch", "batch_no"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["dispatch", "batch_no"], name="delivery_unique_batch")
        ]
        indexes = [
            models.Index(fields=["dispatch", "status"], name="delivery_dispatch_status_idx"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key


class ReceiptStatus(models.TextChoices):
    """Per-user outcomes a provider reports after accepting a request (Jiguang callbacks)."""

    TARGET_VALID = "target_valid", "Target valid"
    TARGET_INVALID = "target_invalid", "Target invalid"
    SUBMITTED = "submitted", "Submitted to the channel"
    SUBMIT_FAILED = "submit_failed", "Submission failed"
    DELIVERED = "delivered", "Delivered"
    DELIVERY_FAILED = "delivery_failed", "Delivery failed"
    CLICKED = "clicked", "Clicked"
    RETRACTED = "retracted", "Retracted"
    RETRACT_FAILED = "retract_failed", "Retraction failed"


class DeliveryReceipt(models.Model):
    """One user's outcome of a delivery as the provider reported it (``campaigns.callbacks``).

    Unique on (delivery, user, status): a provider retrying a callback changes nothing.
    """

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="receipts")
    # Our external id when the provider's user id is one of the delivery's targets, else
    # the provider's id as sent ("" for custom channel registration ids, which carry none).
    user_id = models.CharField(max_length=128, blank=True)
    provider_user_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=20, choices=ReceiptStatus.choices)
    at = models.DateTimeField(help_text="When the provider says it happened.")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "user_id", "at"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "user_id", "status"], name="delivery_receipt_unique")
        ]
        indexes = [models.Index(fields=["delivery", "status"], name="delivery_receipt_status_idx")]

    def __str__(self) -> str:
        return f"{self.delivery_id}:{self.user_id or '-'} {self.status}"


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery: its outcome, the provider's code and message, timing."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16)
    provider_code = models.CharField(max_length=64, blank=True)
    provider_message = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number} {self.outcome}"


class SendSwitch(models.Model):
    """The emergency stop: a single row; while ``stopped`` no worker sends anything."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    stopped = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="send_switch_singleton")]

    def __str__(self) -> str:
        return "stopped" if self.stopped else "running"


class Lease(models.Model):
    """A named, expiring lease claimed with compare-and-swap (e.g. the one dispatcher ticker).

    Not a lock for correctness (claims of work are atomic on their own rows); it only keeps
    several clusters from running the same loop at once.
    """

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'}"
