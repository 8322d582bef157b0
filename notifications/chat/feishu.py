"""Feishu / Lark custom bot (自定义机器人): interactive cards, signed with timestamp + secret.

The signature, as Feishu documents it: the string ``"{timestamp}\\n{secret}"`` (timestamp
in seconds, within one hour) is the HMAC-SHA256 *key* over an empty message; the digest
Base64-encoded is ``sign``. ``timestamp`` and ``sign`` go in the JSON body beside
``msg_type`` and ``card``. The answer is ``{"code": 0, "msg": "success"}`` or a code
(19021: signature or timestamp refused; 9499: bad request; 11232: rate limited, retried).
Feishu (open.feishu.cn) and Lark (open.larksuite.com) share the format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import httpx

from notifications import errors
from notifications.chat.base import ChatPlatform, json_answer
from notifications.errors import DeliveryError
from notifications.messages import Rendered, markdown_lines

RETRYABLE = {11232, 11233}  # frequency limited


def sign(timestamp: str, secret: str) -> str:
    """Return Feishu's ``sign``: Base64 of HMAC-SHA256 keyed with ``timestamp\\nsecret`` over b""."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Feishu(ChatPlatform):
    kind = "feishu"
    label = "Feishu / Lark"
    official_hosts = ("open.feishu.cn", "open.larksuite.com")

    def request(self, url: str, secret: str, message: Rendered, *, key: str) -> tuple[str, dict]:
        card = {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": message.subject}, "template": "blue"},
            "elements": [
                {"tag": "div", "text": {"tag": "lark_md", "content": markdown_lines(message)}},
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": message.action},
                            "url": message.url,
                            "type": "primary",
                        }
                    ],
                },
            ],
        }
        body: dict = {"msg_type": "interactive", "card": card}
        if secret:
            timestamp = str(int(time.time()))
            body = {"timestamp": timestamp, "sign": sign(timestamp, secret), **body}
        return url, body

    def outcome(self, response: httpx.Response) -> None:
        data = json_answer(response, self.label)
        code = data.get("code", data.get("StatusCode"))
        if code == 0:
            return
        raise DeliveryError.saying(
            errors.FEISHU_ERROR,
            code=code,
            message=data.get("msg", data.get("StatusMessage", "")),
            retryable=code in RETRYABLE,
        )
