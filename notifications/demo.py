"""Demo team chat webhooks pointing at the local chat emulators (``manage.py seed_demo``).

Two sandbox webhooks, created by name and left alone once they exist: the reviewers'
DingTalk group (review requests and decisions) and the operators' Feishu group (failures,
the emergency stop, failing checks). Their tokens and signing secrets are generated on
first seed and stored encrypted; ``manage.py run_chat_emulators`` (started by ``make run``)
reads them back and checks every message's signature as the platforms do.
"""

from __future__ import annotations

import secrets
from typing import TextIO

from notifications.events import EventKind
from notifications.models import ChatWebhook

K = EventKind
# kind -> the port run_chat_emulators serves it on.
DEMO_PORTS = {"dingtalk": 8111, "feishu": 8112, "wecom": 8113, "slack": 8114}


def _dingtalk_url() -> str:
    return f"http://127.0.0.1:{DEMO_PORTS['dingtalk']}/robot/send?access_token={secrets.token_hex(16)}"


def _feishu_url() -> str:
    return f"http://127.0.0.1:{DEMO_PORTS['feishu']}/open-apis/bot/v2/hook/{secrets.token_hex(16)}"


DEMO_WEBHOOKS = [
    (
        "Review desk (DingTalk demo)",
        "Reviewers",
        "dingtalk",
        _dingtalk_url,
        [K.REVIEW_REQUESTED, K.HELD, K.APPROVED, K.REJECTED, K.VOIDED],
    ),
    (
        "Operations (Feishu demo)",
        "Operators",
        "feishu",
        _feishu_url,
        [
            K.DISPATCH_FAILED,
            K.DISPATCH_PARTIALLY_FAILED,
            K.DELIVERIES_UNKNOWN,
            K.SENDING_STOPPED,
            K.SENDING_RESUMED,
            K.PROVIDER_CHECK_FAILED,
        ],
    ),
]


def seed(stdout: TextIO) -> None:
    for name, team, kind, url, events in DEMO_WEBHOOKS:
        if ChatWebhook.objects.filter(name=name).exists():
            continue
        webhook = ChatWebhook(name=name, team=team, kind=kind, events=[str(e) for e in events], sandbox=True)
        webhook.set_credentials({"url": url(), "secret": f"SEC{secrets.token_hex(24)}"})
        webhook.save()
    stdout.write(
        f"chat webhooks: {', '.join(name for name, *_ in DEMO_WEBHOOKS)} (sandbox, local emulators)\n"
    )
