"""Counting a schedule's due times in a period without listing them gives the listing's
count, first and last, across zones, daylight-saving changes and the period's edges."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.schedules.counting import occurrence_span
from campaigns.schedules.occurrences import occurrences
from campaigns.schedules.spec import ScheduleSpec

UTC = dt.UTC
MICROSECOND = dt.timedelta(microseconds=1)


def cron(expression: str, zone: str = "UTC") -> ScheduleSpec:
    return ScheduleSpec.from_dict(
        {"kind": "cron", "cron": expression, "start_date": dt.date(2026, 3, 20),
         "end_date": dt.date(2026, 4, 5), "timezone": zone}
    )


def weekly(zone: str) -> ScheduleSpec:
    return ScheduleSpec.from_dict(
        {"kind": "recurring", "circle_type": 2, "circle_value": [1, 4], "time": "02:30:15",
         "start_date": dt.date(2026, 3, 20), "end_date": dt.date(2026, 4, 5), "timezone": zone}
    )


def listed(spec: ScheduleSpec, low: dt.datetime, high: dt.datetime) -> tuple:
    times = list(occurrences(spec, after=low - MICROSECOND, until=high - MICROSECOND))
    return (len(times), times[0] if times else None, times[-1] if times else None)


SPECS = [
    cron("* * * * *"),
    cron("*/7 9-17 * * *", "Asia/Shanghai"),
    cron("30 2 * * *", "Europe/Berlin"),  # 02:30 does not exist on 29 March in Berlin
    cron("*/5 * * * *", "Europe/Berlin"),
    cron("0 9 L * *", "America/New_York"),
    cron("15 8,20 * * 1#2", "Asia/Kolkata"),
    weekly("Europe/Berlin"),
    weekly("Pacific/Auckland"),  # falls back on 5 April
]
WINDOWS = [
    (dt.datetime(2026, 3, 19, 0, 0, tzinfo=UTC), dt.datetime(2026, 3, 21, 0, 0, tzinfo=UTC)),
    (dt.datetime(2026, 3, 21, 13, 7, 30, 5, tzinfo=UTC), dt.datetime(2026, 3, 22, 0, 0, tzinfo=UTC)),
    (dt.datetime(2026, 3, 28, 22, 0, tzinfo=UTC), dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
    (dt.datetime(2026, 4, 4, 11, 0, tzinfo=UTC), dt.datetime(2026, 4, 7, 0, 0, tzinfo=UTC)),
    (dt.datetime(2026, 3, 16, 0, 0, tzinfo=UTC), dt.datetime(2026, 4, 10, 0, 0, tzinfo=UTC)),
    (dt.datetime(2026, 4, 9, 12, 0, tzinfo=UTC), dt.datetime(2026, 4, 9, 12, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.cron}-{s.timezone}")
@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: w[0].isoformat())
def test_the_count_first_and_last_are_those_of_the_listing(spec, window):
    span = occurrence_span(spec, low=window[0], high=window[1])

    assert (span.count, span.first, span.last) == listed(spec, *window)


def test_a_day_of_a_cron_every_minute_counts_1440_and_a_month_is_not_walked():
    spec = ScheduleSpec.from_dict(
        {"kind": "cron", "cron": "* * * * *", "start_date": dt.date(2026, 1, 1),
         "end_date": dt.date(2036, 12, 31), "timezone": "Asia/Shanghai"}
    )

    def at(*date: int) -> dt.datetime:
        return dt.datetime(*date, tzinfo=UTC)

    day = occurrence_span(spec, low=at(2026, 3, 21), high=at(2026, 3, 22))
    # Ten years every minute are 5.3 million due times: listing them would take minutes.
    decade = occurrence_span(spec, low=at(2026, 1, 1), high=at(2036, 1, 1))

    assert (day.count, day.first, day.last) == (
        1440, dt.datetime(2026, 3, 21, 0, 0, tzinfo=UTC), dt.datetime(2026, 3, 21, 23, 59, tzinfo=UTC)
    )
    assert decade.count == 1440 * (365 * 10 + 2)  # every minute of the ten years (two leap days)
