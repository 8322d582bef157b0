"""The transactional outbox: notification rows written with the change they report.

:func:`on_event_recorded` receives ``audit.signals.event_recorded``, sent by
``audit.services.record_event`` inside the transaction of the change. For each kind the
event raises (``notifications.events``) it writes one :class:`Notification` per user who is
told of it and wants it by e-mail (``notifications.recipients``, ``notifications.preferences``)
and one per enabled chat webhook that takes the event; after the commit a django-q2 task is
enqueued for each (``transaction.on_commit``). If the transaction rolls back, so do the rows;
if the process dies between the commit and the enqueue, the sweep (``notifications.tasks``)
finds them. Nothing here sends anything: a slow platform never slows the change.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from notifications import languages
from notifications.events import kinds_of
from notifications.messages import context_for
from notifications.models import Channel, ChatWebhook, Notification
from notifications.preferences import wants
from notifications.recipients import recipients_for


def _key(event: AuditEvent, kind: str, channel: str, recipient: str) -> str:
    return f"{event.pk}:{kind}:{channel}:{recipient}"


def rows_for(event: AuditEvent) -> list[Notification]:
    """Build (unsaved) the notifications ``event`` raises."""
    rows: list[Notification] = []
    now = timezone.now()
    for kind in kinds_of(event):
        context = context_for(kind, event)
        users = wants([u for u in recipients_for(kind, event.campaign) if u.email], kind, Channel.EMAIL)
        # Each row keeps its recipient's language of this moment: it is rendered in it when
        # it is sent, and so is every retry (notifications/languages.py).
        language_of = languages.for_users(users)
        for user in users:
            rows.append(
                Notification(
                    kind=kind,
                    channel=Channel.EMAIL,
                    user=user,
                    audit_event=event,
                    context=context,
                    language=language_of[user.pk],
                    idempotency_key=_key(event, kind, Channel.EMAIL, f"user-{user.pk}"),
                    next_attempt_at=now,
                )
            )
        for webhook in ChatWebhook.objects.filter(enabled=True).order_by("pk"):
            if webhook.wants(kind):
                rows.append(
                    Notification(
                        kind=kind,
                        channel=Channel.CHAT,
                        webhook=webhook,
                        audit_event=event,
                        context=context,
                        language=languages.for_webhook(webhook),
                        idempotency_key=_key(event, kind, Channel.CHAT, f"webhook-{webhook.pk}"),
                        next_attempt_at=now,
                    )
                )
    return rows


def on_event_recorded(sender, *, event: AuditEvent, **kwargs) -> None:
    """Write the event's notifications in the current transaction; enqueue them after commit."""
    if not kinds_of(event):
        return
    rows = rows_for(event)
    if not rows:
        return
    # ignore_conflicts: the same event never raises a row twice (the unique key).
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    keys = [row.idempotency_key for row in rows]
    ids = list(Notification.objects.filter(idempotency_key__in=keys).values_list("pk", flat=True))

    def wake() -> None:
        from notifications.delivery import enqueue

        enqueue(ids)

    transaction.on_commit(wake)
