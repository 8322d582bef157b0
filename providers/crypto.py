"""Encrypt provider credentials at rest with keys that live outside the database.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (env ``CRIER_FIELD_KEYS``, comma
separated Fernet keys, newest first), so they rotate with ``MultiFernet``: add the new
key in front, run ``python manage.py rotate_credentials``, then drop the old one.
In development and tests without keys, a key is derived from SECRET_KEY; the system
check ``providers.E001`` refuses that in production.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with any configured key."""


def _derived_dev_key() -> bytes:
    digest = hashlib.sha256(b"crier-field-key:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    material = [k.encode() for k in keys] or [_derived_dev_key()]
    return MultiFernet([Fernet(k) for k in material])


def fernet() -> MultiFernet:
    """Return the MultiFernet for the configured keys."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_json(value: dict) -> str:
    """Return ``value`` serialised and encrypted as a Fernet token."""
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    """Return the dict encrypted in ``token``; raise CredentialsUnreadable if no key fits."""
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "provider credentials cannot be decrypted with any key in CRIER_FIELD_KEYS"
        ) from exc


def newest_key_reads(token: str) -> bool:
    """Return whether ``token`` is empty or already encrypted with the newest key."""
    if not token:
        return True
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    newest = Fernet(keys[0].encode() if keys else _derived_dev_key())
    try:
        newest.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """Return ``token`` re-encrypted with the newest key; raise CredentialsUnreadable if no key fits."""
    if not token:
        return token
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "provider credentials cannot be decrypted with any key in CRIER_FIELD_KEYS"
        ) from exc
