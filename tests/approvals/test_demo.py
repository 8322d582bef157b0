"""The demo seed: campaigns at each step of the life cycle, idempotent."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from approvals.models import ApprovalRule
from audit.services import audit_verify
from campaigns.models import Campaign, CampaignStatus

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_campaigns_in_draft_review_and_approved_and_is_idempotent():
    call_command("seed_demo", stdout=io.StringIO())
    statuses = dict(Campaign.objects.values_list("name", "status"))
    assert statuses == {
        "Welcome bonus — Alipay+ VIPs": CampaignStatus.DRAFT,
        "Weekly digest — Jiguang beta testers": CampaignStatus.IN_REVIEW,
        "New listing — Binance broadcast": CampaignStatus.APPROVED,
    }
    broadcast = Campaign.objects.get(name="New listing — Binance broadcast")
    assert broadcast.reviews.get().decisions.count() == 2  # broadcasts need two reviewers
    # ... and, under the demo's rule for large audiences, one of them from Compliance.
    review = broadcast.reviews.get()
    assert [r["name"] for r in review.requirement["rules"]] == [
        "Broadcast to everyone", "Large audiences need Compliance"
    ]
    assert sorted(review.decisions.values_list("reviewer__username", flat=True)) == ["compliance", "reviewer"]
    compliance = get_user_model().objects.get(username="compliance")
    assert compliance.check_password("compliance-demo")
    assert set(compliance.groups.values_list("name", flat=True)) == {"Compliance", "Reviewers"}
    rule = ApprovalRule.objects.get(name="Large audiences need Compliance")
    assert (rule.min_reach, rule.required_group.name) == (150, "Compliance")

    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert Campaign.objects.count() == 3
    assert ApprovalRule.objects.count() == 2
    assert "left as it is" in out.getvalue()
    assert audit_verify().ok


def test_seed_demo_works_when_shanghai_is_already_a_day_ahead_of_utc():
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime(2026, 11, 26, 17, 0, tzinfo=dt.UTC), tick=True):
        call_command("seed_demo", stdout=io.StringIO())
    digest = Campaign.objects.get(name="Weekly digest — Jiguang beta testers")
    assert digest.status == CampaignStatus.IN_REVIEW
    assert str(digest.start_date) == "2026-11-27"
