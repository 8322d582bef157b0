"""Team chat platforms: one module each, and delivery of a notification to a webhook."""

from __future__ import annotations

from notifications.chat.base import ChatPlatform
from notifications.chat.dingtalk import DingTalk
from notifications.chat.feishu import Feishu
from notifications.chat.slack import Slack
from notifications.chat.wecom import WeCom
from notifications.errors import DeliveryError
from notifications.messages import render
from notifications.models import Notification

PLATFORMS: dict[str, type[ChatPlatform]] = {cls.kind: cls for cls in (DingTalk, Feishu, WeCom, Slack)}


def platform(kind: str) -> ChatPlatform:
    return PLATFORMS[kind]()


def send_chat(notification: Notification) -> None:
    """Post ``notification`` to its webhook; raise DeliveryError when it fails."""
    webhook = notification.webhook
    credentials = webhook.get_credentials()
    if not credentials.get("url"):
        raise DeliveryError(f"chat webhook {webhook.name!r} has no URL", retryable=False)
    platform(webhook.kind).post(
        url=credentials["url"],
        secret=credentials.get("secret", ""),
        message=render(notification.kind, notification.context),
        key=notification.idempotency_key,
        sandbox=webhook.sandbox,
    )
