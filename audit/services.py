"""The audit trail: append-only, keyed hash-chained records of every state change, and signed
checkpoints of the chain's head.

Each :class:`~audit.models.AuditEvent` stores ``prev_hash`` (the ``hash`` of the event
before it, or :data:`GENESIS` for the first), ``key_id`` (the audit key that signed it) and
``hash``, an HMAC-SHA256 under that key over its fields and ``prev_hash``
(``audit/chain.py``; the keys live outside the database, ``audit/keys.py``). Changing,
inserting or deleting a row in the middle of the chain breaks a link, and recomputing the
links after an edit needs the key.

Deleting the *newest* events leaves a shorter chain whose links are all valid. That is what
checkpoints are for: :func:`checkpoint_write` signs (event count, head id, head hash,
legacy count, time) and writes it to the ``AuditCheckpoint`` table, to the log (logger
``crier.audit``) and, when ``CRIER_AUDIT_CHECKPOINT_FILE`` is set, to an append-only file.
A django-q2 schedule (migration ``audit.0003``) writes one every few minutes when the chain
has moved; ``manage.py audit_checkpoint`` writes one on demand. :func:`audit_verify`
(``manage.py verify_audit``) checks the chain and every checkpoint.

Appends and checkpoints are serialised so the chain never forks and a checkpoint's count
and head belong together: on PostgreSQL a transaction-scoped advisory lock, on SQLite the
write lock ``BEGIN IMMEDIATE`` takes (the project's SQLite setting), elsewhere a row lock on
the last event; the unique ``prev_hash`` constraint is the backstop on every database (a
concurrent second successor fails to insert).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import (
    GENESIS,
    canonical_json,
    checkpoint_mac,
    checkpoint_record,
    event_fields,
    event_hash,
    json_safe,
)
from audit.keys import signing_key
from audit.models import AuditCheckpoint, AuditEvent
from audit.signals import event_recorded
from audit.verification import AuditCheck, ChainCheck, audit_verify

__all__ = [
    "GENESIS",
    "AuditCheck",
    "ChainCheck",
    "audit_verify",
    "canonical_json",
    "checkpoint_write",
    "event_fields",
    "event_hash",
    "record_event",
]

logger = logging.getLogger("crier.audit")

# Arbitrary constant naming "the audit chain" among PostgreSQL advisory locks.
_PG_LOCK_KEY = 0x43524945520001


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
    """Append one event to the audit trail, chained to the last one and signed with the
    newest audit key, and return it.

    Call it inside the transaction that makes the change, so the change and its record
    commit (or roll back) together.
    """
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None  # AnonymousUser: recorded as the system
    key = signing_key()
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
            data=json_safe(data),
            created_at=timezone.now(),
            prev_hash=last or GENESIS,
            key_id=key.key_id,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        event_recorded.send(sender=AuditEvent, event=event)
    return event


def checkpoint_sign(checkpoint: AuditCheckpoint) -> None:
    """Sign ``checkpoint`` with the newest audit key (sets ``key_id`` and ``mac``)."""
    checkpoint.key_id = signing_key().key_id
    checkpoint.mac = checkpoint_mac(checkpoint)


def checkpoint_publish(checkpoint: AuditCheckpoint) -> None:
    """Copy a signed checkpoint outside the database: a log line, and the checkpoint file if set.

    The file is opened for appending and flushed to disk before the checkpoint's transaction
    commits; if it cannot be written, the error propagates and the checkpoint is not kept.
    """
    line = canonical_json(checkpoint_record(checkpoint))
    logger.info("audit checkpoint %s", line)
    path = getattr(settings, "CRIER_AUDIT_CHECKPOINT_FILE", "")
    if path:
        with open(path, "a", encoding="utf-8") as copy:
            copy.write(line + "\n")
            copy.flush()
            os.fsync(copy.fileno())


def checkpoint_write(*, only_if_moved: bool = False) -> AuditCheckpoint | None:
    """Sign the chain's current head, store it, log it and copy it to the checkpoint file.

    With ``only_if_moved`` (the periodic schedule), write nothing and return None when the
    newest checkpoint already names the current head, or when the chain is still empty.
    Holds the chain's lock, so no event is appended between counting and reading the head,
    and two clusters running the schedule at once write one checkpoint, not two. Call it in
    a transaction of its own (the command and the task do): the copies outside the database
    are written before it commits, so they must not name events that could still roll back.
    """
    with transaction.atomic():
        _lock_chain()
        head = AuditEvent.objects.order_by("-id").values("id", "hash").first()
        if only_if_moved:
            newest = AuditCheckpoint.objects.order_by("-id").values_list("head_id", "head_hash").first()
            if head is None or newest == (head["id"], head["hash"]):
                return None
        checkpoint = AuditCheckpoint(
            created_at=timezone.now(),
            event_count=AuditEvent.objects.count(),
            legacy_count=AuditEvent.objects.filter(key_id="").count(),
            head_id=head["id"] if head else None,
            head_hash=head["hash"] if head else "",
        )
        checkpoint_sign(checkpoint)
        checkpoint.save(force_insert=True)
        checkpoint_publish(checkpoint)
    return checkpoint
