"""Re-encrypt the ``credentials_encrypted`` column of a table's rows with the newest key in
CRIER_FIELD_KEYS: the one loop of ``rotate_credentials`` (provider accounts) and
``rotate_chat_credentials`` (chat webhooks), for the rotation of README.md, *Rotating keys*.

Each row is a compare-and-swap on the token read, so credentials saved meanwhile (every
save encrypts with the newest key) are never overwritten with older ones: such a row
counts as already current. A row no configured key can read is named, not fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models, transaction

from providers import crypto


@dataclass
class Rotation:
    """What a rotation did: rows rewritten, rows already under the newest key, and the names
    of those no key can read."""

    rotated: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=list)


def rotate_rows(
    rows: models.QuerySet, *, on_rotated: Callable[[models.Model], None] | None = None
) -> Rotation:
    """Re-encrypt each row's ``credentials_encrypted`` with the newest key (a row is named by
    its ``name``); ``on_rotated(row)`` runs in the transaction of a rewritten row (an audit
    record). Credentials are decrypted only in this process, never returned."""
    done = Rotation()
    model = rows.model
    for row in rows:
        token = row.credentials_encrypted
        if crypto.newest_key_reads(token):
            done.current += 1
            continue
        try:
            rotated = crypto.rotate(token)
        except crypto.CredentialsUnreadable:
            done.unreadable.append(row.name)
            continue
        with transaction.atomic():
            moved = model.objects.filter(pk=row.pk, credentials_encrypted=token).update(
                credentials_encrypted=rotated
            )
            if moved == 1 and on_rotated is not None:
                on_rotated(row)
        if moved == 1:
            done.rotated += 1
        else:
            done.current += 1
    return done
