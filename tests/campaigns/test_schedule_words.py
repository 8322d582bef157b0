"""The schedule in a reviewer's words (campaigns/schedules/describe.py) and the plain cron
messages (campaigns/schedules/cron.py): never croniter's own words."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.schedules.cron import cron_errors
from campaigns.schedules.describe import describe_duration, describe_schedule, local_and_utc
from campaigns.schedules.spec import ScheduleSpec
from campaigns.schedules.validation import context_errors, write_errors


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (ScheduleSpec(), "Once, as soon as it is approved."),
        (
            ScheduleSpec(kind="recurring", circle_type=2, circle_value=(1, 4), time=dt.time(9, 0),
                         start_date=dt.date(2026, 12, 7), end_date=dt.date(2027, 1, 31),
                         timezone="Asia/Shanghai"),
            "Every week on Monday and Thursday at 09:00 (Asia/Shanghai), from 2026-12-07 to 2027-01-31.",
        ),
        (
            ScheduleSpec(kind="recurring", circle_type=2, circle_value=(1, 3, 5), time=dt.time(18, 30),
                         start_date=dt.date(2026, 12, 7), end_date=dt.date(2026, 12, 31)),
            "Every week on Monday, Wednesday and Friday at 18:30 (UTC), from 2026-12-07 to 2026-12-31.",
        ),
        (
            ScheduleSpec(kind="recurring", circle_type=3, circle_value=(1, 15), time=dt.time(8, 0),
                         start_date=dt.date(2026, 12, 7), end_date=dt.date(2027, 3, 31)),
            "Every month on days 1 and 15 at 08:00 (UTC), from 2026-12-07 to 2027-03-31.",
        ),
        (
            ScheduleSpec(kind="recurring", circle_type=1, time=dt.time(9, 0),
                         start_date=dt.date(2026, 12, 7), end_date=dt.date(2026, 12, 9)),
            "Every day at 09:00 (UTC), from 2026-12-07 to 2026-12-09.",
        ),
        (
            ScheduleSpec(kind="once", fixed_time=dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.UTC),
                         timezone="Asia/Shanghai"),
            "Once, on Tue 8 Dec 2026 09:00 Asia/Shanghai (01:00 UTC).",
        ),
        (
            ScheduleSpec(kind="cron", cron="0 9 * * 1-5", start_date=dt.date(2026, 12, 7),
                         end_date=dt.date(2026, 12, 31), timezone="Europe/Berlin"),
            "On the cron schedule 0 9 * * 1-5 in Europe/Berlin, from 2026-12-07 to 2026-12-31.",
        ),
    ],
)
def test_a_schedule_is_described_in_words(spec, words):
    assert describe_schedule(spec) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(86400, "1 day"), (864000, "10 days"), (3600, "1 hour"), (5400, "1 hour 30 minutes"),
     (60, "1 minute"), (45, "45 seconds"), (90061, "1 day 1 hour 1 minute 1 second")],
)
def test_a_duration_is_in_days_hours_and_minutes(seconds, words):
    assert describe_duration(seconds) == words


def test_an_instant_is_shown_local_and_in_utc_with_the_utc_date_when_it_differs():
    late = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)
    assert local_and_utc(late, "Asia/Shanghai") == {
        "local": "Tue 8 Dec 2026 07:30 Asia/Shanghai", "utc": "Mon 7 Dec 2026 23:30 UTC",
    }
    assert local_and_utc(late.isoformat(), "UTC") == {"local": "Mon 7 Dec 2026 23:30 UTC", "utc": "23:30 UTC"}


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("61 * * * *", "Cron: 61 is not a minute; the first field, the minute, runs from 0 to 59."),
        ("0 24 * * *", "Cron: 24 is not an hour; the second field, the hour, runs from 0 to 23."),
        ("0 9 0 * *", "Cron: 0 is not a day of the month; the third field runs from 1 to 31."),
        ("0 9 * 13 *", "Cron: 13 is not a month; the fourth field runs from 1 (January) to 12 "
                       "(December), or JAN to DEC."),
        ("0 9 * * 8", "Cron: 8 is not a day of the week; the fifth field runs from 0 (Sunday) to 6 "
                      "(Saturday), 7 is Sunday too, or SUN to SAT."),
        ("*/0 9 * * *", "Cron: the minute field has the step /0; a step is a whole number of 1 or more, "
                        "e.g. */15."),
        ("0 9 * * 1#6", "Cron: #6 asks for a week of the month that does not exist; use #1 to #5 "
                        "(e.g. 1#2, the second Monday)."),
    ],
)
def test_a_bad_cron_names_the_field_and_its_range_in_plain_words(cron, words):
    problems = cron_errors(cron)
    assert problems == [words]
    assert not any("not acceptable" in problem or "[" in problem for problem in problems)


def test_the_rules_of_the_moment_are_apart_from_the_rules_at_write():
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    far = ScheduleSpec(kind="recurring", circle_type=1, time=dt.time(9), start_date=dt.date(2026, 3, 2),
                       end_date=dt.date(2026, 12, 1))
    past = ScheduleSpec(kind="once", fixed_time=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    backwards = ScheduleSpec(kind="recurring", circle_type=1, time=dt.time(9),
                             start_date=dt.date(2026, 3, 9), end_date=dt.date(2026, 3, 5))

    assert write_errors(far) == {} and set(context_errors(far, now=now)) == {"end_date"}
    assert write_errors(past) == {} and set(context_errors(past, now=now)) == {"fixed_time"}
    assert set(write_errors(backwards)) == {"end_date"} and context_errors(backwards, now=now) == {}
