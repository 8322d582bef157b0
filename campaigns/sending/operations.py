"""What an operator does to sending: the emergency stop, and deciding an ``unknown`` request.

The emergency stop (:class:`~campaigns.models.SendSwitch`) is one row that every worker's
send loop reads at least every 250 ms while sending and that each request consults right
before it leaves (``campaigns.sending.stopflag``), so within 1 s of the stop answering no
request leaves but those already in flight (issue #15 point 6). A delivery is
``unknown`` when its worker died while it was in flight and the provider does not
deduplicate our key: only an operator may resend it (same key) or close it.
"""

from __future__ import annotations

import functools

from django.db import connection, transaction
from django.utils import timezone

from audit.services import record_event
from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus, SendSwitch
from campaigns.sending.finish import dispatch_finish
from campaigns.sending.transitions import FINAL_DISPATCH, delivery_move, dispatch_move
from campaigns.sending.wake import enqueue_dispatch

RESOLUTIONS = {"resend": DeliveryStatus.PENDING, "close": DeliveryStatus.CLOSED}


class DeliveryNotUnknown(Exception):
    conflict = True


def sending_stopped() -> bool:
    """Return True while the emergency stop is on.

    Every running send loop reads this every 125 ms (``stopflag.Refresher``), so it is one
    fixed statement: building the same ORM query each time was 1.7 % of a sending worker's
    GIL time, taken from its sending threads (BENCHMARKS.md, "Third session").
    """
    with connection.cursor() as cursor:
        cursor.execute(_stopped_sql(), [True])
        return cursor.fetchone() is not None


@functools.cache
def _stopped_sql() -> str:
    meta = SendSwitch._meta
    quote = connection.ops.quote_name
    stopped = quote(meta.get_field("stopped").column)
    return f"SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = 1 AND {stopped} = %s"


def sending_stop(*, actor=None, reason: str = "") -> None:
    """Halt all dispatching at once, across workers (checked before every request); audited."""
    with transaction.atomic():
        SendSwitch.objects.update_or_create(
            pk=1, defaults={"stopped": True, "reason": reason, "changed_by": actor}
        )
        record_event(object_type="send_switch", object_id=1, action="stop", to_state="stopped",
                     actor=actor, reason=reason)


def sending_resume(*, actor=None) -> int:
    """Lift the emergency stop and wake workers for every pending dispatch; return how many."""
    with transaction.atomic():
        SendSwitch.objects.update_or_create(
            pk=1, defaults={"stopped": False, "reason": "", "changed_by": actor}
        )
        record_event(object_type="send_switch", object_id=1, action="resume", to_state="running", actor=actor)
    ids = list(Dispatch.objects.filter(status=DispatchStatus.PENDING).values_list("pk", flat=True))
    with transaction.atomic():
        for dispatch_id in ids:
            enqueue_dispatch(dispatch_id)
    return len(ids)


def delivery_resolve(*, delivery: Delivery, action: str, actor=None) -> Delivery:
    """Resolve an ``unknown`` delivery: ``resend`` it with the same key, or ``close`` it."""
    if action not in RESOLUTIONS:
        raise ValueError(f"action {action!r} is not one of: resend, close")
    target = RESOLUTIONS[action]
    with transaction.atomic():
        changed = delivery_move(
            DeliveryStatus.UNKNOWN,
            target,
            where={"pk": delivery.pk},
            updated_at=timezone.now(),
            next_attempt_at=None,
        )
        if not changed:
            raise DeliveryNotUnknown(
                f"delivery {delivery.idempotency_key} is not unknown; nothing to resolve"
            )
        dispatch = delivery.dispatch
        record_event(
            campaign=dispatch.campaign,
            object_type="delivery",
            object_id=str(delivery.pk),
            action=f"delivery_{action}",
            from_state=DeliveryStatus.UNKNOWN,
            to_state=target,
            actor=actor,
        )
        if action == "resend":
            # Reopen a finished dispatch so a worker sends the request again.
            dispatch_move(dispatch.pk, FINAL_DISPATCH, DispatchStatus.PENDING, finished_at=None)
            enqueue_dispatch(dispatch.pk)
    if action == "close":
        # A finished dispatch gets its final status again; a live one finishes by itself.
        dispatch_finish(dispatch, from_statuses=FINAL_DISPATCH)
    delivery.refresh_from_db()
    return delivery
