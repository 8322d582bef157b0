"""The keys that sign the audit chain and its checkpoints, which live outside the database.

``settings.CRIER_AUDIT_KEY`` (env ``CRIER_AUDIT_KEY``) is a comma-separated list of
``<key id>:<secret>`` entries, newest first. The newest signs every new event and
checkpoint and its id is stored with it, so each event says which key signed it; the
others only verify. A key may leave the list only when no event or checkpoint signed by it
is left to verify, which in an append-only trail means never: rotate by putting a new key
first and keeping the old ones (``verify_audit`` names events whose key is missing).

Without keys (development and tests), one key is derived from ``SECRET_KEY``, as the
credentials key is (``providers/crypto.py``); the deploy check ``audit.E001`` refuses that
in production. Its id carries a fingerprint of the derived secret, so a changed
``SECRET_KEY`` shows up as "key missing", not as tampering.

The MAC is HMAC-SHA256 (the standard library's ``hmac``: a solved problem, no dependency),
with a purpose prefix so an event's MAC can never be replayed as a checkpoint's or the
other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
MIN_SECRET_CHARS = 32
EVENT_PURPOSE = b"crier-audit-event-v1"
CHECKPOINT_PURPOSE = b"crier-audit-checkpoint-v1"


class AuditKeyMissing(LookupError):
    """An event or checkpoint names a key that is not in ``CRIER_AUDIT_KEY``."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"audit key {key_id!r} is not in CRIER_AUDIT_KEY")
        self.key_id = key_id


@dataclass(frozen=True)
class AuditKey:
    """One signing key: its id (stored with what it signs) and its secret (never shown)."""

    key_id: str
    secret: bytes = field(repr=False)

    def mac(self, purpose: bytes, payload: str) -> str:
        """Return the HMAC-SHA256 (hex) of ``payload`` for ``purpose`` under this key."""
        return hmac.new(self.secret, purpose + b"\x00" + payload.encode(), hashlib.sha256).hexdigest()


def parse_keys(entries: list[str] | tuple[str, ...]) -> list[AuditKey]:
    """Return the keys in ``entries`` (``id:secret``, newest first); raise on a malformed one.

    The message names the entry by its position, never its secret.
    """
    keys: list[AuditKey] = []
    for position, entry in enumerate(entries, start=1):
        key_id, colon, secret = entry.partition(":")
        key_id = key_id.strip()
        if not colon or not KEY_ID.fullmatch(key_id):
            raise ImproperlyConfigured(
                f"CRIER_AUDIT_KEY entry {position} must be '<key id>:<secret>' with a key id of 1 to "
                "32 letters, digits, '.', '_' or '-' (starting with a letter or digit)"
            )
        if len(secret) < MIN_SECRET_CHARS:
            raise ImproperlyConfigured(
                f"CRIER_AUDIT_KEY entry {position} (key id {key_id!r}): the secret must have at least "
                f"{MIN_SECRET_CHARS} characters"
            )
        if any(key.key_id == key_id for key in keys):
            raise ImproperlyConfigured(
                f"CRIER_AUDIT_KEY entry {position}: key id {key_id!r} appears twice; every key "
                "needs its own id"
            )
        keys.append(AuditKey(key_id, secret.encode()))
    return keys


def _derived_dev_key(secret_key: str) -> AuditKey:
    secret = hashlib.sha256(b"crier-audit-key:" + secret_key.encode()).digest()
    fingerprint = hashlib.sha256(b"crier-audit-key-id:" + secret).hexdigest()[:8]
    return AuditKey(f"dev-{fingerprint}", secret)


@lru_cache(maxsize=8)
def _keys(entries: tuple[str, ...], secret_key: str) -> tuple[AuditKey, ...]:
    return tuple(parse_keys(entries)) if entries else (_derived_dev_key(secret_key),)


def audit_keys() -> tuple[AuditKey, ...]:
    """Return the configured keys, newest first (one derived key when none is configured)."""
    return _keys(tuple(getattr(settings, "CRIER_AUDIT_KEY", ()) or ()), settings.SECRET_KEY)


def signing_key() -> AuditKey:
    """Return the key that signs new events and checkpoints: the newest."""
    return audit_keys()[0]


def key_by_id(key_id: str) -> AuditKey:
    """Return the key with id ``key_id``; raise :class:`AuditKeyMissing` when it is not configured."""
    for key in audit_keys():
        if key.key_id == key_id:
            return key
    raise AuditKeyMissing(key_id)
