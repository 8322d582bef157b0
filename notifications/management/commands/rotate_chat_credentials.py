"""Re-encrypt every chat webhook's URL and secret with the newest key in CRIER_FIELD_KEYS.

The companion of ``rotate_credentials`` (provider accounts), for the same key rotation
(README, *Rotating keys* and *Notifications*): run both before dropping the old key.
Webhooks already under the newest key are left alone; one no key can read is named and
the command exits non-zero. Nothing secret is printed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from notifications.models import ChatWebhook
from providers.rotation import rotate_rows


class Command(BaseCommand):
    help = "Re-encrypt every chat webhook's URL and secret with the newest key in CRIER_FIELD_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        done = rotate_rows(ChatWebhook.objects.order_by("name").only("pk", "name", "credentials_encrypted"))
        rotated, current, unreadable = done.rotated, done.current, done.unreadable
        self.stdout.write(
            _("%(rotated)d chat webhook(s) re-encrypted with the newest key, %(current)d already under it.")
            % {"rotated": rotated, "current": current}
        )
        if unreadable:
            raise CommandError(
                _(
                    "%(count)d chat webhook(s) have credentials no key in CRIER_FIELD_KEYS can read: "
                    "%(names)s. Keep the old key until they are entered again."
                )
                % {"count": len(unreadable), "names": ", ".join(map(repr, unreadable))}
            )
