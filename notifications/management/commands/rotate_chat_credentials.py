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
from providers import crypto


def rotate_webhook(webhook: ChatWebhook) -> bool:
    """Re-encrypt ``webhook``'s credentials with the newest key (compare-and-swap on the token
    read, so a concurrent save wins); return whether the row changed."""
    token = webhook.credentials_encrypted
    if crypto.newest_key_reads(token):
        return False
    rotated = crypto.rotate(token)
    return (
        ChatWebhook.objects.filter(pk=webhook.pk, credentials_encrypted=token).update(
            credentials_encrypted=rotated
        )
        == 1
    )


class Command(BaseCommand):
    help = "Re-encrypt every chat webhook's URL and secret with the newest key in CRIER_FIELD_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, current, unreadable = 0, 0, []
        for webhook in ChatWebhook.objects.order_by("name").only("pk", "name", "credentials_encrypted"):
            try:
                changed = rotate_webhook(webhook)
            except crypto.CredentialsUnreadable:
                unreadable.append(webhook.name)
                continue
            rotated += changed
            current += not changed
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
