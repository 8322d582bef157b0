"""Team chat platforms: one module each, and delivery of a notification to a webhook."""

from __future__ import annotations

from notifications import errors, languages
from notifications.chat.base import ChatPlatform
from notifications.chat.dingtalk import DingTalk
from notifications.chat.feishu import Feishu
from notifications.chat.slack import Slack
from notifications.chat.wecom import WeCom
from notifications.errors import DeliveryError
from notifications.messages import render
from notifications.models import Notification
from providers import crypto

PLATFORMS: dict[str, type[ChatPlatform]] = {cls.kind: cls for cls in (DingTalk, Feishu, WeCom, Slack)}


def platform(kind: str) -> ChatPlatform:
    return PLATFORMS[kind]()


def send_chat(notification: Notification) -> None:
    """Post ``notification`` to its webhook; raise DeliveryError when it fails."""
    webhook = notification.webhook
    try:
        credentials = webhook.get_credentials()
    except crypto.CredentialsUnreadable as exc:
        raise DeliveryError.saying(errors.CREDENTIALS_UNREADABLE, name=webhook.name, retryable=False) from exc
    if not credentials.get("url"):
        raise DeliveryError.saying(errors.NO_URL, name=webhook.name, retryable=False)
    platform(webhook.kind).post(
        url=credentials["url"],
        secret=credentials.get("secret", ""),
        # The row's language (the webhook's when the row was written), the same on every retry.
        message=render(notification.kind, notification.context, languages.of_row(notification.language)),
        key=notification.idempotency_key,
        sandbox=webhook.sandbox,
    )
