"""The review diff: what changed since the last approved (else last reviewed) snapshot."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.diff import campaign_review_diff, snapshot_diff, word_diff
from approvals.services import campaign_approve, campaign_reject, campaign_submit
from campaigns.audiences.services import audience_size
from campaigns.services import campaign_edit

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def approved_then_edited(draft, marketer, reviewer, **changes):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer, comment="ok")
    campaign_edit(campaign=draft, actor=marketer, changes=changes)
    draft.refresh_from_db()
    return draft


# --- the word diff ------------------------------------------------------------------------


def test_word_diff_names_the_words_removed_and_added_and_rebuilds_both_texts():
    diff = word_diff("Save 20% today", "Save 25% today only")

    assert diff["changed"] is True
    assert (diff["removed"], diff["added"]) == (["20%"], ["25%", "only"])
    before = "".join(op["text"] for op in diff["ops"] if op["op"] != "insert")
    after = "".join(op["text"] for op in diff["ops"] if op["op"] != "delete")
    assert (before, after) == ("Save 20% today", "Save 25% today only")


def test_word_diff_of_equal_texts_is_unchanged():
    diff = word_diff("Hello Ada", "Hello Ada")

    assert diff["changed"] is False and diff["removed"] == diff["added"] == []


def test_snapshot_diff_compares_schedule_audience_options_and_other_inputs_by_key():
    before = {
        "messages": [{"language": "en", "title": "Hi", "body": "a b"}],
        "schedule": {"kind": "now", "timezone": "UTC"},
        "audience": {"kind": "tags", "tags": ["vip"], "size": 10},
        "provider_options": {"channel": "PUSH"},
        "priority": 1,
        "requests": [{"x": 1}],
    }
    after = {
        "messages": [
            {"language": "en", "title": "Hi", "body": "a c"},
            {"language": "de", "title": "Hallo", "body": ""},
        ],
        "schedule": {"kind": "now", "timezone": "Europe/Berlin"},
        "audience": {"kind": "tags", "tags": ["vip", "new"], "size": 99},
        "provider_options": {"channel": "INBOX"},
        "priority": 2,
        "requests": [{"x": 2}],
    }

    diff = snapshot_diff(before, after)

    assert [(m["language"], m["change"]) for m in diff["messages"]] == [("en", "changed"), ("de", "added")]
    assert diff["messages"][0]["body"]["removed"] == ["b"] and diff["messages"][0]["body"]["added"] == ["c"]
    assert diff["schedule"] == [{"field": "timezone", "before": "UTC", "after": "Europe/Berlin"}]
    # The size is reach, compared on its own.
    assert diff["audience"] == [{"field": "tags", "before": ["vip"], "after": ["vip", "new"]}]
    assert diff["provider_options"] == [{"field": "channel", "before": "PUSH", "after": "INBOX"}]
    assert diff["other"] == [{"field": "priority", "before": 1, "after": 2}]  # requests follow from the rest


# --- against the last approved or reviewed snapshot ------------------------------------------


def test_no_diff_before_any_decision(draft, marketer):
    assert campaign_review_diff(campaign=draft) is None
    campaign_submit(campaign=draft, actor=marketer)
    assert campaign_review_diff(campaign=draft) is None


def test_a_resubmitted_campaign_is_compared_with_its_approved_snapshot(draft, marketer, reviewer):
    approved_then_edited(draft, marketer, reviewer, parameters={"name": "Ada", "pct": "25"}, priority=3)
    campaign_submit(campaign=draft, actor=marketer)

    diff = campaign_review_diff(campaign=draft)

    assert diff["base"]["ended"] == "approved" and diff["current"]["review"] is not None
    assert diff["changed"] is True
    by_language = {m["language"]: m for m in diff["messages"]}
    assert by_language["en"]["body"]["removed"] == ["20%"] and by_language["en"]["body"]["added"] == ["25%"]
    assert by_language["zh-CN"]["body"]["changed"] is True
    assert {"field": "priority", "before": 2, "after": 3} in diff["other"]
    assert diff["schedule"] == [] and diff["provider_options"] == []


def test_a_draft_is_compared_as_it_stands(draft, marketer, reviewer):
    approved_then_edited(draft, marketer, reviewer, schedule_kind="now", timezone="Asia/Shanghai")

    diff = campaign_review_diff(campaign=draft)

    assert diff["current"] == {"review": None, "status": "draft"}
    assert diff["schedule"] == [{"field": "timezone", "before": "UTC", "after": "Asia/Shanghai"}]


def test_after_a_rejection_the_rejected_snapshot_is_the_base(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_reject(campaign=draft, actor=reviewer, comment="say 25")
    campaign_edit(campaign=draft, actor=marketer, changes={"parameters": {"name": "Ada", "pct": "25"}})
    campaign_submit(campaign=draft, actor=marketer)

    diff = campaign_review_diff(campaign=draft)

    assert diff["base"]["ended"] == "reviewed" and diff["base"]["status"] == "rejected"
    assert any(m["body"]["added"] == ["25%"] for m in diff["messages"])


def test_reach_is_compared_as_recorded_at_each_submission(draft, marketer, reviewer):
    approved_then_edited(draft, marketer, reviewer, priority=3)
    review = draft.reviews.order_by("-id").first()
    type(review).objects.filter(pk=review.pk).update(reach=2)

    diff = campaign_review_diff(campaign=draft)

    now = audience_size(draft.audience, provider_kind=draft.provider_account.kind)
    assert diff["reach"] == {"before": 2, "after": now, "changed": True}  # a draft: counted now


# --- the API ----------------------------------------------------------------------------------


def test_api_review_diff_returns_the_changes(draft, marketer, reviewer):
    approved_then_edited(draft, marketer, reviewer, parameters={"name": "Ada", "pct": "25"})
    campaign_submit(campaign=draft, actor=marketer)

    response = client_for(reviewer).get(f"/api/v1/campaigns/{draft.pk}/review-diff/")

    assert response.status_code == 200
    body = response.json()
    en = next(m for m in body["messages"] if m["language"] == "en")
    assert en["body"]["removed"] == ["20%"] and en["body"]["added"] == ["25%"]
    assert {"op": "insert", "text": "25%"} in en["body"]["ops"]
    assert body["base"]["ended"] == "approved" and "reach" in body


def test_api_review_diff_is_404_in_words_without_an_earlier_review(draft, marketer):
    response = client_for(marketer).get(f"/api/v1/campaigns/{draft.pk}/review-diff/")

    assert response.status_code == 404
    assert "never approved nor decided on" in response.json()["detail"]


# --- the review page --------------------------------------------------------------------------


def test_review_page_shows_the_diff_at_the_top_with_the_changed_word_marked(draft, marketer, reviewer):
    approved_then_edited(draft, marketer, reviewer, parameters={"name": "Ada", "pct": "25"})
    campaign_submit(campaign=draft, actor=marketer)
    client = Client()
    client.force_login(reviewer)

    page = client.get(reverse("admin:campaigns_campaign_review", args=[draft.pk])).content.decode()

    assert 'id="review-diff"' in page
    assert "<del>20%</del>" in page and "<ins>25%</ins>" in page
    assert page.index('id="review-diff"') < page.index('id="review-messages"')
