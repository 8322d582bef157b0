"""The notification outbox, per-user preferences (events and language) and team chat webhooks.

A :class:`Notification` is one message to one recipient (a user's e-mail address or a
team's chat webhook) about one audit event. It is written in the transaction that records
the event (a transactional outbox: ``notifications.outbox``), so it exists exactly when the
change it reports committed; ``idempotency_key`` is unique per (audit event, kind, channel,
recipient), so it is written once, and a compare-and-swap claim (``pending`` -> ``sending``
with a lease, ``notifications.delivery``) lets exactly one worker send it at a time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from notifications.events import EventKind
from providers import crypto


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    CHAT = "chat", _("Team chat")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


def default_language() -> str:
    """A new chat webhook speaks the site's default language until an administrator picks one."""
    return settings.LANGUAGE_CODE


class UserPreference(models.Model):
    """A person's language, one row per user who saved one; no row means "follow the browser"
    on pages and ``LANGUAGE_CODE`` in notifications (``notifications.languages``).

    It lives here, not in ``config`` (which shows and saves it: ``config/preferences.py``),
    because notifications are rendered in it and may not import the layer above
    (docs/architecture.md, "Languages of pages and notifications").
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="crier_preference",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        # No model choices: adding a language to settings.LANGUAGES needs no migration. The
        # code is checked where it is set (config/preferences.py) and where it is read
        # (notifications/languages.py).
        help_text=_(
            "The language of Crier's pages and of your notifications. Empty: your browser's "
            "language on pages, the site's default in notifications."
        ),
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return str(self.user)


class ChatKind(models.TextChoices):
    DINGTALK = "dingtalk", _("DingTalk custom robot")
    FEISHU = "feishu", _("Feishu / Lark custom bot")
    WECOM = "wecom", _("WeCom group robot")
    SLACK = "slack", _("Slack-compatible incoming webhook")


class ChatWebhook(models.Model):
    """A team's chat group, reached through the platform's incoming webhook.

    The webhook URL (it carries the platform's key or token) and the signing secret are
    credentials: encrypted at rest with the provider credentials' keys (``providers.crypto``)
    and write-only in the admin.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    team = models.CharField(_("team"), max_length=100, blank=True)
    kind = models.CharField(_("platform"), max_length=16, choices=ChatKind.choices)
    events = models.JSONField(
        _("events"),
        default=list,
        blank=True,
        help_text=_("The events this group is told about; empty means every event."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    language = models.CharField(
        _("language"),
        max_length=16,
        default=default_language,
        # Choices from settings.LANGUAGES in the admin form (notifications/admin.py), not here,
        # so that adding a language needs no migration.
        help_text=_("The language of the messages this group receives."),
    )
    sandbox = models.BooleanField(
        _("sandbox"),
        default=False,
        help_text=_(
            "Deliver to a local emulator (127.0.0.1 or localhost) instead of the platform's "
            "official host. Off in production."
        ),
    )
    credentials_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("chat webhook")
        verbose_name_plural = _("chat webhooks")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def get_credentials(self) -> dict[str, str]:
        """Return ``{"url": …, "secret": …}`` decrypted (never log or render it)."""
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, values: dict[str, str]) -> None:
        """Encrypt and store ``values`` merged over what is stored (empty values keep the old)."""
        merged = self.get_credentials() if self.credentials_encrypted else {}
        merged.update({k: v for k, v in values.items() if v not in (None, "")})
        self.credentials_encrypted = crypto.encrypt_json(merged)

    def wants(self, kind: str) -> bool:
        return self.enabled and (not self.events or kind in self.events)


class NotificationPreference(models.Model):
    """A user's choice for one event on one channel; without a row the role's default holds
    (``notifications.preferences``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(_("event"), max_length=32, choices=EventKind.choices)
    channel = models.CharField(
        _("channel"), max_length=8, choices=[(Channel.EMAIL, Channel.EMAIL.label)], default=Channel.EMAIL
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "channel"], name="notification_preference_once"),
        ]

    def __str__(self) -> str:
        state = _("on") if self.enabled else _("off")
        return f"{self.user} · {self.get_kind_display()} · {self.channel}: {state}"


class Notification(models.Model):
    """One message to one recipient about one audit event (the outbox row)."""

    kind = models.CharField(_("event"), max_length=32, choices=EventKind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("user"),
    )
    webhook = models.ForeignKey(
        ChatWebhook, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("chat webhook"),
    )
    audit_event = models.ForeignKey(
        "audit.AuditEvent", on_delete=models.PROTECT, related_name="+", verbose_name=_("audit event")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    context = models.JSONField(_("context"), default=dict)
    # The recipient's language when the row was written (notifications.languages): the row is
    # rendered in it when it is sent, and every retry renders the same. Empty on rows written
    # before languages were kept: LANGUAGE_CODE.
    language = models.CharField(_("language"), max_length=16, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(channel="email", user__isnull=False, webhook__isnull=True)
                    | models.Q(channel="chat", user__isnull=True, webhook__isnull=False)
                ),
                name="notification_one_recipient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient_label()} ({self.status})"

    def recipient_label(self) -> str:
        if self.user_id:
            return self.user.get_username()
        return str(self.webhook)
