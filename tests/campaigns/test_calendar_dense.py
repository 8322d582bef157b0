"""A dense campaign (a cron every few minutes) is one row a day with its count on the admin's
calendar and dashboard, on every day of the period, and hides no other campaign."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from campaigns.admin.dashboard import upcoming
from campaigns.sending.selectors import CALENDAR_DAY_COUNT_LIMIT, calendar_occurrences
from tests.campaigns.test_calendar import NOW, daily, make_campaign, parts  # noqa: F401 - fixtures

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

    found = calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 30), now=NOW, collapse=True)

    rows = [o for o in found if o.campaign_id == dense.pk]
    assert [o.day for o in rows] == [dt.date(2026, 3, 21) + dt.timedelta(days=n) for n in range(10)]
    assert all(o.count == 144 and not o.count_more for o in rows)
    assert rows[0].due_at == dt.datetime(2026, 3, 21, 0, 0, tzinfo=dt.UTC)
    assert rows[0].last_due_at == dt.datetime(2026, 3, 21, 23, 50, tzinfo=dt.UTC)
    # The other campaign is there every day, and the two share an audience: overlaps.
    assert len([o for o in found if o.campaign_id == news.pk]) == 10
    assert all(o.overlaps == (news.pk,) for o in rows)


def test_a_cron_every_minute_says_more_than_the_day_limit(make_campaign):  # noqa: F811
    cron_campaign(make_campaign, "Spam", "* * * * *")

    found = calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 22), now=NOW, collapse=True)

    assert [(o.count, o.count_more) for o in found] == [(CALENDAR_DAY_COUNT_LIMIT, True)] * 2


def test_a_few_occurrences_a_day_stay_separate_rows(make_campaign):  # noqa: F811
    cron_campaign(make_campaign, "Twice", "0 9,18 * * *")

    found = calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 21), now=NOW, collapse=True)

    assert [(o.due_at.hour, o.count) for o in found] == [(9, 1), (18, 1)]


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_lists_other_campaigns_beside_an_every_minute_cron(make_campaign):  # noqa: F811
    cron_campaign(make_campaign, "Spam", "* * * * *")
    news = daily(make_campaign, "Morning news")

    listed = upcoming(now=NOW)

    names = [o.campaign_name for o in listed["items"]]
    assert names.count("Spam") == 7 and "Morning news" in names
    assert listed["count_more"] is True
    news_rows = [o for o in listed["items"] if o.campaign_id == news.pk]
    assert listed["count"] == 7 * CALENDAR_DAY_COUNT_LIMIT + len(news_rows)


@time_machine.travel(NOW, tick=False)
def test_the_calendar_page_shows_the_count_and_the_other_campaign(make_campaign, admin_user):  # noqa: F811
    cron_campaign(make_campaign, "Ticker", "*/10 * * * *")
    daily(make_campaign, "Morning news")
    client = Client()
    client.force_login(admin_user)

    page = client.get(reverse("admin:campaigns_campaign_calendar")).content.decode()

    assert page.count("144×") >= 29 and page.count("Morning news") >= 29
