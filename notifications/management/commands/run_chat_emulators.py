"""Serve the chat platform emulators until interrupted (``make run`` starts this).

DingTalk, Feishu, WeCom and Slack listen on 127.0.0.1:8111–8114 (``notifications.demo``)
and accept the keys and secrets of the enabled *sandbox* webhooks of their platform, read
from the database and decrypted in this process only (never printed); each checks
signatures and payloads as its platform does. Restart it after adding a webhook.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.management.base import BaseCommand

from notifications.demo import DEMO_PORTS
from notifications.emulators import EMULATORS
from notifications.models import ChatWebhook
from providers.crypto import CredentialsUnreadable
from providers.emulators.server import serve_forever


def webhook_key(kind: str, url: str) -> str:
    """The part of a webhook URL its platform knows the group by (see notifications.emulators)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if kind == "dingtalk":
        return query.get("access_token", "")
    if kind == "wecom":
        return query.get("key", "")
    if kind == "feishu":
        return parts.path.rsplit("/", 1)[-1]
    return parts.path.removeprefix("/services/")


def emulator_credentials(kind: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for webhook in ChatWebhook.objects.filter(kind=kind, enabled=True, sandbox=True):
        try:
            stored = webhook.get_credentials()
        except CredentialsUnreadable:
            continue
        if stored.get("url"):
            mapping[webhook_key(kind, stored["url"])] = stored.get("secret", "")
    return mapping


class Command(BaseCommand):
    help = "Serve the chat platform emulators on 127.0.0.1:8111-8114 for the sandbox webhooks."

    def handle(self, *args: Any, **options: Any) -> None:
        apps = {DEMO_PORTS[kind]: cls(emulator_credentials(kind)) for kind, cls in EMULATORS.items()}
        for port, app in apps.items():
            self.stdout.write(
                f"{app.kind} emulator on http://127.0.0.1:{port} ({len(app.credentials)} webhook(s))"
            )
        serve_forever(apps)
