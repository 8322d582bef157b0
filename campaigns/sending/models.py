"""The send ledger: one ``Dispatch`` per occurrence, one ``Delivery`` per provider request,
their attempts and receipts, the emergency stop and the ticker's lease.

State columns change only through ``campaigns.sending`` (compare-and-swap updates).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DispatchStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    SENT = "sent", _("Sent")
    PARTIALLY_FAILED = "partially_failed", _("Partially failed")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    REFUSED = "refused", _("Refused (approval no longer matches)")
    HELD = "held", _("Held (reach above the approved bound)")
    CANCELLED = "cancelled", _("Cancelled")


class Dispatch(models.Model):
    """One occurrence of a campaign; (campaign, due_at) is the idempotency key of a send."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="dispatches", verbose_name=_("campaign")
    )
    due_at = models.DateTimeField(_("due at"))
    is_preview = models.BooleanField(_("preview"), default=False)
    status = models.CharField(
        _("status"),
        max_length=20, choices=DispatchStatus.choices, default=DispatchStatus.PENDING
    )
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    # Which worker holds it and when it last showed life (the watchdog's input).
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    total_requests = models.PositiveIntegerField(_("requests"), default=0)
    total_recipients = models.PositiveIntegerField(_("recipients"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    opted_out = models.PositiveIntegerField(_("opted out"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    unknown = models.PositiveIntegerField(_("unknown"), default=0)
    detail = models.TextField(_("detail"), blank=True)
    # Planning commits its Delivery rows in chunks, each sendable once committed; the
    # planning cursor moves in the same transaction as the rows (campaigns.sending.plan):
    # ``total_requests`` is the last batch_no planned, ``plan_after`` the audience's keyset
    # position after which planning resumes, ``skipped_reasons`` {reason: n} so far.
    # ``planned_at`` is set by the chunk that completes planning (docs/architecture.md).
    planned_at = models.DateTimeField(_("planned at"), null=True, blank=True)
    plan_after = models.BigIntegerField(_("planning cursor"), default=0)
    skipped_reasons = models.JSONField(_("skipped by reason"), default=dict, blank=True)
    # How many recipients this occurrence reaches, counted when it is planned (None: not
    # counted, or a broadcast only the provider can count).
    reach = models.PositiveIntegerField(_("reach"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("dispatch")
        verbose_name_plural = _("dispatches")
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
    PENDING = "pending", _("Pending")
    IN_FLIGHT = "in_flight", _("In flight")
    RETRY = "retry", _("Waiting to retry")
    DELIVERED = "delivered", _("Delivered (accepted by provider)")
    FAILED = "failed", _("Failed")
    OPTED_OUT = "opted_out", _("Opted out")
    UNKNOWN = "unknown", _("Unknown (operator must decide)")
    EXPIRED = "expired", _("Expired")
    CLOSED = "closed", _("Closed by operator")


class Delivery(models.Model):
    """One provider request within a dispatch, with its idempotency key and outcome."""

    dispatch = models.ForeignKey(
        Dispatch, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("dispatch")
    )
    batch_no = models.PositiveIntegerField(_("batch number"))
    # requestId (Alipay+), Msgkey (mPaaS), sendno (Jiguang); deterministic per batch.
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    # External ids this request addresses (empty for a provider-side broadcast).
    targets = models.JSONField(_("targets"), default=list, blank=True)
    # The address of each target, resolved when the dispatch was planned, so sending reads
    # no recipient again. Empty where the address is a credential (an Alipay+ access token
    # stays in Recipient only, and a retry uses a refreshed one), for previews and for
    # deliveries planned before this field: those look their addresses up when sent.
    # Deliveries planned before 2026-12-07 hold [address, language] pairs, read the same;
    # no provider sends a language per target, and building the pairs was a sixth of a
    # planning step (BENCHMARKS.md, "Fifth session").
    routes = models.JSONField(_("routes"), default=list, blank=True)
    target_count = models.PositiveIntegerField(_("target count"), default=0)
    # Provider-side selection instead of targets: {"tags": [...]} or {"segment": "..."}.
    selector = models.JSONField(_("selector"), default=dict, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    provider_code = models.CharField(_("provider code"), max_length=64, blank=True)
    provider_message = models.TextField(_("provider message"), blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True)
    # When the sent message was recalled at the provider (campaigns.sending.recall); null: not recalled.
    recalled_at = models.DateTimeField(_("recalled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["dispatch", "batch_no"]
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

    TARGET_VALID = "target_valid", _("Target valid")
    TARGET_INVALID = "target_invalid", _("Target invalid")
    SUBMITTED = "submitted", _("Submitted to the channel")
    SUBMIT_FAILED = "submit_failed", _("Submission failed")
    DELIVERED = "delivered", _("Delivered")
    DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
    CLICKED = "clicked", _("Clicked")
    RETRACTED = "retracted", _("Retracted")
    RETRACT_FAILED = "retract_failed", _("Retraction failed")


class DeliveryReceipt(models.Model):
    """One user's outcome of a delivery as the provider reported it (``campaigns.sending.callbacks``).

    Unique on (delivery, user, status): a provider retrying a callback changes nothing.
    """

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="receipts")
    # Our external id when the provider's user id is one of the delivery's targets, else
    # the provider's id as sent ("" for custom channel registration ids, which carry none).
    user_id = models.CharField(max_length=128, blank=True)
    provider_user_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=20, choices=ReceiptStatus.choices)
    at = models.DateTimeField(help_text=_("When the provider says it happened."))
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("delivery receipt")
        verbose_name_plural = _("delivery receipts")
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
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
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
        verbose_name = _("send switch")
        verbose_name_plural = _("send switches")
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

    class Meta:
        verbose_name = _("lease")
        verbose_name_plural = _("leases")

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'}"
