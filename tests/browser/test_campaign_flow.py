"""The everyday path in a real browser: write, preview, submit, review, approve, watch it go out.

Headless Chromium drives the admin served by ``live_server``; a real ``qcluster`` sends
the preview and the campaign to the Alipay+ emulator. Screenshots of the dashboard, the
campaign form, the review page, the report and the calendar land in tests/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
)
from campaigns.services import campaign_create
from tests.campaigns.conftest import make_audience, make_recipients, wait_for


def shanghai_today() -> dt.date:
    """Return today's date in Asia/Shanghai, the zone these campaigns use (ahead of UTC)."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

DONE = (DispatchStatus.SENT, DispatchStatus.PARTIALLY_FAILED, DispatchStatus.FAILED)
PARAMETERS = {"name": "Ada", "bonus": "10 USDT"}


def expect_message(tab, text: str) -> None:
    """Wait for the admin's message list to say ``text``."""
    tab.locator(".messagelist").get_by_text(re.compile(re.escape(text))).first.wait_for()


def scheduled_campaign(*, name: str, author, template, account, audience, **schedule) -> Campaign:
    return campaign_create(
        actor=author,
        data={
            "name": name,
            "template": template,
            "provider_account": account,
            "audience": audience,
            "language": "en",
            "parameters": PARAMETERS,
            **schedule,
        },
    )


def seed_other_campaigns(*, marketer, reviewer, template, account, audience) -> None:
    """Two approved campaigns to one audience on one day (an overlap), and one awaiting review."""
    day = timezone.now() + dt.timedelta(days=2)
    for hour, name in ((9, "Weekend promo A"), (15, "Weekend promo B")):
        campaign = scheduled_campaign(
            name=name,
            author=marketer,
            template=template,
            account=account,
            audience=audience,
            schedule_kind="once",
            fixed_time=day.replace(hour=hour, minute=0, second=0, microsecond=0),
        )
        campaign_submit(campaign=campaign, actor=marketer)
        campaign_approve(campaign=campaign, actor=reviewer, comment="fine")
    weekly = scheduled_campaign(
        name="Weekly digest",
        author=marketer,
        template=template,
        account=account,
        audience=audience,
        schedule_kind="recurring",
        circle_type=2,
        circle_value=[1, 4],
        time=dt.time(9),
        start_date=shanghai_today(),
        end_date=shanghai_today() + dt.timedelta(days=60),
        timezone="Asia/Shanghai",
    )
    campaign_submit(campaign=weekly, actor=marketer)


def test_a_campaign_goes_from_the_marketers_form_through_review_to_the_report(
    page, login, live_server, screenshot, make_user, make_account, template, qcluster
):
    marketer, reviewer = make_user("marketer", "Marketing"), make_user("reviewer", "Reviewers")
    account, server = make_account("alipayplus")
    ids = make_recipients(3)
    audience = make_audience("users", name="Browser VIPs", user_ids=ids)
    seed_other_campaigns(
        marketer=marketer, reviewer=reviewer, template=template, account=account, audience=audience
    )
    cluster = qcluster()
    base = live_server.url

    # The marketer writes the campaign: the template's variables become inputs.
    login(page, "marketer")
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Autumn bonus")
    page.select_option("#id_template", str(template.pk))
    page.fill("input[name=parameters__name]", "Ada")
    page.fill("input[name=parameters__bonus]", "10 USDT")
    assert page.locator("#id_language option").all_inner_texts() == ["en", "es", "zh-CN"]
    page.select_option("#id_provider_account", str(account.pk))
    page.select_option("#id_audience", str(audience.pk))
    page.locator("#audience-size").get_by_text("3 recipients").wait_for()
    page.fill("#id_test_uids", f"{ids[0]}, {ids[1]}")
    page.locator("#schedule-preview").get_by_text("as soon as approved").wait_for()
    screenshot(page, "campaign_form")
    page.click("input[name=_continue]")
    expect_message(page, "was added successfully")
    campaign = Campaign.objects.get(name="Autumn bonus")
    assert campaign.parameters == PARAMETERS and campaign.test_uids == ids[:2]

    # … sends a preview to the test uids, then submits.
    page.click("button[value=preview]")
    expect_message(page, "preview started")
    wait_for(
        lambda: Dispatch.objects.filter(campaign=campaign, is_preview=True, status__in=DONE).exists(),
        timeout=45,
        what="the preview to be sent",
    )
    page.click("button[value=submit]")
    expect_message(page, "submitted for review")
    assert page.locator("button[value=submit]").count() == 0  # a button only where the move is allowed

    # The marketer sees what will be sent but cannot approve.
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/review/")
    assert page.locator("#review-messages .review-card").count() == 3
    assert page.locator("button[value=approve]").count() == 0
    assert "cannot approve" in page.inner_text("#approve-refusal")

    # The reviewer finds it on the dashboard and approves it from the review page.
    login(page, "reviewer")
    page.locator("#dashboard-awaiting").get_by_text("Autumn bonus").wait_for()
    screenshot(page, "dashboard")
    page.locator("#dashboard-awaiting").get_by_role("link", name="Autumn bonus").click()
    cards = page.locator("#review-messages")
    for text in ("Your bonus: 10 USDT", "奖励：10 USDT", "Tu bono: 10 USDT"):
        cards.get_by_text(text).wait_for()
    assert "Browser VIPs" in page.inner_text("#review-audience")
    assert "as soon as approved" in page.inner_text("#review-schedule")
    assert "TP_5800000001" in page.inner_text("#review-request")
    assert "accepted" in page.inner_text("#review-previews")
    screenshot(page, "review")
    page.fill("#id_comment", "Looks right.")
    page.click("button[value=approve]")
    expect_message(page, "Autumn bonus approved")

    # The worker sends it to the emulator; the report shows the outcome.
    wait_for(
        lambda: Dispatch.objects.filter(campaign=campaign, is_preview=False, status__in=DONE).exists(),
        timeout=60,
        what="the campaign to be sent",
    )
    dispatch = Dispatch.objects.get(campaign=campaign, is_preview=False)
    assert dispatch.status == DispatchStatus.SENT, (dispatch.detail, cluster.output()[-3000:])
    assert set(server.app.counts_by_target()) == {f"tok_{x}" for x in ids}  # make_recipients' tokens
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/report/")
    totals = page.inner_text("#report-totals")
    assert re.search(r"DELIVERED\s+3", totals, re.IGNORECASE), totals
    assert page.locator("#outcome-chart rect").count() >= 1
    assert "Sent" in page.inner_text("#report-occurrences")
    screenshot(page, "report")

    # The calendar shows what is coming, and the two campaigns to one audience on one day.
    page.goto(f"{base}/admin/campaigns/campaign/calendar/")
    assert page.locator("li.occurrence.overlap").count() == 2
    assert page.locator("li.occurrence.review").count() >= 1  # the weekly digest, still in review
    screenshot(page, "calendar")


def test_the_schedule_fields_follow_the_kind_and_the_next_occurrences_follow_the_edits(
    page, login, live_server, make_user, screenshot
):
    make_user("marketer", "Marketing")
    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    preview = page.locator("#schedule-preview")
    assert not page.locator(".form-row.field-fixed_time").is_visible()

    page.check("input[name=schedule_kind][value=recurring]")
    page.select_option("#id_circle_type", "2")
    page.check("input[name=circle_value_weekly][value='1']")
    page.check("input[name=circle_value_weekly][value='3']")
    page.fill("#id_time", "09:30")
    today = shanghai_today()
    page.fill("#id_start_date", today.isoformat())
    page.fill("#id_end_date", (today + dt.timedelta(days=60)).isoformat())
    page.select_option("#id_timezone", "Asia/Shanghai")
    expect(page.locator("#schedule-preview ol li")).to_have_count(5)  # no page eval: the CSP refuses it
    texts = preview.locator("li").all_inner_texts()
    assert all(text.startswith(("Mon", "Wed")) and "09:30" in text and "01:30 UTC" in text for text in texts)
    assert (
        page.locator(".circle-weekdays").is_visible() and not page.locator(".circle-monthdays").is_visible()
    )
    assert not page.locator(".form-row.field-cron").is_visible()
    screenshot(page, "campaign_form_schedule")

    page.select_option("#id_circle_type", "3")
    assert (
        page.locator(".circle-monthdays").is_visible() and not page.locator(".circle-weekdays").is_visible()
    )

    page.check("input[name=schedule_kind][value=cron]")
    assert page.locator(".form-row.field-cron").is_visible()
    page.fill("#id_cron", "every monday")
    preview.locator(".errorlist").get_by_text("cron").first.wait_for()

    page.check("input[name=schedule_kind][value=once]")
    assert page.locator(".form-row.field-fixed_time").is_visible()
    assert not page.locator(".form-row.field-start_date").is_visible()


def test_an_operator_closes_an_unknown_delivery_from_the_dashboard(
    page, login, make_user, template, screenshot
):
    marketer, _operator = make_user("marketer", "Marketing"), make_user("operator", "Operators")
    from tests.approvals.factories import make_account as make_plain_account

    campaign = scheduled_campaign(
        name="Lost worker",
        author=marketer,
        template=template,
        account=make_plain_account("jiguang"),
        audience=make_audience("all"),
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.PARTIALLY_FAILED)
    now = timezone.now()
    dispatch = Dispatch.objects.create(
        campaign=campaign,
        due_at=now,
        status=DispatchStatus.PARTIALLY_FAILED,
        unknown=1,
        total_requests=1,
        finished_at=now,
    )
    delivery = Delivery.objects.create(
        dispatch=dispatch,
        batch_no=1,
        idempotency_key="lost-1",
        status=DeliveryStatus.UNKNOWN,
        provider_code="WORKER_LOST",
        provider_message="the worker stopped while this request was in flight",
    )

    login(page, "operator")
    row = page.locator(f"#unknown-{delivery.pk}")
    assert "WORKER_LOST" in row.inner_text()
    screenshot(page, "dashboard_operator")
    row.get_by_role("button", name="Close").click()
    expect_message(page, "lost-1 is closed")

    assert page.locator(f"#unknown-{delivery.pk}").count() == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CLOSED


def test_a_marketer_previews_a_recipient_csv_with_its_refused_rows_then_imports_it(
    page, login, live_server, make_user, screenshot, tmp_path
):
    from campaigns.models import Recipient

    make_user("marketer", "Marketing")
    csv = tmp_path / "recipients.csv"
    csv.write_text(
        "external_id,language,tags,address_jiguang\n"
        "csv_user_1,en,vip|new,jg_1\n"
        "csv_user_2,not a language!,,jg_2\n"
        "csv_user_3,zh-CN,vip,jg_3\n"
    )
    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/recipient/upload/")
    page.set_input_files("input[type=file]", str(csv))
    page.click("input[name=_preview]")

    page.get_by_text("First 3 rows of the file").wait_for()
    refused = page.locator("tr.errors")
    assert refused.count() == 1 and "csv_user_2" in refused.inner_text()
    assert (
        Recipient.objects.filter(external_id__startswith="csv_user").count() == 0
    )  # a preview writes nothing
    screenshot(page, "recipients_upload")

    page.click("input[name=_import]")
    expect_message(page, "Created: 2; updated: 0; rows refused: 1")
    assert set(Recipient.objects.values_list("external_id", flat=True)) == {"csv_user_1", "csv_user_3"}


def test_a_saved_recurring_campaign_reopens_with_its_schedule_and_saves_unchanged(
    page, login, live_server, make_user, template
):
    from audit.models import AuditEvent
    from tests.approvals.factories import make_account as make_plain_account

    marketer = make_user("marketer", "Marketing")
    today = shanghai_today()
    campaign = scheduled_campaign(
        name="Weekly digest",
        author=marketer,
        template=template,
        account=make_plain_account("jiguang"),
        audience=make_audience("all"),
        schedule_kind="recurring",
        circle_type=2,
        circle_value=[1, 4],
        time=dt.time(9),
        start_date=today,
        end_date=today + dt.timedelta(days=60),
        timezone="Asia/Shanghai",
    )

    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    checked = page.locator("input[name=circle_value_weekly]:checked")
    assert [checked.nth(i).get_attribute("value") for i in range(checked.count())] == ["1", "4"]
    assert page.input_value("#id_time") == "09:00" and page.input_value("#id_timezone") == "Asia/Shanghai"
    assert page.input_value("input[name=parameters__bonus]") == "10 USDT"
    expect(page.locator("#schedule-preview ol li")).to_have_count(5)  # no page eval: the CSP refuses it
    page.click("input[name=_continue]")

    expect_message(page, "was changed successfully")
    assert not AuditEvent.objects.filter(campaign=campaign, action="edit").exists()  # nothing changed
