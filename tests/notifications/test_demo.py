"""The demo's sandbox chat groups: seeded once, served by run_chat_emulators with their
own keys and secrets, and a seeded webhook's message is accepted by its emulator."""

from __future__ import annotations

import io

import pytest

from campaigns.sending.operations import sending_stop
from notifications import demo
from notifications.delivery import deliver
from notifications.emulators import EMULATORS
from notifications.management.commands.run_chat_emulators import emulator_credentials, webhook_key
from notifications.models import ChatWebhook, Notification
from providers.emulators.server import EmulatorServer

pytestmark = pytest.mark.django_db


def test_seeding_twice_makes_two_sandbox_webhooks_once():
    demo.seed(io.StringIO())
    first = {w.name: w.credentials_encrypted for w in ChatWebhook.objects.all()}
    demo.seed(io.StringIO())
    assert {w.name: w.credentials_encrypted for w in ChatWebhook.objects.all()} == first
    assert set(ChatWebhook.objects.values_list("kind", "sandbox")) == {("dingtalk", True), ("feishu", True)}


@pytest.mark.parametrize(
    ("kind", "url", "key"),
    [
        ("dingtalk", "http://127.0.0.1:8111/robot/send?access_token=abc", "abc"),
        ("feishu", "http://127.0.0.1:8112/open-apis/bot/v2/hook/def", "def"),
        ("wecom", "http://127.0.0.1:8113/cgi-bin/webhook/send?key=ghi", "ghi"),
        ("slack", "http://127.0.0.1:8114/services/T/B/X", "T/B/X"),
    ],
)
def test_the_emulators_know_a_webhook_by_what_its_platform_does(kind, url, key):
    assert webhook_key(kind, url) == key


def test_the_seeded_operations_group_gets_the_emergency_stop_through_its_emulator(people):
    demo.seed(io.StringIO())
    app = EMULATORS["feishu"](emulator_credentials("feishu"))
    with EmulatorServer(app) as server:
        webhook = ChatWebhook.objects.get(kind="feishu")
        stored = webhook.get_credentials()
        port = stored["url"].split(":")[2].split("/")[0]
        webhook.set_credentials({"url": stored["url"].replace(f":{port}/", f":{server.port}/")})
        webhook.save()

        sending_stop(actor=people["operator"], reason="demo")
        row = Notification.objects.get(webhook=webhook)
        assert deliver(row.pk) == "sent"

    assert len(app.accepted) == 1
    assert not Notification.objects.filter(webhook__kind="dingtalk").exists()  # not its events


def test_the_demo_has_a_chinese_reviewer_whose_review_requests_are_chinese():
    from django.core import mail
    from django.core.management import call_command

    from tests.i18n.scan import english_in

    call_command("seed_demo", stdout=io.StringIO())
    rows = Notification.objects.filter(user__username="reviewer2", kind="review_requested")
    assert rows.exists() and set(rows.values_list("language", flat=True)) == {"zh-hans"}
    for row in rows:
        assert deliver(row.pk) == "sent"
    subjects = [m.subject for m in mail.outbox if m.to == ["reviewer2@crier.example"]]
    assert subjects and all(s.startswith("[Crier] 待审核：") for s in subjects), subjects
    for message in mail.outbox:  # the campaign's name is data (the demo's are English)
        name = message.subject.split("：", 1)[1]
        assert english_in(message.body.replace(name, "")) == [], message.body
    assert ChatWebhook.objects.get(kind="dingtalk").language == "zh-hans"
