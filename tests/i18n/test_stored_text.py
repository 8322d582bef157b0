"""Sentences the engine stores in English read in the reader's language (campaigns/stored_text.py).

A dispatch refused because its campaign changed, one that skipped recipients, one held
because its reach grew: their ``detail`` is stored once in English, and the report shows it
in Chinese to a zh-Hans reader and as stored to an English one. Text Crier did not write
(a provider's words) is shown as stored.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from approvals.services import campaign_approve, campaign_submit
from campaigns import stored_text
from campaigns.models import Dispatch, DispatchStatus
from notifications.models import UserPreference
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
