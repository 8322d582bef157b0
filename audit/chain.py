"""What the audit chain's links and checkpoints are computed over (``audit.services`` writes
them, ``audit.verification`` checks them).

An event's ``hash`` is, since the chain is keyed, the HMAC-SHA256 under the key named by
its ``key_id`` (``audit/keys.py``) over the canonical JSON of its fields, its
``prev_hash`` and its ``key_id``. Nobody without the key can recompute it, so rewriting an
event and every event after it is no longer enough to hide an edit.

Events written before the chain was keyed have an empty ``key_id`` and a plain SHA-256 over
the same fields without ``key_id`` (exactly what was computed then). They are *legacy*
events and are accepted only as the chain's prefix: a legacy event after a keyed one is a
forgery, and every checkpoint signs how many legacy events the chain has.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from audit.keys import CHECKPOINT_PURPOSE, EVENT_PURPOSE, key_by_id
from audit.models import AuditCheckpoint, AuditEvent

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    )


def json_safe(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``value`` as the JSON column gives it back when read, which is what is hashed."""
    return json.loads(canonical_json(dict(value or {})))


def timestamp(value: datetime) -> str:
    """Return ``value`` in UTC with microseconds: the one spelling every MAC covers."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """Return the fields of ``event`` that its hash covers (everything but id, hash and key id)."""
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
        "created_at": timestamp(event.created_at),
        "prev_hash": event.prev_hash,
    }


def event_hash(event: AuditEvent) -> str:
    """Return what ``event.hash`` must be: its MAC under its key, or its legacy SHA-256.

    Raises :class:`audit.keys.AuditKeyMissing` when the event's key is not configured.
    """
    fields = event_fields(event)
    if not event.key_id:
        return hashlib.sha256(canonical_json(fields).encode()).hexdigest()
    return key_by_id(event.key_id).mac(EVENT_PURPOSE, canonical_json({**fields, "key_id": event.key_id}))


def checkpoint_fields(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """Return what a checkpoint's signature covers: every field but its id and its MAC."""
    return {
        "event_count": checkpoint.event_count,
        "legacy_count": checkpoint.legacy_count,
        "head_id": checkpoint.head_id,
        "head_hash": checkpoint.head_hash,
        "created_at": timestamp(checkpoint.created_at),
        "key_id": checkpoint.key_id,
    }


def checkpoint_mac(checkpoint: AuditCheckpoint) -> str:
    """Return what ``checkpoint.mac`` must be; raise ``AuditKeyMissing`` when its key is not configured."""
    return key_by_id(checkpoint.key_id).mac(CHECKPOINT_PURPOSE, canonical_json(checkpoint_fields(checkpoint)))


def checkpoint_record(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """Return the checkpoint as the log line and the checkpoint file carry it (signature included)."""
    return {**checkpoint_fields(checkpoint), "mac": checkpoint.mac}
