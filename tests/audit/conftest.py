"""Helpers for the audit tests: configured keys, and the raw SQL an attacker with database
access (but not the audit key) would run."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from django.db import connection

from audit.chain import canonical_json, event_fields, event_hash
from audit.keys import AuditKey
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import record_event

KEY_A = "a:" + "A" * 40
KEY_B = "b:" + "B" * 40
EVENTS = AuditEvent._meta.db_table
CHECKPOINTS = AuditCheckpoint._meta.db_table


@pytest.fixture
def key_a(settings):
    """Sign with key ``a`` only."""
    settings.CRIER_AUDIT_KEY = [KEY_A]
    return settings


def append(n: int, start: int = 0, **fields) -> list[AuditEvent]:
    return [
        record_event(object_type="test", object_id=i, action="poke", reason=f"event {i}", **fields)
        for i in range(start, start + n)
    ]


def sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def delete_events(*ids: int) -> None:
    for pk in ids:
        sql(f"DELETE FROM {EVENTS} WHERE id = %s", [pk])


def plain_sha256(event: AuditEvent) -> tuple[str, str]:
    """Sign as the chain was signed before it was keyed: no key, plain SHA-256."""
    return "", hashlib.sha256(canonical_json(event_fields(event)).encode()).hexdigest()


def under(key: AuditKey) -> Callable[[AuditEvent], tuple[str, str]]:
    """Sign with ``key``: a wrong key when it is not the configured one with that id."""

    def sign(event: AuditEvent) -> tuple[str, str]:
        payload = canonical_json({**event_fields(event), "key_id": key.key_id})
        return key.key_id, key.mac(b"crier-audit-event-v1", payload)

    return sign


def rewrite_from(
    first_id: int,
    sign: Callable[[AuditEvent], tuple[str, str]],
    change: Callable[[AuditEvent], None] = lambda event: None,
) -> None:
    """Change the event ``first_id`` and recompute every link from it on with ``sign``."""
    before = AuditEvent.objects.filter(id__lt=first_id).order_by("-id").values_list("hash", flat=True).first()
    prev = before or "0" * 64
    for event in AuditEvent.objects.filter(id__gte=first_id).order_by("id"):
        if event.pk == first_id:
            change(event)
        event.prev_hash = prev
        event.key_id, event.hash = sign(event)
        sql(
            f"UPDATE {EVENTS} SET actor_id = %s, reason = %s, prev_hash = %s, key_id = %s, hash = %s "
            "WHERE id = %s",
            [event.actor_id, event.reason, event.prev_hash, event.key_id, event.hash, event.pk],
        )
        prev = event.hash


def legacy_chain(n: int) -> list[AuditEvent]:
    """Write ``n`` events the way the chain was written before it was keyed."""
    from django.utils import timezone

    events, prev = [], "0" * 64
    for i in range(n):
        event = AuditEvent(
            object_type="test", object_id=str(i), action="legacy", reason=f"old {i}",
            created_at=timezone.now(), prev_hash=prev, key_id="",
        )
        event.hash = hashlib.sha256(canonical_json(event_fields(event)).encode()).hexdigest()
        assert event.hash == event_hash(event)
        event.save(force_insert=True)
        events.append(event)
        prev = event.hash
    return events


from tests.campaigns.conftest import qcluster  # noqa: E402, F401  (re-exported fixture: real clusters)
