"""The review page's expected skips (approvals/selectors.py): who the send would leave out
and why, counted as the engine counts them, and honest about a count it cut short."""

from __future__ import annotations

import pytest

from approvals.selectors import expected_skips
from tests.approvals.factories import make_account, make_audience, make_campaign
from tests.campaigns.conftest import make_recipients

pytestmark = pytest.mark.django_db


def test_expected_skips_count_each_reason(marketer):
    ids = [*make_recipients(4), *make_recipients(2, prefix="j", kind="jiguang"), "ghost"]
    audience = make_audience("users", user_ids=ids)
    campaign = make_campaign(marketer, audience=audience, provider_account=make_account("alipayplus"))

    assert expected_skips(campaign) == {
        "reasons": [("no address", 2), ("unknown recipient", 1)], "read": 7, "complete": True,
    }


def test_a_count_cut_short_says_so(marketer):
    audience = make_audience("users", user_ids=make_recipients(2500))
    campaign = make_campaign(marketer, audience=audience, provider_account=make_account("alipayplus"))

    found = expected_skips(campaign, limit=1000)

    assert found["complete"] is False and 1000 <= found["read"] < 2500


def test_a_broadcast_only_the_provider_resolves_has_no_expected_skips(marketer):
    everyone, binance = make_audience("all"), make_account("binance")
    campaign = make_campaign(marketer, audience=everyone, provider_account=binance)

    assert expected_skips(campaign) is None


def test_an_account_without_an_app_id_shows_none_on_the_review_page(marketer, make_user):
    from django.test import Client

    jiguang = make_account("jiguang", app_id="")
    campaign = make_campaign(marketer, provider_account=jiguang)
    reviewer = make_user("reader", "Reviewers")
    client = Client()
    client.force_login(reviewer)

    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/review/").content.decode()

    assert "<code>https://jiguang.example</code>" in page  # the snapshot was built and shown
    assert "app id" not in page
