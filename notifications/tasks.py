"""django-q2 entry points of notifications; their dotted names are stored in queued tasks
and in the sweep's Schedule, so they stay put."""

from __future__ import annotations

from notifications.delivery import deliver as _deliver
from notifications.delivery import sweep as _sweep


def deliver(notification_id: int) -> str:
    """Deliver one notification (a no-op if it is not due or another worker has it)."""
    return _deliver(notification_id)


def sweep() -> int:
    """Enqueue every due notification: lost enqueues, dead workers' claims, due retries."""
    return _sweep()
