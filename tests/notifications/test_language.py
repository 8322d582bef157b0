"""Notifications in the recipient's language (README, "Languages"; notifications/languages.py).

One event, two reviewers: the one whose saved language is zh-Hans gets a Chinese e-mail,
the other an English one. Chinese means the catalogue's English scan (tests/i18n/scan.py)
finds nothing in the subject, the text part or the HTML part; the campaign's name and the
usernames are data, so the test names things in Chinese where they would be data. A chat
group set to zh-Hans gets Chinese through its emulator over real HTTP (the emulator checks
the signature). The language is chosen when the row is written, so a retry after the
recipient changed their mind renders the same language as the first attempt.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone, translation

from approvals.services import campaign_submit
from campaigns.sending.operations import sending_stop
from notifications.delivery import deliver
from notifications.messages import render
from notifications.models import Channel, ChatWebhook, Notification, NotificationPreference, UserPreference
from tests.approvals.factories import make_campaign, make_template
from tests.i18n.scan import english_in, visible_text
from tests.notifications.conftest import SECRETS, WEBHOOK_PATHS, make_webhook

pytestmark = pytest.mark.django_db
CAMPAIGN = "双十二大促"


def deliver_all() -> None:
    for pk in Notification.objects.order_by("pk").values_list("pk", flat=True):
        deliver(pk)


def mail_to(address: str):
    [message] = [m for m in mail.outbox if m.to == [address]]
    return message


def english_of(message) -> dict[str, list[str]]:
    """The catalogue's English found in each part of an e-mail a person reads."""
    html, _mime = message.alternatives[0]
    parts = {"subject": message.subject, "text": message.body, "html": visible_text(html, "zh-hans")}
    return {name: found for name, text in parts.items() if (found := english_in(text))}


@pytest.fixture
def submitted(people, settings):
    """The marketer submits a campaign; reviewer reads Chinese, reviewer2 saved nothing."""
    settings.CRIER_BASE_URL = "https://crier.example.com"
    UserPreference.objects.create(user=people["reviewer"], language="zh-hans")
    make_template()
    campaign = make_campaign(people["marketer"], name=CAMPAIGN)
    campaign_submit(campaign=campaign, actor=people["marketer"])
    return campaign


def test_one_event_reaches_a_chinese_reader_in_chinese_and_an_english_reader_in_english(submitted):
    deliver_all()

    chinese, english = mail_to("reviewer@example.com"), mail_to("reviewer2@example.com")
    assert chinese.subject == f"[Crier] 待审核：{CAMPAIGN}"
    assert "去审核" in chinese.body and "所需审批数" in chinese.body
    assert english_of(chinese) == {}
    html, _mime = chinese.alternatives[0]
    assert '<html lang="zh-hans">' in html and chinese.extra_headers["Content-Language"] == "zh-hans"
    link = f"https://crier.example.com/admin/campaigns/campaign/{submitted.pk}/review/"
    assert f"去审核：{link}" in chinese.body and "所需审批数：1" in chinese.body

    assert english.subject == f"[Crier] Review requested: {CAMPAIGN}"
    assert f"Review it: {link}" in english.body and "Approvals needed: 1" in english.body
    assert english_of(english), "the scan finds the English reader's English"
    assert english.extra_headers["Content-Language"] == "en"


def test_without_a_saved_language_a_notification_follows_language_code(submitted, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    UserPreference.objects.create(user=submitted.created_by, language="")  # saved "the browser's"
    campaign = make_campaign(submitted.created_by, name="会员周报")
    campaign_submit(campaign=campaign, actor=submitted.created_by)

    rows = Notification.objects.filter(audit_event__campaign=campaign, channel=Channel.EMAIL)
    assert dict(rows.values_list("user__username", "language")) == {
        "reviewer": "zh-hans",
        "reviewer2": "zh-hans",
    }


def test_a_retry_renders_the_language_of_the_first_attempt(submitted, people):
    row = Notification.objects.get(user=people["reviewer"], channel=Channel.EMAIL)
    assert row.language == "zh-hans"
    # The reviewer switches to English after the row was written: the row keeps its language.
    UserPreference.objects.filter(user=people["reviewer"]).update(language="en")
    with translation.override("en"):
        assert deliver(row.pk) == "sent"
    assert mail_to("reviewer@example.com").subject == f"[Crier] 待审核：{CAMPAIGN}"


def test_times_read_as_the_language_writes_them_in_the_sites_time_zone(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    context = {"campaign": CAMPAIGN, "details": {"due_at": "2026-12-07T01:00:00Z", "delivered": 3}}

    chinese = dict(render("held", context, "zh-hans").lines)
    english = dict(render("held", context, "en").lines)

    assert chinese == {"计划发送时间": "2026年12月7日 周一 09:00 (Asia/Shanghai)", "已送达": "3"}
    assert english == {"Due": "Mon 2026-12-07 09:00 (Asia/Shanghai)", "Delivered": "3"}


def test_a_chat_group_set_to_chinese_gets_chinese_through_its_emulator(chat_emulator, people, settings):
    settings.CRIER_BASE_URL = "https://crier.example.com"
    _path, key = WEBHOOK_PATHS["dingtalk"]
    server = chat_emulator("dingtalk", {key: SECRETS["dingtalk"]})  # checks the 加签 signature
    chinese = make_webhook("dingtalk", server, name="运营群", language="zh-hans")
    english = make_webhook("dingtalk", server, name="Ops")  # the default: LANGUAGE_CODE

    sending_stop(actor=people["operator"], reason="服务商故障")
    for webhook in (chinese, english):
        assert deliver(Notification.objects.get(webhook=webhook).pk) == "sent"

    text = {a.payload["markdown"]["title"]: a.payload["markdown"]["text"] for a in server.app.accepted}
    zh, en = "紧急停止：所有发送已暂停", "Emergency stop: all sending is halted"
    assert set(text) == {zh, en}
    assert "- **原因**：服务商故障" in text[zh] and "(https://crier.example.com/admin/)" in text[zh]
    assert english_in(text[zh]) == []
    assert "- **Reason**: 服务商故障" in text[en] and english_in(text[en])


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/admin/notifications/notificationpreference/", "通知偏好"),
        ("/admin/notifications/notificationpreference/add/", "邮件使用您在“我的偏好”中选择的语言"),
        ("/admin/preferences/", "您的邮件通知也使用此语言"),
    ],
)
def test_the_notification_preference_pages_read_chinese_for_a_chinese_reader(client, people, path, says):
    UserPreference.objects.create(user=people["reviewer"], language="zh-hans")
    client.force_login(people["reviewer"])  # the saved language is applied at sign-in
    NotificationPreference.objects.create(user=people["reviewer"], kind="held", enabled=False)

    response = client.get(path)

    assert response.status_code == 200 and response["Content-Language"] == "zh-hans"
    page = visible_text(response.content.decode(), "zh-hans")
    assert says in page  # which language e-mails are written in, in Chinese
    assert english_in(page) == []


def test_a_refused_notification_preference_says_why_in_chinese(client, people):
    UserPreference.objects.create(user=people["operator"], language="zh-hans")
    NotificationPreference.objects.create(user=people["operator"], kind="sending_stopped", enabled=True)
    client.force_login(people["operator"])

    response = client.post(
        "/admin/notifications/notificationpreference/add/", {"kind": "sending_stopped", "channel": "email"}
    )

    assert response.status_code == 200
    page = visible_text(response.content.decode(), "zh-hans")
    assert "kind：此事件和渠道的偏好已存在；请修改它。" in page
    assert english_in(page) == []


def test_the_chat_webhook_form_offers_each_language_and_reads_chinese(client, make_user):
    boss = make_user("boss", superuser=True)
    UserPreference.objects.create(user=boss, language="zh-hans")
    client.force_login(boss)

    page = client.get("/admin/notifications/chatwebhook/add/").content.decode()

    assert '<option value="zh-hans">简体中文</option>' in page
    assert '<option value="en" selected>English</option>' in page  # LANGUAGE_CODE by default
    assert english_in(visible_text(page, "zh-hans")) == []


def test_a_chat_retry_after_the_platform_was_down_speaks_the_first_attempts_language(chat_emulator, people):
    server = chat_emulator("slack", {WEBHOOK_PATHS["slack"][1]: ""})
    server.app.knobs.faults = {"down": 1.0}  # Slack answers 500 to everything
    webhook = make_webhook("slack", server, language="zh-hans")
    sending_stop(actor=people["operator"], reason="服务商故障")
    row = Notification.objects.get(webhook=webhook)

    assert deliver(row.pk) == "retry"
    ChatWebhook.objects.filter(pk=webhook.pk).update(language="en")  # changed between the attempts
    server.app.knobs.faults = {}
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert deliver(row.pk) == "sent"

    [accepted] = server.app.accepted
    assert accepted.payload["blocks"][0]["text"]["text"] == "紧急停止：所有发送已暂停"
    assert english_in(accepted.payload["text"]) == []
