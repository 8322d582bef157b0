"""Delivering the outbox: claim a row, send it once, record the outcome; retry with backoff.

Exactly once per (event, kind, channel, recipient): the row exists once (its unique
``idempotency_key``), and a worker sends it only after winning a compare-and-swap that
moves it ``pending -> sending`` with a lease (``lease_until``). A worker that dies
holding the claim leaves the row ``sending`` until its lease ends; the sweep then hands it
to another worker. The one window left is a worker dying between the platform's answer
and the UPDATE that records it (milliseconds): that row is sent again after its lease —
no chat platform or SMTP server deduplicates, so this is at least once there, by design
(the alternative, never retrying, loses messages).

A failure the platform may get over (no answer, 5xx, 429, its own "too fast" codes) goes
back to ``pending`` with full-jitter exponential backoff (``CRIER_NOTIFY_RETRY_BASE_SECONDS``
× 2^attempt, capped by ``CRIER_NOTIFY_RETRY_MAX_SECONDS``) until
``CRIER_NOTIFY_MAX_ATTEMPTS``; then, or at once for a refusal (a wrong signature, an
unknown key), it is ``failed`` with the platform's words in ``last_error``, visible to
operators in the admin. Nothing here touches a campaign: a failing webhook cannot affect
a review or a send.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from campaigns.sending.claims import worker_id
from notifications.errors import DeliveryError
from notifications.models import Channel, Notification, NotificationStatus

logger = logging.getLogger("notifications.delivery")
S = NotificationStatus


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """Full jitter: uniform over [0, min(max, base × 2^(attempt-1))]."""
    ceiling = min(
        settings.CRIER_NOTIFY_RETRY_MAX_SECONDS,
        settings.CRIER_NOTIFY_RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1),
    )
    return (rng or random).uniform(0, ceiling)


def _due(now: datetime) -> Q:
    return Q(status=S.PENDING, next_attempt_at__lte=now) | Q(status=S.SENDING, lease_until__lt=now)


def claim(notification_id: int, me: str, now: datetime) -> bool:
    """Take a due notification (pending and due, or sending with an expired lease) for ``me``."""
    lease = now + timedelta(seconds=settings.CRIER_NOTIFY_LEASE_SECONDS)
    return bool(
        Notification.objects.filter(_due(now), pk=notification_id).update(
            status=S.SENDING, lease_until=lease, claimed_by=me, attempts=F("attempts") + 1
        )
    )


def _send(notification: Notification) -> None:
    if notification.channel == Channel.EMAIL:
        from notifications.email import send_email

        send_email(notification)
    else:
        from notifications.chat import send_chat

        send_chat(notification)


def deliver(notification_id: int) -> str:
    """Deliver one notification if it is due and nobody else holds it; return what happened."""
    me = worker_id()
    now = timezone.now()
    if not claim(notification_id, me, now):
        return "not due or taken"
    notification = Notification.objects.select_related("user", "webhook").get(pk=notification_id)
    mine = Notification.objects.filter(pk=notification_id, status=S.SENDING, claimed_by=me)
    try:
        _send(notification)
    except Exception as exc:  # a channel's failure must end as a recorded state, never a lost row
        error = exc if isinstance(exc, DeliveryError) else DeliveryError(f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, DeliveryError):
            logger.exception("notification %s: unexpected error", notification_id)
        attempts = notification.attempts
        if error.retryable and attempts < settings.CRIER_NOTIFY_MAX_ATTEMPTS:
            later = timezone.now() + timedelta(seconds=backoff_seconds(attempts))
            mine.update(status=S.PENDING, next_attempt_at=later, lease_until=None, last_error=str(error))
            logger.warning(
                "notification %s attempt %s failed, retrying: %s", notification_id, attempts, error
            )
            return "retry"
        mine.update(status=S.FAILED, lease_until=None, last_error=str(error))
        logger.error("notification %s failed after %s attempt(s): %s", notification_id, attempts, error)
        return "failed"
    mine.update(status=S.SENT, sent_at=timezone.now(), lease_until=None, last_error="")
    return "sent"


def due_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Notifications a worker should try now: pending and due, or claimed by a dead worker."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(_due(now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def enqueue(notification_ids: list[int]) -> None:
    """Wake a worker for each notification. A lost enqueue is harmless: the sweep finds the row."""
    from django_q.tasks import async_task

    for notification_id in notification_ids:
        try:
            async_task("notifications.tasks.deliver", notification_id, task_name=f"notify-{notification_id}")
        except Exception:  # the broker is down: the row stays pending for the sweep
            logger.exception("could not enqueue notification %s; the sweep will deliver it", notification_id)


def sweep() -> int:
    """Enqueue every due notification (its enqueue was lost, its worker died, or a retry is due)."""
    ids = due_ids()
    enqueue(ids)
    return len(ids)
