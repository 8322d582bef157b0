"""Demo team chat webhooks pointing at the local chat emulators (``manage.py seed_demo``).

Two sandbox webhooks, created by name and left alone once they exist: the reviewers'
DingTalk group (review requests and decisions), which reads Simplified Chinese, and the
operators' Feishu group (failures, the emergency stop, failing checks), in the default
language. And one Chinese reader: ``reviewer2`` gets a zh-Hans language preference (unless
they saved one), so ``make run``'s terminal shows their review requests in Chinese and
their pages are Chinese after signing in (README, "Languages"). The webhooks' tokens and
signing secrets are generated on first seed and stored encrypted; ``manage.py
run_chat_emulators`` (started by ``make run``) reads them back and checks every message's
signature as the platforms do.
"""

from __future__ import annotations

import secrets
from typing import TextIO

from django.contrib.auth import get_user_model

from notifications.events import EventKind
from notifications.models import ChatWebhook, UserPreference

K = EventKind
# kind -> the port run_chat_emulators serves it on.
DEMO_PORTS = {"dingtalk": 8111, "feishu": 8112, "wecom": 8113, "slack": 8114}


def _dingtalk_url() -> str:
    return f"http://127.0.0.1:{DEMO_PORTS['dingtalk']}/robot/send?access_token={secrets.token_hex(16)}"


def _feishu_url() -> str:
    return f"http://127.0.0.1:{DEMO_PORTS['feishu']}/open-apis/bot/v2/hook/{secrets.token_hex(16)}"


# name, team, platform, URL factory, language, events
DEMO_WEBHOOKS = [
    (
        "Review desk (DingTalk demo)",
        "Reviewers",
        "dingtalk",
        _dingtalk_url,
        "zh-hans",
        [K.REVIEW_REQUESTED, K.HELD, K.APPROVED, K.REJECTED, K.VOIDED],
    ),
    (
        "Operations (Feishu demo)",
        "Operators",
        "feishu",
        _feishu_url,
        "en",
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


# username -> the language seeded for them (seed_demo creates the users first).
DEMO_LANGUAGES = {"reviewer2": "zh-hans"}


def seed(stdout: TextIO) -> None:
    for name, team, kind, url, language, events in DEMO_WEBHOOKS:
        if ChatWebhook.objects.filter(name=name).exists():
            continue
        webhook = ChatWebhook(
            name=name, team=team, kind=kind, language=language, events=[str(e) for e in events], sandbox=True
        )
        webhook.set_credentials({"url": url(), "secret": f"SEC{secrets.token_hex(24)}"})
        webhook.save()
    stdout.write(
        f"chat webhooks: {', '.join(name for name, *_ in DEMO_WEBHOOKS)} (sandbox, local emulators)\n"
    )
    for user in get_user_model().objects.filter(username__in=DEMO_LANGUAGES):
        UserPreference.objects.get_or_create(user=user, defaults={"language": DEMO_LANGUAGES[user.username]})
        stdout.write(f"{user.username} reads Crier and its e-mails in {DEMO_LANGUAGES[user.username]}\n")
