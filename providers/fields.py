"""A recipient's provider addresses, with those that are credentials encrypted at rest.

Where a provider's address is a credential (``Provider.address_is_credential``: the Alipay+
``accessToken`` from applyToken, which lets anyone holding it message that user), the value
is stored as a Fernet token under the keys that encrypt account credentials
(``providers/crypto.py``, ``CRIER_FIELD_KEYS``), prefixed ``PREFIX``; other addresses
(Jiguang user ids) stay readable. The field encrypts on every write and decrypts on every
read (``from_db_value``, also used by the audience stream's raw SQL), so the rest of Crier
sees plain addresses and masks them as before, while the database row, its backups and
any SQL console see only tokens. ``has_key`` queries still work: keys are not encrypted.
``manage.py rotate_credentials`` re-encrypts these tokens with the newest key too.

A token no configured key can read is left as it is stored (with its prefix) rather than
lost on the next save; ``rotate_credentials`` counts such rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.db import models, transaction
from django.db.models.fields.json import KeyTextTransform

from providers import crypto
from providers.registry import PROVIDERS, provider_class

PREFIX = "crier-fernet:"


def credential_kinds() -> tuple[str, ...]:
    """Return the provider kinds whose addresses are credentials."""
    return tuple(kind for kind in PROVIDERS if provider_class(kind).address_is_credential)


def encrypt_address(value: str) -> str:
    """Return ``value`` as stored: a prefixed Fernet token (kept as is when already one)."""
    if not value or value.startswith(PREFIX):
        return value
    return PREFIX + crypto.fernet().encrypt(value.encode()).decode()


def decrypt_address(value: Any) -> Any:
    """Return the address stored as ``value`` (unchanged when it is not, or no key reads it)."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return value
    try:
        return crypto.fernet().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        return value


class ProviderAddressesField(models.JSONField):
    """``{kind: address}`` whose credential addresses are encrypted at rest."""

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            secret = set(credential_kinds())
            value = {
                kind: encrypt_address(address) if kind in secret and isinstance(address, str) else address
                for kind, address in value.items()
            }
        return super().get_prep_value(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        data = super().from_db_value(value, expression, connection)
        if isinstance(data, dict):
            return {kind: decrypt_address(address) for kind, address in data.items()}
        return decrypt_address(data)


def address_fields() -> Iterator[tuple[type[models.Model], str]]:
    """Yield (model, field name) of every ProviderAddressesField of the installed models."""
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, ProviderAddressesField):
                yield model, field.name


def rotate_addresses(chunk: int = 500) -> tuple[int, int]:
    """Re-encrypt every credential address not under the newest key; return (rows rewritten,
    rows with a token no configured key reads, left as they are)."""
    rewritten = unreadable = 0
    kinds = credential_kinds()
    for model, name in address_fields():
        stored = {f"_raw_{kind}": KeyTextTransform(kind, name) for kind in kinds}
        rows = model.objects.filter(**{f"{name}__has_any_keys": list(kinds)}).order_by("pk")
        after = None
        while True:
            page = rows.filter(pk__gt=after) if after is not None else rows
            batch = list(page.annotate(**stored).values("pk", *stored)[:chunk])
            if not batch:
                break
            after = batch[-1]["pk"]
            for row in batch:
                tokens = [row[k][len(PREFIX) :] for k in stored if (row[k] or "").startswith(PREFIX)]
                plain = [k for k in stored if row[k] and not row[k].startswith(PREFIX)]
                if any(not _readable(t) for t in tokens):
                    unreadable += 1
                elif plain or not all(crypto.newest_key_reads(t) for t in tokens):
                    with transaction.atomic():
                        locked = model.objects.select_for_update().get(pk=row["pk"])
                        model.objects.filter(pk=row["pk"]).update(**{name: getattr(locked, name)})
                    rewritten += 1
    return rewritten, unreadable


def _readable(token: str) -> bool:
    try:
        crypto.fernet().decrypt(token.encode())
    except InvalidToken:
        return False
    return True
