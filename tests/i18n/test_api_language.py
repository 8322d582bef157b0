"""API errors in the client's language (README, "Languages"): the API authenticates with
tokens, so the request's Accept-Language chooses; the error keys stay English.

The 400 and the 409 are real refusals of the preview action (campaigns/previews.py): a
campaign without test uids (400, key ``test_uids``), and an approved campaign, which is
previewed no more (409, key ``detail``).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from approvals.services import campaign_approve, campaign_submit
from tests.api.conftest import quick_user, token_client
from tests.approvals.factories import make_campaign

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.5"}


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def marketer():
    return quick_user("i18n-marketer", "Marketing")


def preview(client, campaign, **headers):
    return client.post(f"/api/v1/campaigns/{campaign.pk}/preview/", {}, format="json", **headers)


def test_a_400_is_in_chinese_with_accept_language_zh_hans_and_english_without(marketer):
    campaign = make_campaign(marketer, test_uids=[])
    client = token_client(marketer)

    english = preview(client, campaign)
    chinese = preview(client, campaign, **ZH)

    assert english.status_code == chinese.status_code == 400
    assert set(english.json()) == set(chinese.json()) == {"test_uids"}
    assert english.json()["test_uids"] == [
        "test_uids is empty; a preview goes to 1 to 5 test users listed there"
    ]
    assert chinese.json()["test_uids"] == ["test_uids 为空；预览会发送给其中列出的 1 到 5 名测试用户"]
    assert chinese["Content-Language"] == "zh-hans"
    assert english["Content-Language"] == "en"


def test_a_409_is_in_chinese_with_accept_language_zh_hans_and_english_without(marketer):
    reviewer = quick_user("i18n-reviewer", "Reviewers")
    campaign = make_campaign(marketer)
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    client = token_client(marketer)

    english = preview(client, campaign)
    chinese = preview(client, campaign, **ZH)

    assert english.status_code == chinese.status_code == 409
    assert set(english.json()) == set(chinese.json()) == {"detail"}
    assert english.json()["detail"] == (
        f"campaign {campaign.pk} 'Spring sale' is approved; previews are sent only before approval "
        "(in draft, in_review, rejected)"
    )
    assert chinese.json()["detail"] == (
        f"群发活动 {campaign.pk} 'Spring sale' 状态为 approved；预览只能在批准前发送"
        "（状态为 draft, in_review, rejected 时）"
    )


def test_an_unsupported_language_falls_back_to_english(marketer):
    campaign = make_campaign(marketer, test_uids=[])
    response = preview(token_client(marketer), campaign, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert response.status_code == 400
    assert response.json()["test_uids"][0].startswith("test_uids is empty")
