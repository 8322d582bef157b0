"""The campaign form in the marketer's words, in a real browser: a weekly campaign whose
*Until* is before its *From* is refused with a message in the form's labels next to the
field, and the form keeps every choice (audience and its size, days, time zone) after the
failed save; the review page reads as a sentence. Screenshots, light and dark, land in
tests/screenshots/ (form_words_error_*.png, review_words_*.png).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from approvals.services import campaign_submit
from campaigns.services import campaign_create
from tests.approvals.factories import make_account as make_plain_account
from tests.campaigns.conftest import make_audience, make_recipients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def shanghai_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_a_weekly_form_with_a_bad_until_speaks_of_until_and_keeps_its_state(
    page, login, live_server, screenshot, make_user, template
):
    make_user("marketer", "Marketing")
    account = make_plain_account("alipayplus")
    audience = make_audience("users", name="Browser VIPs", user_ids=make_recipients(3))
    start, until = shanghai_today() + dt.timedelta(days=10), shanghai_today() + dt.timedelta(days=3)

    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Weekly digest")
    page.select_option("#id_template", str(template.pk))
    page.fill("input[name=parameters__name]", "Ada")
    page.fill("input[name=parameters__bonus]", "10 USDT")
    page.select_option("#id_provider_account", str(account.pk))
    page.select_option("#id_audience", str(audience.pk))
    page.check("input[name=schedule_kind][value=recurring]")
    page.select_option("#id_circle_type", "2")
    page.check("input[name=circle_value_weekly][value='1']")
    page.check("input[name=circle_value_weekly][value='4']")
    page.fill("#id_time", "09:00")
    page.fill("#id_start_date", start.isoformat())
    page.fill("#id_end_date", until.isoformat())
    # The time zone list starts with the common zones and filters as one types.
    options = page.locator("#id_timezone optgroup").first
    assert options.get_attribute("label") == "Common"
    assert page.locator("#id_timezone option[value=localtime]").count() == 0
    page.fill("#id_timezone_filter", "shang")
    # The zone chosen so far (UTC) stays listed beside the matches.
    assert page.locator("#id_timezone option:not([hidden])").all_inner_texts() == ["UTC", "Asia/Shanghai"]
    page.select_option("#id_timezone", "Asia/Shanghai")
    page.locator("input[name=_save]:visible").first.click()

    # Refused by the field, in the words on the form: "Until" and "From", not end_date.
    error = page.locator(".field-end_date .errorlist")
    error.wait_for()
    assert error.inner_text().strip() == (
        f"Until: {until} is before From ({start}); the last day must be on or after the first."
    )
    assert "end_date" not in page.inner_text("#content-main")
    # Everything chosen is still chosen, and the size is the posted audience's.
    assert page.input_value("#id_audience") == str(audience.pk)
    page.wait_for_function(
        "document.getElementById('audience-size').textContent.includes('reachable through')"
    )
    assert "choose an audience" not in page.inner_text(".field-audience")
    assert page.is_checked("input[name=schedule_kind][value=recurring]")
    assert page.is_checked("input[name=circle_value_weekly][value='1']")
    assert page.is_checked("input[name=circle_value_weekly][value='4']")
    assert not page.is_checked("input[name=circle_value_weekly][value='2']")
    assert page.is_visible(".field-end_date") and not page.is_visible(".field-fixed_time")
    assert page.input_value("#id_timezone") == "Asia/Shanghai"
    assert page.input_value("input[name=parameters__bonus]") == "10 USDT"
    screenshot(page, "form_words_error_light")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "form_words_error_dark")
    page.emulate_media(color_scheme="light")

    # A bad cron is named in plain words: which field, and its range.
    page.check("input[name=schedule_kind][value=cron]")
    page.fill("#id_cron", "61 9 * * *")
    page.fill("#id_end_date", (start + dt.timedelta(days=7)).isoformat())
    page.locator("input[name=_save]:visible").first.click()
    cron_error = page.locator(".field-cron .errorlist")
    cron_error.wait_for()
    assert cron_error.inner_text().strip() == (
        "Cron: 61 is not a minute; the first field, the minute, runs from 0 to 59."
    )


def test_the_review_page_reads_as_sentences(page, login, live_server, screenshot, make_user, template):
    marketer = make_user("marketer", "Marketing")
    make_user("reviewer", "Reviewers")
    start = shanghai_today() + dt.timedelta(days=1)
    campaign = campaign_create(
        actor=marketer,
        data={
            "name": "Weekly digest",
            "template": template,
            "provider_account": make_plain_account("alipayplus"),
            "audience": make_audience(
                "users", name="Browser VIPs",
                user_ids=[*make_recipients(3), *make_recipients(1, prefix="j", kind="jiguang"), "nobody"],
            ),
            "language": "en",
            "parameters": {"name": "Ada", "bonus": "10 USDT"},
            "schedule_kind": "recurring",
            "circle_type": 2,
            "circle_value": [1, 4],
            "time": dt.time(9, 0),
            "start_date": start,
            "end_date": start + dt.timedelta(days=30),
            "timezone": "Asia/Shanghai",
            "expired_seconds": 86400,
        },
    )
    campaign_submit(campaign=campaign, actor=marketer)

    login(page, "reviewer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/review/")

    assert page.inner_text("#review-schedule-text") == (
        f"Every week on Monday and Thursday at 09:00 (Asia/Shanghai), from {start} to "
        f"{start + dt.timedelta(days=30)}."
    )
    assert page.inner_text("#review-expiry").startswith("1 day:")
    first = page.inner_text("#review-occurrences").splitlines()[0]
    assert "09:00 Asia/Shanghai" in first and "(01:00 UTC)" in first, first
    assert "86400" not in page.inner_text("#review-schedule")
    # Who the send would skip, and why, before anyone approves it.
    assert page.inner_text("#review-skips").splitlines() == [
        "1 recipient: no address", "1 recipient: unknown recipient",
    ]
    rows = page.locator("#review-parameters tr").all_inner_texts()
    assert [row.split("\t") for row in rows] == [["${name}", "Ada"], ["${bonus}", "10 USDT"]]
    screenshot(page, "review_words_light")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "review_words_dark")
