"""Volume before approval in a real browser: a cron every minute shows its total and its
warning on the form and on the review page, the reviewer must tick "I have read these
warnings" to approve, and the campaign does not hide the others on the dashboard and the
calendar (one row a day with its real count, in English and Chinese). Screenshots, light
and dark, in tests/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from audit.models import AuditEvent
from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaign_create
from tests.approvals.factories import make_account as make_plain_account
from tests.campaigns.conftest import make_audience, make_recipients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def expect_message(tab, text: str) -> None:
    tab.locator(".messagelist").get_by_text(re.compile(re.escape(text))).first.wait_for()


def both_schemes(tab, screenshot, name: str) -> None:
    """Save the page in light and in dark mode."""
    tab.emulate_media(color_scheme="light")
    screenshot(tab, f"{name}_light")
    tab.emulate_media(color_scheme="dark")
    screenshot(tab, f"{name}_dark")
    tab.emulate_media(color_scheme="light")


def test_an_every_minute_cron_shows_its_volume_and_hides_no_other_campaign(
    page, login, live_server, screenshot, make_user, template
):
    marketer, reviewer = make_user("marketer", "Marketing"), make_user("reviewer", "Reviewers")
    make_user("reviewer2", "Reviewers")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    account = make_plain_account("jiguang")  # nothing is sent: no worker runs in this test
    audience = make_audience("users", name="Browser VIPs", user_ids=make_recipients(3, kind="jiguang"))
    common = {"template": template, "provider_account": account, "language": "en",
              "parameters": {"name": "Ada", "bonus": "10 USDT"}}
    other = campaign_create(actor=marketer, data={
        **common, "name": "Weekly digest", "schedule_kind": "once",
        "audience": make_audience("users", name="Readers", user_ids=["r1"]),
        "fixed_time": dt.datetime.combine(tomorrow, dt.time(10, 0), tzinfo=dt.UTC),
    })
    campaign_submit(campaign=other, actor=marketer)
    campaign_approve(campaign=other, actor=reviewer)
    spam = campaign_create(actor=marketer, data={
        **common, "name": "Every minute", "audience": audience, "schedule_kind": "cron", "cron": "* * * * *",
        "start_date": tomorrow, "end_date": tomorrow + dt.timedelta(days=40), "timezone": "UTC",
    })
    base = live_server.url

    # The marketer's form: the preview says the total and warns, live.
    login(page, "marketer")
    page.goto(f"{base}/admin/campaigns/campaign/{spam.pk}/change/")
    volume = page.locator("#form-volume")
    volume.wait_for()
    assert re.search(r"More than [\d,]+ occurrences × 3 recipients", volume.inner_text())
    assert "times within one hour" in volume.locator(".volume-warnings").inner_text()
    volume.scroll_into_view_if_needed()
    both_schemes(page, screenshot, "volume_form")
    campaign_submit(campaign=spam, actor=marketer)

    # The reviewer's page: the total, the warning, and the acknowledgement to approve.
    login(page, "reviewer")
    page.goto(f"{base}/admin/campaigns/campaign/{spam.pk}/review/")
    review = page.locator("#review-volume")
    assert "× 3 recipients" in review.inner_text()
    assert review.locator("li[data-code=occurrences_per_hour]").count() == 1
    both_schemes(page, screenshot, "volume_review")
    page.click("button[value=approve]")
    expect_message(page, "acknowledge")
    assert Campaign.objects.get(pk=spam.pk).status == CampaignStatus.IN_REVIEW
    page.check("#id_acknowledge_warnings")
    page.click("button[value=approve]")
    expect_message(page, "approved")
    assert Campaign.objects.get(pk=spam.pk).status == CampaignStatus.APPROVED
    event = AuditEvent.objects.get(campaign=spam, object_type="campaign", action="approve")
    assert [w["code"] for w in event.data["acknowledged_warnings"]] == ["occurrences_per_hour"]

    # The dashboard: one row a day for the dense campaign, and the other campaign is listed.
    page.goto(f"{base}/admin/")
    upcoming = page.locator("#dashboard-upcoming")
    assert "Weekly digest" in upcoming.inner_text()
    assert "00:00–23:59: 1,440 times" in upcoming.inner_text()  # the day's real count, no cap
    both_schemes(page, screenshot, "volume_dashboard")

    # The calendar: the dense campaign on every day with its count, the other one too.
    page.goto(f"{base}/admin/campaigns/campaign/calendar/")
    calendar = page.locator("#calendar")
    assert calendar.get_by_text("Weekly digest").count() == 1
    assert calendar.locator("li", has_text="Every minute").count() >= 28
    dense = calendar.locator("li", has_text="Every minute").first
    assert dense.locator(".time").inner_text() == "00:00–23:59"
    assert dense.locator(".count").inner_text() == "1,440×"
    assert "more than" not in calendar.inner_text()
    both_schemes(page, screenshot, "volume_calendar")

    # The same in Chinese (the header's language switcher): the count, not a cap.
    page.select_option("#crier-language", "zh-hans")
    page.click(".crier-language-switcher button[type=submit]")
    page.locator("html[lang=zh-hans]").wait_for()
    dense = page.locator("#calendar li", has_text="Every minute").first
    assert dense.locator(".count").inner_text() == "1,440 次"
    assert "超过" not in page.locator("#calendar").inner_text()
    page.goto(f"{base}/admin/")
    assert "00:00–23:59：1,440 次" in page.locator("#dashboard-upcoming").inner_text()
    page.goto(f"{base}/admin/campaigns/campaign/calendar/")
    both_schemes(page, screenshot, "volume_calendar_zh_hans")
