"""campaigns.volume: counting occurrences without materialising them all, requests per
provider batching, and the thresholds of the warnings a reviewer acknowledges."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from campaigns.schedules.spec import ScheduleSpec
from campaigns.volume import densest, requests_per_occurrence, schedule_volume, volume_warnings
from tests.approvals.factories import make_account, make_audience

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def cron(expression: str, start: str = "2026-12-07", end: str = "2027-01-31") -> ScheduleSpec:
    return ScheduleSpec.from_dict(
        {"kind": "cron", "cron": expression, "start_date": start, "end_date": end, "timezone": "UTC"}
    )


def test_densest_hour_is_a_rolling_window_and_days_are_local():
    base = dt.datetime(2026, 12, 7, 22, 30, tzinfo=dt.UTC)
    times = [base + dt.timedelta(minutes=m) for m in (0, 59, 60, 300)]
    hour, day = densest(times, dt.UTC)
    assert hour == 2  # 22:30 and 23:29 are within 60 minutes; 23:30 is not with 22:30
    assert day == 3  # three on 7 Dec UTC
    hour, day = densest(times, dt.timezone(dt.timedelta(hours=2)))
    assert day == 4  # in UTC+2 all four fall on 8 Dec
    assert densest([], dt.UTC) == (0, 0)


@override_settings(CRIER_VOLUME_COUNT_LIMIT=500)
def test_an_every_minute_cron_is_counted_up_to_the_limit_and_says_more():
    volume = schedule_volume(cron("* * * * *"), now=NOW, reach=3, requests_each=1)
    assert volume.occurrences == 500 and volume.more is True
    assert volume.messages == 1500 and volume.requests == 500
    assert volume.max_per_hour == 60
    assert volume.summary().startswith("More than 500 occurrences × 3 recipients")
    assert "more than 1,500 messages" in volume.summary()


def test_a_daily_cron_is_counted_exactly_without_warnings():
    volume = schedule_volume(cron("0 9 * * *"), now=NOW, reach=10, requests_each=10)
    assert volume.occurrences == 56 and volume.more is False  # 7 Dec to 31 Jan
    assert volume.messages == 560 and volume.requests == 560
    assert (volume.max_per_hour, volume.max_per_day) == (1, 1)
    assert volume.warnings == ()
    assert volume.summary() == "56 occurrences × 10 recipients = 560 messages in 560 provider requests."


@override_settings(CRIER_VOLUME_MAX_PER_HOUR=1, CRIER_VOLUME_MAX_MESSAGES_PER_DAY=1000)
def test_thresholds_come_from_settings_and_are_strictly_above():
    assert volume_warnings(max_per_hour=1, max_per_day=1, reach=1000) == ()
    (hourly,) = volume_warnings(max_per_hour=2, max_per_day=2, reach=10)
    assert hourly.code == "occurrences_per_hour" and (hourly.value, hourly.limit) == (2, 1)
    assert "CRIER_VOLUME_MAX_PER_HOUR" in hourly.message
    (daily,) = volume_warnings(max_per_hour=1, max_per_day=1, reach=1001)
    assert daily.code == "messages_per_day" and (daily.value, daily.limit) == (1001, 1000)
    # A reach only the provider knows gives no messages-per-day warning (nothing to count).
    assert volume_warnings(max_per_hour=1, max_per_day=50, reach=None) == ()


@override_settings(CRIER_VOLUME_MAX_PER_HOUR=100)
def test_raising_the_hourly_threshold_silences_the_every_minute_warning():
    assert schedule_volume(cron("* * * * *"), now=NOW, reach=1, requests_each=1).warnings == ()


def test_a_reach_only_the_provider_knows_has_no_message_total():
    volume = schedule_volume(cron("0 9 * * *"), now=NOW, reach=None, requests_each=1)
    assert volume.messages is None and volume.requests == 56
    assert "only the provider can count" in volume.summary()


@pytest.mark.django_db
def test_requests_follow_the_provider_batching():
    users = make_audience("users")
    # Jiguang addresses 1,000 ids a request; Alipay+ one request per recipient.
    assert requests_per_occurrence(account=make_account("jiguang"), audience=users, reach=2500) == 3
    assert requests_per_occurrence(account=make_account("alipayplus"), audience=users, reach=2500) == 2500
    # A broadcast to everyone is one request whatever the reach.
    everyone = make_audience("all")
    assert requests_per_occurrence(account=make_account("binance"), audience=everyone, reach=None) == 1
    assert requests_per_occurrence(account=None, audience=users, reach=3) is None
