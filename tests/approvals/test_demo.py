"""The demo seed: campaigns at each step of the life cycle, idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from approvals.audit import audit_verify
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

    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert Campaign.objects.count() == 3
    assert "left as it is" in out.getvalue()
    assert audit_verify().ok
