"""Re-encrypt every provider account's credentials, and every recipient's access tokens
(``providers/fields.py``), with the newest key in CRIER_FIELD_KEYS.

The rotation (README, *Rotating keys*): put the new key first in ``CRIER_FIELD_KEYS``,
keep the old one after it, run ``python manage.py rotate_credentials``, then drop the old
key. Accounts already under the newest key are left alone, so running it again changes
nothing. An account whose credentials no configured key can read is named, not fatal: the
others are still rotated, and the command exits non-zero so the rotation is not finished
by mistake (enter that account's credentials again, then run it once more). Credentials
are decrypted only in this process and never printed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from providers.fields import rotate_addresses
from providers.history import record_credentials_reencrypted
from providers.models import ProviderAccount
from providers.rotation import rotate_rows


class Command(BaseCommand):
    help = "Re-encrypt every provider account's credentials with the newest key in CRIER_FIELD_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        done = rotate_rows(
            ProviderAccount.objects.order_by("name").only("pk", "name", "kind", "credentials_encrypted"),
            on_rotated=lambda account: record_credentials_reencrypted(account=account),
        )
        rotated, current, unreadable = done.rotated, done.current, done.unreadable
        self.stdout.write(
            _("%(rotated)d account(s) re-encrypted with the newest key, %(current)d already under it.")
            % {"rotated": rotated, "current": current}
        )
        # Recipient addresses that are credentials (Alipay+ tokens, providers/fields.py).
        tokens, lost = rotate_addresses()
        self.stdout.write(
            _("%(tokens)d recipient(s) with access tokens re-encrypted with the newest key.")
            % {"tokens": tokens}
        )
        if lost:
            raise CommandError(
                _(
                    "%(count)d recipient(s) have access tokens no key in CRIER_FIELD_KEYS can read. "
                    "Keep the old key until their tokens are imported again."
                )
                % {"count": lost}
            )
        if unreadable:
            raise CommandError(
                _(
                    "%(count)d account(s) have credentials no key in CRIER_FIELD_KEYS can read: "
                    "%(names)s. Keep the old key until their credentials are entered again."
                )
                % {"count": len(unreadable), "names": ", ".join(map(repr, unreadable))}
            )
