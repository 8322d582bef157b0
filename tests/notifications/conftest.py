"""Fixtures for notification tests: users with e-mail addresses, a draft, chat emulators."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from notifications.emulators import EMULATORS
from notifications.models import ChatWebhook
from providers.emulators.server import EmulatorServer
from tests.approvals.factories import make_campaign, make_template


@pytest.fixture
def people(make_user) -> dict[str, Any]:
    """Users in each role, each with an e-mail address (no superuser: they may approve too)."""
    users = {
        "marketer": make_user("marketer", "Marketing"),
        "reviewer": make_user("reviewer", "Reviewers"),
        "reviewer2": make_user("reviewer2", "Reviewers"),
        "operator": make_user("operator", "Operators"),
    }
    for name, user in users.items():
        user.email = f"{name}@example.com"
        user.save(update_fields=["email"])
    return users


@pytest.fixture
def draft(people):
    make_template()
    return make_campaign(people["marketer"], name="Spring sale")


@pytest.fixture
def chat_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    """Return ``start(kind, credentials) -> server`` serving a chat platform's emulator."""
    servers: list[EmulatorServer] = []

    def start(kind: str, credentials: dict[str, str]) -> EmulatorServer:
        server = EmulatorServer(EMULATORS[kind](credentials)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# kind -> (path of the webhook on the emulator, the key the emulator knows it by)
WEBHOOK_PATHS = {
    "dingtalk": ("/robot/send?access_token=tok-ding", "tok-ding"),
    "feishu": ("/open-apis/bot/v2/hook/hook-feishu", "hook-feishu"),
    "wecom": ("/cgi-bin/webhook/send?key=key-wecom", "key-wecom"),
    "slack": ("/services/T000/B000/XXXX", "T000/B000/XXXX"),
}
SECRETS = {"dingtalk": "SECding-secret", "feishu": "feishu-secret", "wecom": "", "slack": ""}


def make_webhook(
    kind: str, server: EmulatorServer, *, secret: str | None = None, **fields: Any
) -> ChatWebhook:
    """A sandbox webhook of ``kind`` pointing at ``server`` with the kind's secret (or ``secret``)."""
    path, _key = WEBHOOK_PATHS[kind]
    webhook = ChatWebhook(name=fields.pop("name", f"{kind} team"), kind=kind, sandbox=True, **fields)
    webhook.set_credentials(
        {"url": f"{server.url}{path}", "secret": SECRETS[kind] if secret is None else secret}
    )
    webhook.save()
    return webhook
