"""GET /api/v1/reviews/: the reviewer's view of what was submitted."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import Dispatch, DispatchStatus

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_pending_reviews_show_the_snapshot_and_who_may_approve(draft, broadcast, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_submit(campaign=broadcast, actor=marketer)
    campaign_approve(campaign=broadcast, actor=reviewer)

    reviews = client_for(reviewer).get("/api/v1/reviews/?status=pending").json()["results"]

    by_campaign = {r["campaign"]: r for r in reviews}
    assert set(by_campaign) == {draft.pk, broadcast.pk}
    mine = by_campaign[draft.pk]
    assert mine["may_approve"] is True
    assert mine["snapshot"]["messages"][0]["body"] == "Save 20% today"
    assert mine["snapshot"]["requests"][0]["templateCode"] == "TP_5800000001"
    decided = by_campaign[broadcast.pk]
    assert decided["may_approve"] is False
    assert "already decided" in decided["may_not_approve_because"]
    assert [d["reviewer"] for d in decided["decisions"]] == ["reviewer"]


def test_the_submitter_sees_why_they_may_not_approve(draft, make_user):
    both = make_user("both", "Marketing", "Reviewers")
    campaign_submit(campaign=draft, actor=both)

    (review,) = client_for(both).get("/api/v1/reviews/?status=pending").json()["results"]

    assert review["may_approve"] is False
    assert "four-eyes rule" in review["may_not_approve_because"]


def test_binance_previews_are_shown_as_accepted_for_review_not_delivered(broadcast, marketer, reviewer):
    review = campaign_submit(campaign=broadcast, actor=marketer)
    Dispatch.objects.create(
        campaign=broadcast, due_at=timezone.now(), is_preview=True, status=DispatchStatus.SENT,
        content_hash=review.content_hash, total_requests=1, delivered=1,
    )

    body = client_for(reviewer).get(f"/api/v1/reviews/{review.pk}/").json()

    assert body["previews"][0]["outcome"].startswith("accepted for Binance review")


def test_reviews_need_a_logged_in_user():
    assert APIClient().get("/api/v1/reviews/").status_code in (401, 403)
