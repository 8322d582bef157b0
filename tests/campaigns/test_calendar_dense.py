"""A dense campaign (a cron every few minutes) is one row a day with its count on the admin's
calendar and dashboard and in the calendar API, on every day of the period, and hides no
other campaign."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from campaigns.admin.dashboard import upcoming
from campaigns.sending.selectors import calendar_occurrences
from tests.campaigns.test_calendar import NOW, daily, get, make_campaign, parts  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def cron_campaign(make_campaign, name: str, expression: str, **fields):  # noqa: F811
    return make_campaign(
        name,
        schedule_kind="cron",
        cron=expression,
        start_date=dt.date(2026, 3, 20),
        end_date=dt.date(2026, 4, 30),
        timezone="UTC",
        next_due_at=NOW,
        **fields,
    )


def test_a_cron_every_ten_minutes_is_one_row_a_day_with_its_count_on_every_day(make_campaign):  # noqa: F811
    dense = cron_campaign(make_campaign, "Ticker", "*/10 * * * *")
    news = daily(make_campaign, "Morning news")

    found = calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 30), now=NOW)

    rows = [o for o in found if o.campaign_id == dense.pk]
    assert [o.day for o in rows] == [dt.date(2026, 3, 21) + dt.timedelta(days=n) for n in range(10)]
    assert all(o.count == 144 for o in rows)
    assert rows[0].due_at == dt.datetime(2026, 3, 21, 0, 0, tzinfo=dt.UTC)
    assert rows[0].last_due_at == dt.datetime(2026, 3, 21, 23, 50, tzinfo=dt.UTC)
    # The other campaign is there every day, and the two share an audience: overlaps.
    assert len([o for o in found if o.campaign_id == news.pk]) == 10
    assert all(o.overlaps == (news.pk,) for o in rows)


def test_a_cron_every_minute_counts_every_minute_of_the_day(make_campaign):  # noqa: F811
    cron_campaign(make_campaign, "Spam", "* * * * *")

    found = calendar_occurrences(start=dt.date(2026, 3, 20), end=dt.date(2026, 3, 22), now=NOW)

    # Today from noon (NOW), then two whole days.
    assert [(o.day, o.count, o.due_at.hour, o.last_due_at.time()) for o in found] == [
        (dt.date(2026, 3, 20), 720, 12, dt.time(23, 59)),
        (dt.date(2026, 3, 21), 1440, 0, dt.time(23, 59)),
        (dt.date(2026, 3, 22), 1440, 0, dt.time(23, 59)),
    ]


def test_a_counted_campaign_due_at_most_twice_on_a_day_keeps_its_rows(make_campaign):  # noqa: F811
    cron_campaign(make_campaign, "Weekdays", "*/2 * * * 1-5")
    cron_campaign(make_campaign, "Sunday twice", "0 9,18 * * 0")

    # 21 March 2026 is a Saturday, the 22nd a Sunday, the 23rd a Monday; each lists more than one.
    found = calendar_occurrences(
        start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 23), now=NOW, per_campaign=1
    )

    assert [(o.campaign_name, o.day, o.count) for o in found] == [
        ("Sunday twice", dt.date(2026, 3, 22), 1),
        ("Sunday twice", dt.date(2026, 3, 22), 1),
        ("Weekdays", dt.date(2026, 3, 23), 720),
    ]


def test_a_few_occurrences_a_day_stay_separate_rows(make_campaign):  # noqa: F811
    cron_campaign(make_campaign, "Twice", "0 9,18 * * *")

    found = calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 21), now=NOW)

    assert [(o.due_at.hour, o.count) for o in found] == [(9, 1), (18, 1)]


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_lists_other_campaigns_beside_an_every_minute_cron(make_campaign):  # noqa: F811
    cron_campaign(make_campaign, "Spam", "* * * * *")
    news = daily(make_campaign, "Morning news")

    listed = upcoming(now=NOW)

    names = [o.campaign_name for o in listed["items"]]
    assert names.count("Spam") == 7 and "Morning news" in names
    news_rows = [o for o in listed["items"] if o.campaign_id == news.pk]
    # Today from noon (NOW), then six whole days.
    assert listed["count"] == 720 + 6 * 1440 + len(news_rows)


@time_machine.travel(NOW, tick=False)
def test_the_calendar_page_shows_the_count_and_the_other_campaign(make_campaign, admin_user):  # noqa: F811
    cron_campaign(make_campaign, "Ticker", "*/10 * * * *")
    daily(make_campaign, "Morning news")
    client = Client()
    client.force_login(admin_user)

    page = client.get(reverse("admin:campaigns_campaign_calendar")).content.decode()

    assert page.count("144×") >= 29 and page.count("Morning news") >= 29


@time_machine.travel(NOW, tick=False)
def test_the_calendar_page_counts_a_cron_every_minute_in_full(make_campaign, admin_user):  # noqa: F811
    cron_campaign(make_campaign, "Spam", "* * * * *")
    client = Client()
    client.force_login(admin_user)

    page = client.get(reverse("admin:campaigns_campaign_calendar")).content.decode()

    assert page.count("1,440×") == 29 and "more than" not in page
    assert "720×" in page  # today, from noon


@time_machine.travel(NOW, tick=False)
def test_the_calendar_api_lists_a_cron_every_minute_one_row_a_day_beside_another_campaign(
    make_campaign, marketer  # noqa: F811
):
    spam = cron_campaign(make_campaign, "Spam", "* * * * *")
    news = daily(make_campaign, "Morning news")

    response = get(marketer, **{"from": "2026-03-21", "to": "2026-03-23"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 * 1440 + 3
    for day in body["days"]:
        rows = {row["name"]: row for row in day["occurrences"]}
        assert set(rows) == {"Spam", "Morning news"}
        assert (rows["Spam"]["count"], rows["Morning news"]["count"]) == (1440, 1)
        assert rows["Spam"]["due_at"] == f"{day['date']}T00:00:00Z"
        assert rows["Spam"]["last_due_at"] == f"{day['date']}T23:59:00Z"
        assert rows["Morning news"]["last_due_at"] is None
        assert rows["Spam"]["overlaps"] == [news.pk] and rows["Morning news"]["overlaps"] == [spam.pk]
