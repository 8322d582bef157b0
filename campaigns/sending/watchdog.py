"""The watchdog: resume dispatches whose worker stopped or whose task was lost.

A running dispatch without a heartbeat for ``CRIER_STALE_DISPATCH_SECONDS`` is handed
back; its in-flight requests are re-sent only where the provider deduplicates our key
(Alipay+ ``requestId``), and otherwise marked ``unknown`` for an operator: never a silent
second broadcast. Pending dispatches nobody touched for that long are enqueued again (a
duplicate task is harmless: the claim is atomic). Held occurrences past their expiry are
recorded ``expired`` (``campaigns.sending.reach``). With the Redis broker a task handed to a
dying consumer is lost (docs/queue-and-http.md).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns import stored_text
from campaigns.models import DeliveryStatus, Dispatch, DispatchStatus
from campaigns.sending.operations import sending_stopped
from campaigns.sending.reach import held_expire
from campaigns.sending.transitions import delivery_move, dispatch_move
from campaigns.sending.wake import enqueue_dispatch
from providers.registry import provider_class


def _settle_in_flight(dispatch_id: int, kind: str, now: datetime, report: Counter) -> None:
    """Resend (deduplicating provider) or mark unknown the requests a dead worker left in flight."""
    if provider_class(kind).limits.idempotent:
        report["resent"] += delivery_move(
            DeliveryStatus.IN_FLIGHT,
            DeliveryStatus.PENDING,
            where={"dispatch_id": dispatch_id},
            updated_at=now,
        )
        return
    report["unknown"] += delivery_move(
        DeliveryStatus.IN_FLIGHT,
        DeliveryStatus.UNKNOWN,
        where={"dispatch_id": dispatch_id},
        provider_code="WORKER_LOST",
        provider_message=stored_text.WORKER_LOST,
        updated_at=now,
    )


def _resume_stale(stale: datetime, now: datetime, report: Counter) -> None:
    """Take back running dispatches whose heartbeat is older than ``stale``."""
    for dispatch_id, kind, heartbeat in Dispatch.objects.filter(
        status=DispatchStatus.RUNNING, heartbeat_at__lt=stale
    ).values_list("pk", "campaign__provider_account__kind", "heartbeat_at"):
        with transaction.atomic():
            # The heartbeat read is part of the compare-and-swap: a worker that beat since
            # keeps its dispatch.
            taken = dispatch_move(
                dispatch_id,
                DispatchStatus.RUNNING,
                DispatchStatus.PENDING,
                where={"heartbeat_at": heartbeat},
                claimed_by="",
                heartbeat_at=None,
                detail=stored_text.RESUMED,
            )
            if not taken:
                continue
            _settle_in_flight(dispatch_id, kind, now, report)
            enqueue_dispatch(dispatch_id)
            report["resumed"] += 1


def _requeue_untouched(stale: datetime, now: datetime, report: Counter) -> None:
    """Enqueue again pending dispatches nobody touched since ``stale`` (their task was lost)."""
    for dispatch_id in Dispatch.objects.filter(
        status=DispatchStatus.PENDING, updated_at__lt=stale
    ).values_list("pk", flat=True):
        with transaction.atomic():
            # Touch it so the next watchdog pass waits another period before re-enqueueing.
            if dispatch_move(dispatch_id, DispatchStatus.PENDING, DispatchStatus.PENDING, updated_at=now):
                enqueue_dispatch(dispatch_id)
                report["requeued"] += 1


def dispatches_recover(*, now: datetime | None = None) -> dict[str, int]:
    """Resume dispatches whose worker stopped or whose task was lost; return what was done."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CRIER_STALE_DISPATCH_SECONDS)
    report: Counter = Counter()
    # Expiring a held occurrence sends nothing, so it goes on during an emergency stop too.
    expired = held_expire(now=now)
    if expired:
        report["held_expired"] = expired
    if sending_stopped():
        return dict(report)
    _resume_stale(stale, now, report)
    _requeue_untouched(stale, now, report)
    return dict(report)
