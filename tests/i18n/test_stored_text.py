"""Sentences the engine stores in English read in the reader's language (audit/stored_text.py,
campaigns/stored_text.py, notifications/errors.py).

A dispatch refused because its campaign changed, one that skipped recipients, one held
because its reach grew: their ``detail`` is stored once in English, and the report shows it
in Chinese to a zh-Hans reader and as stored to an English one. Text Crier did not write
(a provider's words) is shown as stored.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from approvals.holds import dispatch_cancel
from approvals.services import campaign_approve, campaign_submit
from audit import stored_text as stored_text_base
from audit.services import record_event
from audit.stored_text import in_reader_language
from campaigns import stored_text
from campaigns.models import Delivery, Dispatch, DispatchStatus
from campaigns.sending.operations import sending_stop
from notifications import errors as notification_errors
from notifications.errors import DeliveryError
from notifications.models import Notification, UserPreference
from tests.approvals.factories import make_campaign
from tests.i18n.scan import english_in, visible_text

pytestmark = pytest.mark.django_db

SKIPPED = stored_text.skipped({"no address": 3, "opted out of provider": 1})
HELD = stored_text.english(stored_text.HELD, reach=12, limit=10, approved=9)


def test_the_engine_stores_english_whatever_the_active_language():
    with translation.override("zh-hans"):
        assert SKIPPED == "skipped: 3 no address, 1 opted out of provider"
        assert HELD.startswith("held: this occurrence reaches 12 recipients")


@pytest.mark.parametrize(
    ("stored", "chinese"),
    [
        (stored_text.REFUSED_CHANGED, "群发活动在批准后被修改（内容哈希不一致）；未发送"),
        (SKIPPED, "已跳过：无地址 3 人、已退订此服务商 1 人"),
        (stored_text.CANCELLED, "群发活动已取消"),
        (
            stored_text.english(stored_text.EXPIRED, at="2026-12-07 09:00:05", late=305, limit=300),
            "于 2026-12-07 09:00:05 UTC 才开始处理，比计划发送时间晚 305 秒；过期时限 expired_seconds 为 300",
        ),
        ("provider said: quota exceeded", "provider said: quota exceeded"),  # not Crier's words
        ("skipped: 3 bananas", "skipped: 3 bananas"),  # not a reason Crier writes
    ],
)
def test_a_stored_sentence_reads_in_the_readers_language(stored, chinese):
    with translation.override("zh-hans"):
        assert stored_text.in_reader_language(stored) == chinese
    with translation.override("en"):
        assert stored_text.in_reader_language(stored) == stored


@pytest.fixture
def reported(client, make_user):
    """An approved campaign with a refused, a skipping and a held occurrence; a zh-Hans reader."""
    marketer, reviewer = make_user("marketer", "Marketing"), make_user("reviewer", "Reviewers")
    boss = make_user("boss", superuser=True)
    UserPreference.objects.create(user=boss, language="zh-hans")
    campaign = make_campaign(marketer, name="双十二大促")
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    due = timezone.now()
    for hours, status, detail in [
        (1, DispatchStatus.REFUSED, stored_text.REFUSED_CHANGED),
        (2, DispatchStatus.SENT, SKIPPED),
        (3, DispatchStatus.HELD, HELD),
    ]:
        due_at = due - timedelta(hours=hours)
        Dispatch.objects.create(campaign=campaign, due_at=due_at, status=status, detail=detail)
    client.force_login(boss)
    return campaign


def test_the_report_shows_stored_details_in_chinese_to_a_chinese_reader(client, reported):
    page = client.get(f"/admin/campaigns/campaign/{reported.pk}/report/").content.decode()

    text = visible_text(page, "zh-hans")
    assert "群发活动在批准后被修改（内容哈希不一致）；未发送" in text
    assert "已跳过：无地址 3 人、已退订此服务商 1 人" in text
    assert "已暂扣：本发送场次触达 12 名接收人，超过批准上限 10（批准时触达人数 9）" in text
    for english in (stored_text.REFUSED_CHANGED, SKIPPED, "held: this occurrence"):
        assert english not in text
    assert english_in(text) == []


def test_a_dispatch_page_shows_its_stored_detail_in_chinese(client, reported):
    refused = Dispatch.objects.get(campaign=reported, status=DispatchStatus.REFUSED)

    page = client.get(f"/admin/campaigns/dispatch/{refused.pk}/change/").content.decode()

    text = visible_text(page, "zh-hans")
    assert "群发活动在批准后被修改（内容哈希不一致）；未发送" in text
    assert stored_text.REFUSED_CHANGED not in text


# --- every sentence Crier stores, and the pages that show them (audit/stored_text.py) ---------


def _sample(msgid: str) -> dict[str, str]:
    """A value for each placeholder of ``msgid``: a word no catalogue translates (the list of
    skipped recipients has a reader of its own, which knows only the reasons Crier writes)."""
    if msgid == stored_text.SKIPPED:
        return {"counts": "3 no address"}
    return {name: f"v{i}x" for i, name in enumerate(stored_text_base.PLACEHOLDER.findall(msgid))}


@pytest.mark.parametrize("msgid", sorted(stored_text_base.declared()))
def test_every_declared_sentence_is_recognised_and_read_in_chinese(msgid):
    values = _sample(msgid)
    stored = stored_text.english(msgid, **values)
    with translation.override("zh-hans"):
        chinese = stored_text.in_reader_language(stored)
    assert chinese != stored, f"not translated or not recognised: {msgid!r}"
    assert english_in(chinese) == []
    for value in values.values():
        assert value.split()[0] in chinese  # the same values, in the Chinese sentence
    with translation.override("en"):
        assert stored_text.in_reader_language(stored) == stored


def test_a_sentence_inside_a_sentence_is_translated_too():
    stored = stored_text.english(stored_text.MORE_SCHEDULED, ended=stored_text.OCCURRENCE_HELD)
    assert stored == "occurrence held for a reviewer; more are scheduled"
    with translation.override("zh-hans"):
        chinese = stored_text.in_reader_language(stored)
    assert chinese == "发送场次已暂扣，等待审核人处理；后续还有已排期的发送场次"


def test_the_sentence_with_more_words_of_its_own_is_matched_first():
    stored = stored_text.english(stored_text.HELD_CANCELLED_BY_BECAUSE, user="rev", reason="too many; wait")
    with translation.override("zh-hans"):
        assert stored_text.in_reader_language(stored) == "rev 已取消被暂扣的发送场次：too many; wait"


def test_a_sentence_of_values_alone_cannot_be_declared():
    with pytest.raises(ValueError, match="words of its own"):
        stored_text_base.sentence("%(a)s: %(b)s")


def test_english_is_stored_whatever_the_writers_language():
    with translation.override("zh-hans"):
        stored = stored_text.english(stored_text.ACCOUNT_DISABLED, name=gettext_lazy("Campaigns"))
    assert stored == "provider account 'Campaigns' is disabled; waiting"


@pytest.fixture
def chinese_operator(client, make_user):
    boss = make_user("boss", superuser=True)
    UserPreference.objects.create(user=boss, language="zh-hans")
    client.force_login(boss)
    return boss


def test_the_audit_trail_shows_stored_reasons_in_chinese(client, chinese_operator):
    event = record_event(object_type="dispatch", object_id=7, action="release", reason=stored_text.HALTED)
    own_words = record_event(object_type="dispatch", object_id=7, action="stop", reason="quota exceeded")

    page = client.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    assert "已被紧急停止暂停" in visible_text(page, "zh-hans")
    assert stored_text.HALTED not in page
    page = client.get(f"/admin/audit/auditevent/{own_words.pk}/change/").content.decode()
    assert "quota exceeded" in page  # a person's words, as written
    event.refresh_from_db()
    assert event.reason == stored_text.HALTED  # the chain keeps (and hashes) what was stored


def test_a_request_left_in_flight_reads_in_chinese(client, chinese_operator, marketer, reviewer):
    campaign = make_campaign(marketer)
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    dispatch = Dispatch.objects.create(campaign=campaign, due_at=timezone.now(), status=DispatchStatus.SENT)
    delivery = Delivery.objects.create(
        dispatch=dispatch, batch_no=1, idempotency_key="zh-1", status="unknown",
        provider_code="WORKER_LOST", provider_message=stored_text.WORKER_LOST,
    )

    page = client.get(f"/admin/campaigns/delivery/{delivery.pk}/change/").content.decode()
    assert "此请求发送中时工作进程已停止" in visible_text(page, "zh-hans")
    assert "Resend or close it" not in page


def test_a_notifications_last_error_reads_in_chinese(client, chinese_operator, make_user):
    operator = make_user("operator", "Operators")
    operator.email = "operator@example.com"
    operator.save(update_fields=["email"])
    sending_stop(actor=operator, reason="x")  # e-mails the operators
    row = Notification.objects.get()
    error = DeliveryError.saying(notification_errors.HTTP_STATUS, platform="Slack", status=503)
    row.last_error = str(error)
    row.save(update_fields=["last_error"])
    assert row.last_error == "Slack answered HTTP 503"

    for url in ("/admin/notifications/notification/", f"/admin/notifications/notification/{row.pk}/change/"):
        text = visible_text(client.get(url).content.decode(), "zh-hans")
        assert "Slack 返回 HTTP 503" in text, url
        assert "answered HTTP" not in text


def test_a_held_occurrence_cancelled_by_a_chinese_reviewer_is_stored_in_english(
    marketer, reviewer, make_user
):
    campaign = make_campaign(marketer)
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    held = Dispatch.objects.create(
        campaign=campaign, due_at=timezone.now(), status=DispatchStatus.HELD, reach=12
    )
    second = make_user("reviewer-b", "Reviewers")

    with translation.override("zh-hans"):
        dispatch_cancel(dispatch=held, actor=second, reason="预算不足")

    held.refresh_from_db()
    assert held.detail == "held occurrence cancelled by reviewer-b: 预算不足"
    with translation.override("zh-hans"):
        assert in_reader_language(held.detail) == "reviewer-b 已取消被暂扣的发送场次：预算不足"
