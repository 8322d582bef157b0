"""Each chat platform: the message in its own format, signed as the platform documents it,
checked by its emulator over real HTTP; a wrong signature or key is refused in the
platform's own words and the notification records it as failed; secrets travel only to
the platform's hosts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import httpx
import pytest

from campaigns.sending.operations import sending_stop
from notifications.chat import dingtalk, feishu
from notifications.delivery import deliver
from notifications.models import Channel, ChatWebhook, Notification, NotificationStatus
from tests.notifications.conftest import SECRETS, WEBHOOK_PATHS, make_webhook

pytestmark = pytest.mark.django_db

KINDS = ["dingtalk", "feishu", "wecom", "slack"]


def emulator_credentials(kind: str) -> dict[str, str]:
    return {WEBHOOK_PATHS[kind][1]: SECRETS[kind]}


def chat_row(webhook: ChatWebhook) -> Notification:
    return Notification.objects.get(channel=Channel.CHAT, webhook=webhook)


@pytest.mark.parametrize("kind", KINDS)
def test_each_platform_receives_the_event_once_in_its_own_format(kind, chat_emulator, people, settings):
    settings.CRIER_BASE_URL = "https://crier.example.com"
    server = chat_emulator(kind, emulator_credentials(kind))
    webhook = make_webhook(kind, server)

    sending_stop(actor=people["operator"], reason="provider incident")
    row = chat_row(webhook)
    assert deliver(row.pk) == "sent"

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 1, "")
    [accepted] = server.app.accepted
    assert accepted.key == row.idempotency_key
    body = accepted.payload
    subject = "Emergency stop: all sending is halted"
    if kind == "dingtalk":
        assert body["msgtype"] == "markdown"
        assert body["markdown"]["title"] == subject
        assert "- **Reason**: provider incident" in body["markdown"]["text"]
        assert "(https://crier.example.com/admin/)" in body["markdown"]["text"]
    elif kind == "feishu":
        assert body["msg_type"] == "interactive"
        assert body["card"]["header"]["title"]["content"] == subject
        [button] = body["card"]["elements"][1]["actions"]
        assert button["url"] == "https://crier.example.com/admin/"
        assert body["timestamp"] and body["sign"]
    elif kind == "wecom":
        assert body["msgtype"] == "markdown"
        assert body["markdown"]["content"].startswith(f"**{subject}**")
    else:
        assert body["text"].startswith(f"*{subject}*")
        assert [b["type"] for b in body["blocks"]] == ["header", "section", "actions"]
    # Delivering again (a duplicate task) sends nothing more.
    assert deliver(row.pk) == "not due or taken"
    assert len(server.app.accepted) == 1


@pytest.mark.parametrize(
    ("kind", "words"),
    [("dingtalk", "DingTalk errcode 310000"), ("feishu", "Feishu code 19021")],
)
def test_a_wrong_signing_secret_is_refused_by_the_platform_and_reported(kind, words, chat_emulator, people):
    server = chat_emulator(kind, emulator_credentials(kind))
    webhook = make_webhook(kind, server, secret="not-the-secret")

    sending_stop(actor=people["operator"], reason="x")
    row = chat_row(webhook)
    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED
    assert words in row.last_error
    assert server.app.requests_seen == 1 and not server.app.accepted


@pytest.mark.parametrize("kind", ["wecom", "slack"])
def test_an_unknown_key_is_refused_in_the_platforms_words(kind, chat_emulator, people):
    server = chat_emulator(kind, {"another-key": ""})
    webhook = make_webhook(kind, server)

    sending_stop(actor=people["operator"], reason="x")
    row = chat_row(webhook)
    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert ("WeCom errcode 93000" if kind == "wecom" else "HTTP 404: no_service") in row.last_error


def test_the_dingtalk_signature_is_the_documented_one():
    timestamp, secret = "1700000000000", "SECthis-is-secret"
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    )
    assert dingtalk.sign(timestamp, secret) == quote_plus(expected)


def test_the_feishu_signature_keys_hmac_with_timestamp_and_secret_over_nothing():
    timestamp, secret = "1700000000", "feishu-secret"
    expected = base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest())
    assert feishu.sign(timestamp, secret) == expected.decode()


def test_the_dingtalk_emulator_refuses_a_stale_timestamp(chat_emulator):
    server = chat_emulator("dingtalk", {"tok": "SECs"})
    stale = str(round((time.time() - 2 * 3600) * 1000))
    url = f"{server.url}/robot/send?access_token=tok&timestamp={stale}&sign={dingtalk.sign(stale, 'SECs')}"
    answer = httpx.post(url, json={"msgtype": "text", "text": {"content": "hi"}}).json()
    assert answer["errcode"] == 310000


def test_the_feishu_emulator_refuses_a_card_without_elements(chat_emulator):
    server = chat_emulator("feishu", {"hook": ""})
    answer = httpx.post(
        f"{server.url}/open-apis/bot/v2/hook/hook", json={"msg_type": "interactive", "card": {}}
    )
    assert answer.json() == {"code": 9499, "msg": "Bad Request", "data": {}}


def test_secrets_never_travel_to_a_host_that_is_not_the_platforms(chat_emulator, people):
    server = chat_emulator("dingtalk", emulator_credentials("dingtalk"))
    webhook = make_webhook("dingtalk", server)
    webhook.sandbox = False  # a local URL without the sandbox flag is not DingTalk
    webhook.save()

    sending_stop(actor=people["operator"], reason="x")
    row = chat_row(webhook)
    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert "must use https" in row.last_error
    assert server.app.requests_seen == 0


@pytest.mark.parametrize(
    ("kind", "url", "ok"),
    [
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=x", True),
        ("dingtalk", "https://evil.example.com/robot/send?access_token=x", False),
        ("feishu", "https://open.larksuite.com/open-apis/bot/v2/hook/x", True),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", True),
        ("wecom", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", False),
        ("slack", "https://hooks.slack.com/services/T/B/X", True),
        ("slack", "https://chat.example.com/hooks/x", False),
    ],
)
def test_webhook_hosts_are_pinned_to_the_platforms_own(kind, url, ok):
    from notifications.chat import PLATFORMS

    assert (PLATFORMS[kind].url_problem(url, sandbox=False) is None) is ok


def test_a_slack_compatible_server_is_allowed_by_setting(settings):
    from notifications.chat import PLATFORMS

    settings.CRIER_CHAT_SLACK_HOSTS = ["chat.example.com"]
    assert PLATFORMS["slack"].url_problem("https://chat.example.com/hooks/x", sandbox=False) is None


def test_the_admin_keeps_the_webhook_url_and_secret_write_only(admin_client):
    response = admin_client.post(
        "/admin/notifications/chatwebhook/add/",
        {
            "name": "Ops DingTalk",
            "team": "Operations",
            "kind": "dingtalk",
            "language": "zh-hans",
            "enabled": "on",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=tok-123",
            "secret": "SECsecret-456",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    webhook = ChatWebhook.objects.get(name="Ops DingTalk")
    assert webhook.language == "zh-hans"
    assert webhook.get_credentials() == {
        "url": "https://oapi.dingtalk.com/robot/send?access_token=tok-123",
        "secret": "SECsecret-456",
    }
    assert "tok-123" not in webhook.credentials_encrypted
    page = admin_client.get(f"/admin/notifications/chatwebhook/{webhook.pk}/change/").content.decode()
    assert "tok-123" not in page and "SECsecret-456" not in page
    listing = admin_client.get("/admin/notifications/chatwebhook/").content.decode()
    assert "tok-123" not in listing


def test_the_admin_refuses_a_host_that_is_not_the_platforms(admin_client):
    response = admin_client.post(
        "/admin/notifications/chatwebhook/add/",
        {
            "name": "x",
            "kind": "feishu",
            "enabled": "on",
            "url": "https://example.com/open-apis/bot/v2/hook/x",
        },
    )
    assert response.status_code == 200
    assert "example.com is not a Feishu / Lark host" in response.content.decode()
    assert not ChatWebhook.objects.exists()
