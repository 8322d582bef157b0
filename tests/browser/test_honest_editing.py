"""Editing an approved campaign in a real browser: the admin asks first, says what it did, and
the reviewer sees what changed.

A marketer edits an approved campaign: saving asks for confirmation ("Saving withdraws the
approval"), and after "Save anyway" the campaign is back in draft and the message says so.
The marketer submits it again; the reviewer's review page shows the diff against the
approved version with the changed word marked. Screenshots land in tests/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaign_create
from tests.approvals.factories import make_account as make_plain_account
from tests.campaigns.conftest import make_audience, make_recipients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def expect_message(tab, text: str) -> None:
    """Wait for the admin's message list to say ``text``."""
    tab.locator(".messagelist").get_by_text(re.compile(re.escape(text))).first.wait_for()


def test_editing_an_approved_campaign_asks_first_and_the_reviewer_sees_the_diff(
    page, login, live_server, screenshot, make_user, template
):
    marketer, reviewer = make_user("marketer", "Marketing"), make_user("reviewer", "Reviewers")
    audience = make_audience("users", name="Browser VIPs", user_ids=make_recipients(3))
    campaign = campaign_create(
        actor=marketer,
        data={
            "name": "Autumn bonus",
            "template": template,
            "provider_account": make_plain_account("alipayplus"),  # due in two days: nothing is sent
            "audience": audience,
            "language": "en",
            "parameters": {"name": "Ada", "bonus": "10 USDT"},
            "schedule_kind": "once",
            "fixed_time": (timezone.now() + dt.timedelta(days=2)).replace(second=0, microsecond=0),
        },
    )
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer, comment="fine")
    base = live_server.url

    # The marketer opens the approved campaign: the page says before any save what saving does.
    login(page, "marketer")
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
    assert "Saving withdraws the approval" in page.inner_text("#withdraw-note")
    page.fill("input[name=parameters__bonus]", "25 USDT")
    page.locator("input[name=_save]:visible").first.click()

    # Nothing is saved yet: the page asks, keeping the edit in the form.
    confirm = page.locator("#withdraw-confirm")
    confirm.wait_for()
    assert "Saving withdraws the approval; the campaign must be reviewed again." in confirm.inner_text()
    assert page.input_value("input[name=parameters__bonus]") == "25 USDT"
    assert page.locator(".errornote").is_hidden()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED and campaign.parameters["bonus"] == "10 USDT"
    screenshot(page, "edit_approved_confirm")

    # Save anyway: saved, back in draft, and the message says what happened.
    page.click("#withdraw-save-anyway")
    expect_message(page, "was returned to draft: its approval was withdrawn; submit it for review again")
    assert "Draft" in page.inner_text(".field-status")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.parameters["bonus"]) == (CampaignStatus.DRAFT, "25 USDT")
    screenshot(page, "edit_approved_withdrawn")

    # The marketer submits it again.
    page.click("button[value=submit]")
    expect_message(page, "submitted for review")
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.IN_REVIEW

    # The reviewer sees, at the top of the review page, what changed since the approval.
    login(page, "reviewer")
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/review/")
    diff = page.locator("#review-diff")
    diff.wait_for()
    assert "Changed since the approved version" in diff.inner_text()
    assert diff.locator("ins", has_text="25").count() >= 1
    assert diff.locator("del", has_text="10").count() >= 1
    diff_top = diff.bounding_box()["y"]
    assert diff_top < page.locator("#review-messages").bounding_box()["y"]
    screenshot(page, "review_diff")
