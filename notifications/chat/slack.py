"""Slack-compatible incoming webhooks: Block Kit with a ``text`` fallback.

``POST https://hooks.slack.com/services/T…/B…/…`` with ``{"text": …, "blocks": […]}``;
Slack answers ``200 ok`` (plain text) or an error in words (400 ``invalid_payload``,
403 ``invalid_token``, 404 ``no_service``, 410 ``channel_is_archived``; 429 and 5xx
are retried). Servers that speak the same format (Mattermost, Rocket.Chat) read ``text``
and are allowed by adding their hosts to ``CRIER_CHAT_SLACK_HOSTS``. No signature: the
URL is the secret.
"""

from __future__ import annotations

import httpx
from django.conf import settings

from notifications import errors
from notifications.chat.base import ChatPlatform
from notifications.errors import DeliveryError
from notifications.messages import Rendered


class Slack(ChatPlatform):
    kind = "slack"
    label = "Slack"
    official_hosts = ("hooks.slack.com",)
    signed = False

    @classmethod
    def allowed_hosts(cls) -> tuple[str, ...]:
        return cls.official_hosts + tuple(settings.CRIER_CHAT_SLACK_HOSTS)

    def request(self, url: str, secret: str, message: Rendered, *, key: str) -> tuple[str, dict]:
        colon = message.colon.rstrip()
        fields = "\n".join(f"*{label}{colon}* {value}" for label, value in message.lines)
        text = f"*{message.subject}*\n{fields}\n<{message.url}|{message.action}>"
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
            *([{"type": "section", "text": {"type": "mrkdwn", "text": fields}}] if fields else []),
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": message.action},
                        "url": message.url,
                    }
                ],
            },
        ]
        return url, {"text": text, "blocks": blocks}

    def outcome(self, response: httpx.Response) -> None:
        if response.status_code == 200:
            return
        raise DeliveryError.saying(
            errors.SLACK_ERROR, status=response.status_code, words=response.text[:200], retryable=False
        )
