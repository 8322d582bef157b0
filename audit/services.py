"""The audit trail: append-only, hash-chained records of every state change.

Each :class:`~audit.models.AuditEvent` stores ``prev_hash`` (the ``hash`` of the event
before it, or :data:`GENESIS` for the first) and ``hash`` = sha256 over the canonical JSON
of its own fields and ``prev_hash``. Changing, inserting or deleting a row in the middle
of the chain breaks a link that :func:`audit_verify` (``manage.py verify_audit``) reports.

Appends are serialised so the chain never forks: on PostgreSQL a transaction-scoped
advisory lock, on SQLite the write lock ``BEGIN IMMEDIATE`` takes (the project's SQLite
setting), elsewhere a row lock on the last event; the unique ``prev_hash`` constraint is
the backstop on every database (a concurrent second successor fails to insert).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.signals import event_recorded

GENESIS = "0" * 64
# Arbitrary constant naming "the audit chain" among PostgreSQL advisory locks.
_PG_LOCK_KEY = 0x43524945520001


def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    )


def _json_safe(value: Mapping[str, Any] | None) -> dict[str, Any]:
    # What is hashed must be exactly what the JSON column gives back when read.
    return json.loads(canonical_json(dict(value or {})))


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """Return the fields of ``event`` that its hash covers (everything but id and hash)."""
    return {
        "campaign_id": event.campaign_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor_id": event.actor_id,
        "reason": event.reason,
        "data": event.data,
        "created_at": _timestamp(event.created_at),
        "prev_hash": event.prev_hash,
    }


def event_hash(event: AuditEvent) -> str:
    """Return the sha256 (hex) of ``event``'s canonical fields, ``prev_hash`` included."""
    return hashlib.sha256(canonical_json(event_fields(event)).encode()).hexdigest()


def _lock_chain() -> None:
    vendor = connection.vendor
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
    elif vendor != "sqlite":
        list(AuditEvent.objects.select_for_update().order_by("-id").values_list("id", flat=True)[:1])


def record_event(
    *,
    object_type: str,
    object_id: str | int,
    action: str,
    campaign=None,
    from_state: str = "",
    to_state: str = "",
    actor=None,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail, chained to the last one, and return it.

    Call it inside the transaction that makes the change, so the change and its record
    commit (or roll back) together.
    """
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None  # AnonymousUser: recorded as the system
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            campaign=campaign,
            object_type=object_type,
            object_id=str(object_id),
            action=action,
            from_state=from_state or "",
            to_state=to_state or "",
            actor=actor,
            reason=reason or "",
            data=_json_safe(data),
            created_at=timezone.now(),
            prev_hash=last or GENESIS,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        event_recorded.send(sender=AuditEvent, event=event)
    return event


@dataclass(frozen=True)
class ChainCheck:
    """The result of checking the audit chain: ``broken_id`` is the first bad event."""

    checked: int
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _events(chunk_size: int = 2000) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)


def audit_verify() -> ChainCheck:
    """Walk the chain in id order and return where it first breaks, if anywhere.

    An event is broken when its ``prev_hash`` is not the previous event's ``hash``
    (something was inserted, removed or reordered before it) or when its ``hash`` does
    not match its fields (the row was changed).
    """
    expected_prev = GENESIS
    checked = 0
    for event in _events():
        if event.prev_hash != expected_prev:
            return ChainCheck(
                checked,
                event.pk,
                f"prev_hash {event.prev_hash[:12]}… does not match the previous event's hash "
                f"{expected_prev[:12]}… (an event before it was removed, inserted or changed)",
            )
        actual = event_hash(event)
        if actual != event.hash:
            return ChainCheck(
                checked,
                event.pk,
                f"stored hash {event.hash[:12]}… does not match its contents ({actual[:12]}…): "
                "the row was changed after it was written",
            )
        expected_prev = event.hash
        checked += 1
    return ChainCheck(checked)
