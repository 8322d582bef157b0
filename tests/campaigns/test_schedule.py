"""Schedules: reading, validation, notes and occurrences, across both DST changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Campaign, ScheduleKind
from campaigns.schedules import occurrences as schedule
from campaigns.schedules.kinds import SCHEDULE_FIELDS, SCHEDULE_KINDS, SCHEDULED_KINDS, form_table
from campaigns.schedules.notes import notes
from campaigns.schedules.occurrences import (
    has_occurrences_left,
    next_occurrence,
    next_occurrences,
    occurrences,
)
from campaigns.schedules.spec import ScheduleError, ScheduleSpec
from campaigns.schedules.validation import validate

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
# 2026: New York springs forward on 8 March and falls back on 1 November (at 02:00);
# Berlin springs forward on 29 March (02:00 → 03:00) and falls back on 25 October (03:00 → 02:00).
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday, 11:00 in Berlin, 05:00 in New York
TODAY = date(2026, 3, 2)


def spec(**fields: object) -> ScheduleSpec:
    return ScheduleSpec.from_dict(fields)


def daily(at: str, start: str, end: str, zone: str) -> ScheduleSpec:
    return spec(kind="recurring", circle_type=1, time=at, start_date=start, end_date=end, timezone=zone)


def shown(instants: list[datetime], zone: str) -> list[str]:
    """Return instants as local wall times with their zone abbreviation, as a reader sees them."""
    return [f"{t.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M %Z}" for t in instants]


def all_of(s: ScheduleSpec) -> list[datetime]:
    return list(occurrences(s, after=datetime(2000, 1, 1, tzinfo=UTC)))


@pytest.fixture
def now(time_machine) -> datetime:
    time_machine.move_to(NOW, tick=False)
    return timezone.now()


# --- reading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({}, ScheduleSpec(kind="now", timezone="UTC"), id="empty-is-now-in-utc"),
        pytest.param(
            {"kind": "once", "fixed_time": "2026-03-10T09:30:00Z", "timezone": BERLIN},
            ScheduleSpec(kind="once", fixed_time=datetime(2026, 3, 10, 9, 30, tzinfo=UTC), timezone=BERLIN),
            id="aware-fixed-time-in-utc",
        ),
        pytest.param(
            {"kind": "once", "fixed_time": "2026-03-10T09:30:00", "timezone": BERLIN},
            ScheduleSpec(kind="once", fixed_time=datetime(2026, 3, 10, 8, 30, tzinfo=UTC), timezone=BERLIN),
            id="naive-fixed-time-is-local",
        ),
        pytest.param(
            {"kind": "once", "fixed_time": "2026-03-08T02:30:00", "timezone": NEW_YORK},
            ScheduleSpec(kind="once", fixed_time=datetime(2026, 3, 8, 7, 30, tzinfo=UTC), timezone=NEW_YORK),
            id="naive-fixed-time-in-the-gap-moves-forward",
        ),
        pytest.param(
            {
                "kind": "recurring",
                "circle_type": "2",
                "circle_value": "5, 1,1",
                "time": "09:45",
                "start_date": "2026-03-02",
                "end_date": "2026-04-01",
                "timezone": BERLIN,
            },
            ScheduleSpec(
                kind="recurring",
                circle_type=2,
                circle_value=(1, 5),
                time=time(9, 45),
                start_date=date(2026, 3, 2),
                end_date=date(2026, 4, 1),
                timezone=BERLIN,
            ),
            id="strings-parsed-and-circle-value-sorted",
        ),
        pytest.param(
            {"kind": "cron", "cron": "  0  9 *\t* 1-5 ", "start_date": date(2026, 3, 2), "end_date": None},
            ScheduleSpec(kind="cron", cron="0 9 * * 1-5", start_date=date(2026, 3, 2), timezone="UTC"),
            id="cron-whitespace-normalised",
        ),
    ],
)
def test_from_dict_reads_the_api_shape(data: dict, expected: ScheduleSpec) -> None:
    assert ScheduleSpec.from_dict(data) == expected


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"fixed_time": "next tuesday"}, "fixed_time", "Send at: “next tuesday” is not a date and time"),
        ({"fixed_time": "2026-03-10T09:30", "timezone": "Mars/Olympus"}, "fixed_time", "no UTC offset"),
        ({"circle_type": "weekly"}, "circle_type", "Repeats: “weekly” is not a whole number"),
        ({"circle_type": True}, "circle_type", "Repeats: “True” is not a whole number"),
        ({"circle_value": ["mon"]}, "circle_value", "On: “['mon']” is not a list of days"),
        ({"circle_value": {"a": 1}}, "circle_value", "is not a list of days"),
        ({"time": "9am"}, "time", "At (local time): “9am” is not a time of day; use HH:MM or HH:MM:SS"),
        ({"time": "24:00:00"}, "time", "“24:00:00” is not a time of day"),
        ({"start_date": "01/03/2026"}, "start_date", "From: “01/03/2026” is not a date; use YYYY-MM-DD"),
        ({"end_date": "2026-02-30"}, "end_date", "Until: “2026-02-30” is not a date"),
        ({"end_date": datetime(2026, 3, 1, 9, 0)}, "end_date", "has a time of day"),
    ],
)
def test_from_dict_names_the_field_and_value_it_cannot_read(data: dict, field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ScheduleSpec.from_dict(data)
    assert fragment in " ".join(caught.value.message_dict[field])


def test_from_dict_reports_every_unreadable_field_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        ScheduleSpec.from_dict({"time": "noon", "start_date": "soon", "circle_type": "x"})
    assert set(caught.value.message_dict) == {"time", "start_date", "circle_type"}


@pytest.mark.parametrize(
    "original",
    [
        ScheduleSpec(),
        ScheduleSpec(kind="once", fixed_time=datetime(2026, 3, 10, 9, 30, 15, tzinfo=UTC), timezone=BERLIN),
        ScheduleSpec(
            kind="recurring",
            circle_type=3,
            circle_value=(1, 15, 31),
            time=time(23, 59, 59),
            start_date=date(2026, 3, 2),
            end_date=date(2026, 8, 29),
            timezone=NEW_YORK,
        ),
        ScheduleSpec(kind="cron", cron="*/15 9-17 * * MON-FRI", start_date=TODAY, end_date=TODAY),
    ],
)
def test_to_dict_is_read_back_by_from_dict_unchanged(original: ScheduleSpec) -> None:
    assert ScheduleSpec.from_dict(original.to_dict()) == original


def test_from_campaign_reads_the_schedule_fields_of_a_campaign() -> None:
    campaign = Campaign(
        schedule_kind="recurring",
        circle_type=2,
        circle_value=[7, 1],
        time=time(8, 0, 0, 250),
        start_date=date(2026, 3, 2),
        end_date=date(2026, 3, 31),
        timezone=BERLIN,
    )
    assert ScheduleSpec.from_campaign(campaign) == ScheduleSpec(
        kind="recurring",
        circle_type=2,
        circle_value=(1, 7),
        time=time(8, 0),
        start_date=date(2026, 3, 2),
        end_date=date(2026, 3, 31),
        timezone=BERLIN,
    )


# --- validation --------------------------------------------------------------------------


def recurring_until(days: int, *, kind: str = "recurring", zone: str = BERLIN) -> ScheduleSpec:
    end = (TODAY + timedelta(days=days)).isoformat()
    if kind == "cron":
        return spec(kind="cron", cron="0 9 * * *", start_date="2026-03-02", end_date=end, timezone=zone)
    return daily("12:00:00", "2026-03-02", end, zone)


@pytest.mark.parametrize(
    ("schedule_spec", "expected"),
    [
        pytest.param(ScheduleSpec(), {}, id="now-needs-nothing"),
        pytest.param(
            ScheduleSpec(kind="later"),
            {
                "kind": [
                    "When: “later” is not a kind of schedule; choose one of now, once, recurring, cron.",
                ],
            },
            id="unknown-kind",
        ),
        pytest.param(
            ScheduleSpec(timezone="Mars/Olympus"),
            {
                "timezone": [
                    (
                        "Time zone: “Mars/Olympus” is not a time zone; choose a name such as Europe/Berlin or"
                        " Asia/Shanghai."
                    ),
                ],
            },
            id="unknown-timezone",
        ),
        pytest.param(
            ScheduleSpec(kind="once"),
            {
                "fixed_time": [
                    "Send at: a one-off campaign needs the date and time to send it.",
                ],
            },
            id="once-without-fixed-time",
        ),
        pytest.param(
            spec(kind="once", fixed_time="2026-03-02T09:59:59Z", timezone=BERLIN),
            {
                "fixed_time": [
                    (
                        "Send at: 2026-03-02 10:59:59 Europe/Berlin is not in the future (it is now "
                        "2026-03-02 11:00:00 Europe/Berlin); choose a later date and time."
                    ),
                ],
            },
            id="once-in-the-past",
        ),
        pytest.param(
            spec(kind="once", fixed_time="2026-03-02T10:00:00Z"),
            {
                "fixed_time": [
                    (
                        "Send at: 2026-03-02 10:00:00 UTC is not in the future (it is now 2026-03-02 10:00:00"
                        " UTC); choose a later date and time."
                    ),
                ],
            },
            id="once-exactly-now",
        ),
        pytest.param(spec(kind="once", fixed_time="2026-03-02T10:00:01Z"), {}, id="once-a-second-ahead"),
        pytest.param(
            recurring_until(179),
            {},
            id="recurring-ends-179-days-away",
        ),
        pytest.param(recurring_until(180), {}, id="recurring-ends-180-days-away"),
        pytest.param(
            recurring_until(181),
            {
                "end_date": [
                    (
                        "Until: 2026-08-30 is 181 days from today; a campaign may repeat until at most 180 "
                        "days from today, 2026-08-29."
                    ),
                ],
            },
            id="recurring-ends-181-days-away",
        ),
        pytest.param(recurring_until(179, kind="cron"), {}, id="cron-ends-179-days-away"),
        pytest.param(recurring_until(180, kind="cron"), {}, id="cron-ends-180-days-away"),
        pytest.param(
            recurring_until(181, kind="cron"),
            {
                "end_date": [
                    (
                        "Until: 2026-08-30 is 181 days from today; a campaign may repeat until at most 180 "
                        "days from today, 2026-08-29."
                    ),
                ],
            },
            id="cron-ends-181-days-away",
        ),
        pytest.param(
            daily("12:00", "2026-03-01", "2026-03-05", BERLIN),
            {
                "start_date": [
                    (
                        "From: 2026-03-01 is before today (2026-03-02 in Europe/Berlin); a campaign may not "
                        "start in the past."
                    ),
                ],
            },
            id="start-before-today",
        ),
        pytest.param(
            daily("12:00", "2026-03-02", "2026-03-02", BERLIN),
            {},
            id="start-and-end-today-with-a-time-still-ahead",
        ),
        pytest.param(
            daily("10:00", "2026-03-02", "2026-03-02", BERLIN),
            {
                "schedule": [
                    (
                        "When: this schedule has no occurrence left between now and the end of Until "
                        "2026-03-02 (Europe/Berlin); it would never send."
                    ),
                ],
            },
            id="only-occurrence-already-passed",
        ),
        pytest.param(
            daily("12:00", "2026-02-20", "2026-02-28", BERLIN),
            {
                "start_date": [
                    (
                        "From: 2026-02-20 is before today (2026-03-02 in Europe/Berlin); a campaign may not "
                        "start in the past."
                    ),
                ],
                "end_date": [
                    (
                        "Until: 2026-02-28 is before today (2026-03-02 in Europe/Berlin); a campaign may not "
                        "end in the past."
                    ),
                ],
            },
            id="start-and-end-before-today",
        ),
        pytest.param(
            daily("12:00", "2026-03-10", "2026-03-05", BERLIN),
            {
                "end_date": [
                    (
                        "Until: 2026-03-05 is before From (2026-03-10); the last day must be on or after the "
                        "first."
                    ),
                ],
            },
            id="end-before-start",
        ),
        pytest.param(
            spec(kind="recurring", timezone=BERLIN),
            {
                "circle_type": [
                    "Repeats: choose daily (1), weekly (2) or monthly (3).",
                ],
                "time": [
                    (
                        "At (local time): a recurring campaign needs the local time of day to send, e.g. "
                        "09:00."
                    ),
                ],
                "start_date": [
                    "From: a repeating campaign needs the first day it may send (from 00:00).",
                ],
                "end_date": [
                    "Until: a repeating campaign needs the last day it may send (until 24:00).",
                ],
            },
            id="recurring-with-nothing",
        ),
        pytest.param(
            spec(
                kind="recurring", circle_type=4, time="09:00", start_date="2026-03-02", end_date="2026-03-09"
            ),
            {
                "circle_type": [
                    "Repeats: 4 is not a way to repeat; choose daily (1), weekly (2) or monthly (3).",
                ],
            },
            id="circle-type-4",
        ),
        pytest.param(
            spec(
                kind="recurring", circle_type=2, time="09:00", start_date="2026-03-02", end_date="2026-03-09"
            ),
            {
                "circle_value": [
                    (
                        "On: choose at least one day of the week, Monday (1) to Sunday (7), for a weekly "
                        "campaign."
                    ),
                ],
            },
            id="weekly-without-days",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=2,
                circle_value=[0, 3, 8],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-03-09",
            ),
            {
                "circle_value": [
                    "On: 0 is not a day of the week; choose Monday (1) to Sunday (7).",
                    "On: 8 is not a day of the week; choose Monday (1) to Sunday (7).",
                ],
            },
            id="weekday-out-of-range",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[32],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-04-09",
            ),
            {
                "circle_value": [
                    "On: 32 is not a day of the month; choose days 1 to 31.",
                ],
            },
            id="month-day-out-of-range",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=1,
                circle_value=[99],
                time="23:00",
                start_date="2026-03-02",
                end_date="2026-03-02",
            ),
            {},
            id="daily-ignores-circle-value",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=2,
                circle_value=[1],
                time="09:00",
                start_date="2026-03-03",
                end_date="2026-03-08",
            ),
            {
                "schedule": [
                    (
                        "When: this schedule has no occurrence between From 2026-03-03 and the end of Until "
                        "2026-03-08 (UTC); it would never send. Check the days and times it repeats on."
                    ),
                ],
            },
            id="weekly-monday-in-a-tuesday-to-sunday-period",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[31],
                time="09:00",
                start_date="2026-04-01",
                end_date="2026-04-30",
            ),
            {
                "schedule": [
                    (
                        "When: this schedule has no occurrence between From 2026-04-01 and the end of Until "
                        "2026-04-30 (UTC); it would never send. Check the days and times it repeats on."
                    ),
                ],
            },
            id="monthly-31st-in-april-only",
        ),
        pytest.param(
            spec(kind="cron", start_date="2026-03-02", end_date="2026-03-09"),
            {
                "cron": [
                    (
                        "Cron: enter a cron expression. Five fields: minute (0-59), hour (0-23), day of the "
                        "month (1-31), month (1-12) and day of the week (0-7, 0 and 7 are Sunday), e.g. 0 9 *"
                        " * 1-5 for 09:00 on weekdays."
                    ),
                ],
            },
            id="cron-missing",
        ),
        pytest.param(
            spec(kind="cron", cron="0 0 9 * * *", start_date="2026-03-02", end_date="2026-03-09"),
            {
                "cron": [
                    (
                        "Cron: “0 0 9 * * *” has 6 fields, not five. Five fields: minute (0-59), hour (0-23),"
                        " day of the month (1-31), month (1-12) and day of the week (0-7, 0 and 7 are "
                        "Sunday), e.g. 0 9 * * 1-5 for 09:00 on weekdays. Seconds, years and shortcuts such "
                        "as @daily are not supported."
                    ),
                ],
            },
            id="cron-with-seconds",
        ),
        pytest.param(
            spec(kind="cron", cron="0 0 9 * * * 2026", start_date="2026-03-02", end_date="2026-03-09"),
            {
                "cron": [
                    (
                        "Cron: “0 0 9 * * * 2026” has 7 fields, not five. Five fields: minute (0-59), hour "
                        "(0-23), day of the month (1-31), month (1-12) and day of the week (0-7, 0 and 7 are "
                        "Sunday), e.g. 0 9 * * 1-5 for 09:00 on weekdays. Seconds, years and shortcuts such "
                        "as @daily are not supported."
                    ),
                ],
            },
            id="cron-with-seconds-and-year",
        ),
        pytest.param(
            spec(kind="cron", cron="@daily", start_date="2026-03-02", end_date="2026-03-09"),
            {
                "cron": [
                    (
                        "Cron: “@daily” has 1 field, not five. Five fields: minute (0-59), hour (0-23), day "
                        "of the month (1-31), month (1-12) and day of the week (0-7, 0 and 7 are Sunday), "
                        "e.g. 0 9 * * 1-5 for 09:00 on weekdays. Seconds, years and shortcuts such as @daily "
                        "are not supported."
                    ),
                ],
            },
            id="cron-macro",
        ),
        pytest.param(
            spec(kind="cron", cron="H 9 * * *", start_date="2026-03-02", end_date="2026-03-09"),
            {
                "cron": [
                    (
                        "Cron: the minute field “H” uses characters cron does not allow there; use numbers, "
                        "*, commas, ranges such as 1-5 and steps such as */15."
                    ),
                ],
            },
            id="cron-jenkins-hash",
        ),
        pytest.param(
            spec(kind="cron", cron="61 9 * * *", start_date="2026-03-02", end_date="2026-03-09"),
            {
                "cron": [
                    "Cron: 61 is not a minute; the first field, the minute, runs from 0 to 59.",
                ],
            },
            id="cron-minute-out-of-range",
        ),
        pytest.param(
            spec(kind="cron", cron="0 9 * * MON-FRI", start_date="2026-03-02", end_date="2026-03-09"),
            {},
            id="cron-weekdays-by-name",
        ),
        pytest.param(
            spec(kind="cron", cron="0 9 L * *", start_date="2026-03-02", end_date="2026-03-31"),
            {},
            id="cron-last-day-of-month",
        ),
        pytest.param(
            spec(kind="cron", cron="0 0 30 2 *", start_date="2026-03-02", end_date="2026-08-29"),
            {
                "schedule": [
                    (
                        "When: this schedule has no occurrence between From 2026-03-02 and the end of Until "
                        "2026-08-29 (UTC); it would never send. Check the days and times it repeats on."
                    ),
                ],
            },
            id="cron-that-never-fires",
        ),
        pytest.param(
            spec(kind="cron", cron="0 9 * * *"),
            {
                "start_date": [
                    "From: a repeating campaign needs the first day it may send (from 00:00).",
                ],
                "end_date": [
                    "Until: a repeating campaign needs the last day it may send (until 24:00).",
                ],
            },
            id="cron-without-period",
        ),
    ],
)
def test_validate_names_field_value_and_rule(
    now: datetime, schedule_spec: ScheduleSpec, expected: dict
) -> None:
    assert validate(schedule_spec, now=now) == expected


@pytest.mark.parametrize(
    ("utc_now", "zone", "start", "valid"),
    [
        # 12:00 UTC on 2 March is already 01:00 on 3 March in Auckland (UTC+13)…
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), "Pacific/Auckland", "2026-03-02", False),
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), "Pacific/Auckland", "2026-03-03", True),
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), "UTC", "2026-03-02", True),
        # …and 03:00 UTC on 2 March is still 1 March in Los Angeles (UTC-8).
        (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "America/Los_Angeles", "2026-03-01", True),
        (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "UTC", "2026-03-01", False),
    ],
)
def test_today_is_the_date_in_the_campaigns_time_zone(
    time_machine, utc_now: datetime, zone: str, start: str, valid: bool
) -> None:
    time_machine.move_to(utc_now, tick=False)
    errors = validate(daily("23:00", start, "2026-03-20", zone), now=timezone.now())
    assert ("start_date" not in errors) is valid


def test_the_recurrence_limit_follows_the_setting(now: datetime, settings) -> None:
    settings.CRIER_MAX_RECURRENCE_DAYS = 30
    assert validate(recurring_until(30), now=now) == {}
    assert validate(recurring_until(31), now=now) == {
        "end_date": [
            "Until: 2026-04-02 is 31 days from today; a campaign may repeat until at most 30 days "
            "from today, 2026-04-01."
        ]
    }


def test_validate_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        validate(ScheduleSpec(), now=datetime(2026, 3, 2, 10, 0))


# --- notes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule_spec", "expected"),
    [
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[31],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-08-29",
            ),
            ["day 31 is skipped in months that lack it (April, June, September, November; February)"],
            id="day-31",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[29, 30, 1],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-08-29",
            ),
            ["day 29 is skipped in February except in leap years", "day 30 is skipped in February"],
            id="days-29-and-30",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=1,
                circle_value=[1, 3],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-03-05",
            ),
            ["circle_value [1, 3] is ignored for a daily recurrence; it runs every day"],
            id="daily-with-circle-value",
        ),
        pytest.param(
            spec(kind="once", fixed_time="2026-03-10T09:00:00Z", cron="0 9 * * *", time="09:00"),
            ["time and cron are ignored when kind is 'once'"],
            id="fields-the-kind-ignores",
        ),
        pytest.param(
            daily("09:00", "2026-03-01", "2026-03-31", NEW_YORK),
            [],
            id="a-time-dst-does-not-touch",
        ),
        pytest.param(
            daily("02:30", "2026-03-01", "2026-03-31", NEW_YORK),
            [
                "time 02:30:00 on Sunday 2026-03-08 does not exist in America/New_York (clocks go forward "
                "1 hour at 02:00); it runs 1 hour later that day, at 03:30:00"
            ],
            id="new-york-spring-gap",
        ),
        pytest.param(
            daily("01:30", "2026-10-30", "2026-11-05", NEW_YORK),
            [
                "time 01:30:00 on Sunday 2026-11-01 occurs twice in America/New_York (clocks go back 1 hour "
                "at 02:00); it runs once, on the first pass (EDT)"
            ],
            id="new-york-autumn-overlap",
        ),
        pytest.param(
            daily("02:30", "2026-10-20", "2026-10-31", BERLIN),
            [
                "time 02:30:00 on Sunday 2026-10-25 occurs twice in Europe/Berlin (clocks go back 1 hour "
                "at 03:00); it runs once, on the first pass (CEST)"
            ],
            id="berlin-autumn-overlap",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=2,
                circle_value=[6],
                time="02:30",
                start_date="2026-03-20",
                end_date="2026-04-05",
                timezone=BERLIN,
            ),
            [],
            id="weekly-on-saturdays-misses-the-sunday-change",
        ),
        pytest.param(
            spec(
                kind="cron",
                cron="*/30 2 * * *",
                start_date="2026-03-28",
                end_date="2026-03-30",
                timezone=BERLIN,
            ),
            [
                "cron '*/30 2 * * *' at 02:00:00, 02:30:00 on Sunday 2026-03-29 do not exist in "
                "Europe/Berlin (clocks go forward 1 hour at 02:00); they run 1 hour later that day, "
                "at 03:00:00, 03:30:00"
            ],
            id="cron-spring-gap",
        ),
    ],
)
def test_notes_warn_about_surprises(schedule_spec: ScheduleSpec, expected: list[str]) -> None:
    assert notes(schedule_spec) == expected


# --- occurrences -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule_spec", "zone", "expected"),
    [
        pytest.param(
            daily("02:30", "2026-03-07", "2026-03-09", NEW_YORK),
            NEW_YORK,
            ["2026-03-07 02:30 EST", "2026-03-08 03:30 EDT", "2026-03-09 02:30 EDT"],
            id="new-york-spring-gap-happens-once-an-hour-later",
        ),
        pytest.param(
            daily("01:30", "2026-10-31", "2026-11-02", NEW_YORK),
            NEW_YORK,
            ["2026-10-31 01:30 EDT", "2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"],
            id="new-york-autumn-overlap-happens-once-on-the-first-pass",
        ),
        pytest.param(
            daily("09:00", "2026-03-07", "2026-03-09", NEW_YORK),
            NEW_YORK,
            ["2026-03-07 09:00 EST", "2026-03-08 09:00 EDT", "2026-03-09 09:00 EDT"],
            id="new-york-nine-stays-nine",
        ),
        pytest.param(
            daily("02:30", "2026-03-28", "2026-03-30", BERLIN),
            BERLIN,
            ["2026-03-28 02:30 CET", "2026-03-29 03:30 CEST", "2026-03-30 02:30 CEST"],
            id="berlin-spring-gap-happens-once-an-hour-later",
        ),
        pytest.param(
            daily("02:30", "2026-10-24", "2026-10-26", BERLIN),
            BERLIN,
            ["2026-10-24 02:30 CEST", "2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"],
            id="berlin-autumn-overlap-happens-once-on-the-first-pass",
        ),
        pytest.param(
            daily("00:00", "2026-03-02", "2026-03-03", BERLIN),
            BERLIN,
            ["2026-03-02 00:00 CET", "2026-03-03 00:00 CET"],
            id="period-includes-00-00-of-the-start",
        ),
        pytest.param(
            daily("23:59:59", "2026-03-02", "2026-03-03", BERLIN),
            BERLIN,
            ["2026-03-02 23:59 CET", "2026-03-03 23:59 CET"],
            id="period-runs-to-24-00-of-the-end",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=2,
                circle_value=[1, 3, 5],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-03-15",
                timezone=BERLIN,
            ),
            BERLIN,
            [
                "2026-03-02 09:00 CET",
                "2026-03-04 09:00 CET",
                "2026-03-06 09:00 CET",
                "2026-03-09 09:00 CET",
                "2026-03-11 09:00 CET",
                "2026-03-13 09:00 CET",
            ],
            id="weekly-monday-wednesday-friday",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=2,
                circle_value=[7],
                time="02:30",
                start_date="2026-03-01",
                end_date="2026-03-15",
                timezone=NEW_YORK,
            ),
            NEW_YORK,
            ["2026-03-01 02:30 EST", "2026-03-08 03:30 EDT", "2026-03-15 02:30 EDT"],
            id="weekly-sundays-across-the-spring-gap",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[31],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-08-29",
                timezone="UTC",
            ),
            "UTC",
            ["2026-03-31 09:00 UTC", "2026-05-31 09:00 UTC", "2026-07-31 09:00 UTC"],
            id="monthly-31st-skips-april-and-june",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[29, 30, 31],
                time="09:00",
                start_date="2026-02-01",
                end_date="2026-03-31",
                timezone="UTC",
            ),
            "UTC",
            ["2026-03-29 09:00 UTC", "2026-03-30 09:00 UTC", "2026-03-31 09:00 UTC"],
            id="monthly-29-30-31-skip-february",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[29, 30],
                time="09:00",
                start_date="2028-02-01",
                end_date="2028-03-31",
                timezone="UTC",
            ),
            "UTC",
            ["2028-02-29 09:00 UTC", "2028-03-29 09:00 UTC", "2028-03-30 09:00 UTC"],
            id="monthly-29-in-a-leap-february",
        ),
        pytest.param(
            spec(
                kind="recurring",
                circle_type=3,
                circle_value=[15, 1],
                time="09:00",
                start_date="2026-03-02",
                end_date="2026-05-01",
                timezone=BERLIN,
            ),
            BERLIN,
            [
                "2026-03-15 09:00 CET",
                "2026-04-01 09:00 CEST",
                "2026-04-15 09:00 CEST",
                "2026-05-01 09:00 CEST",
            ],
            id="monthly-first-and-fifteenth",
        ),
        pytest.param(
            spec(
                kind="cron",
                cron="30 2 * * *",
                start_date="2026-03-07",
                end_date="2026-03-09",
                timezone=NEW_YORK,
            ),
            NEW_YORK,
            ["2026-03-07 02:30 EST", "2026-03-08 03:30 EDT", "2026-03-09 02:30 EDT"],
            id="cron-in-the-new-york-spring-gap",
        ),
        pytest.param(
            spec(
                kind="cron",
                cron="*/30 1-2 * * *",
                start_date="2026-11-01",
                end_date="2026-11-01",
                timezone=NEW_YORK,
            ),
            NEW_YORK,
            ["2026-11-01 01:00 EDT", "2026-11-01 01:30 EDT", "2026-11-01 02:00 EST", "2026-11-01 02:30 EST"],
            id="cron-in-the-new-york-autumn-overlap",
        ),
        pytest.param(
            spec(
                kind="cron",
                cron="30 2 * * *",
                start_date="2026-10-24",
                end_date="2026-10-26",
                timezone=BERLIN,
            ),
            BERLIN,
            ["2026-10-24 02:30 CEST", "2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"],
            id="cron-in-the-berlin-autumn-overlap",
        ),
        pytest.param(
            spec(
                kind="cron",
                cron="15,45 2,3 * * *",
                start_date="2026-03-29",
                end_date="2026-03-29",
                timezone=BERLIN,
            ),
            BERLIN,
            ["2026-03-29 03:15 CEST", "2026-03-29 03:45 CEST"],
            id="cron-gap-times-merge-with-the-real-ones",
        ),
        pytest.param(
            # Lord Howe springs forward 30 minutes (02:00 → 02:30): 02:20 moves to 02:50, after 02:35.
            spec(
                kind="cron",
                cron="20,35 2 * * *",
                start_date="2026-10-04",
                end_date="2026-10-04",
                timezone="Australia/Lord_Howe",
            ),
            "Australia/Lord_Howe",
            ["2026-10-04 02:35 +11", "2026-10-04 02:50 +11"],
            id="cron-gap-time-moved-past-a-later-time-stays-in-order",
        ),
        pytest.param(
            # Samoa skipped 30 December 2011: that day's 10:00 is the next day's 10:00, sent once.
            daily("10:00", "2011-12-29", "2011-12-31", "Pacific/Apia"),
            "Pacific/Apia",
            ["2011-12-29 10:00 -10", "2011-12-31 10:00 +14"],
            id="a-skipped-day-sends-once",
        ),
        pytest.param(
            spec(
                kind="cron",
                cron="0 9 * * MON-FRI",
                start_date="2026-03-05",
                end_date="2026-03-10",
                timezone=BERLIN,
            ),
            BERLIN,
            ["2026-03-05 09:00 CET", "2026-03-06 09:00 CET", "2026-03-09 09:00 CET", "2026-03-10 09:00 CET"],
            id="cron-weekdays-skip-the-weekend",
        ),
        pytest.param(
            spec(
                kind="cron", cron="0 9 L * *", start_date="2026-01-01", end_date="2026-04-30", timezone="UTC"
            ),
            "UTC",
            ["2026-01-31 09:00 UTC", "2026-02-28 09:00 UTC", "2026-03-31 09:00 UTC", "2026-04-30 09:00 UTC"],
            id="cron-last-day-of-each-month",
        ),
        pytest.param(
            spec(kind="once", fixed_time="2026-03-10T09:30:00", timezone=BERLIN),
            BERLIN,
            ["2026-03-10 09:30 CET"],
            id="once",
        ),
        pytest.param(ScheduleSpec(), "UTC", [], id="now-yields-nothing-by-itself"),
    ],
)
def test_occurrences_are_local_wall_times_converted_to_utc(
    schedule_spec: ScheduleSpec, zone: str, expected: list[str]
) -> None:
    found = all_of(schedule_spec)
    assert shown(found, zone) == expected
    assert all(t.tzinfo is UTC for t in found)


def test_occurrences_are_strictly_after_after_and_at_or_before_until() -> None:
    s = daily("09:00", "2026-03-02", "2026-03-10", "UTC")
    at_nine = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    found = list(occurrences(s, after=at_nine, until=datetime(2026, 3, 5, 9, 0, tzinfo=UTC)))
    assert found == [datetime(2026, 3, 4, 9, 0, tzinfo=UTC), datetime(2026, 3, 5, 9, 0, tzinfo=UTC)]


def test_occurrences_stop_at_the_limit() -> None:
    s = daily("09:00", "2026-03-02", "2026-03-10", "UTC")
    assert len(list(occurrences(s, after=NOW, limit=3))) == 3
    assert list(occurrences(s, after=NOW, limit=0)) == []


def test_a_gap_occurrence_still_comes_when_after_is_between_the_wall_time_and_its_moved_time() -> None:
    # 02:30 does not exist on 8 March in New York; it runs at 03:30 EDT. At 03:10 EDT it is still ahead.
    s = daily("02:30", "2026-03-07", "2026-03-09", NEW_YORK)
    after = datetime(2026, 3, 8, 3, 10, tzinfo=ZoneInfo(NEW_YORK))
    assert shown([next_occurrence(s, after=after)], NEW_YORK) == ["2026-03-08 03:30 EDT"]


def test_once_in_the_past_has_no_occurrence_left() -> None:
    s = spec(kind="once", fixed_time="2026-03-01T09:00:00Z")
    assert not has_occurrences_left(s, after=NOW)
    assert has_occurrences_left(s, after=NOW - timedelta(days=2))


def test_next_occurrences_returns_the_next_few() -> None:
    s = daily("09:00", "2026-03-02", "2026-08-29", BERLIN)
    assert shown(next_occurrences(s, after=NOW, count=3), BERLIN) == [
        "2026-03-03 09:00 CET",
        "2026-03-04 09:00 CET",
        "2026-03-05 09:00 CET",
    ]


def test_a_recurrence_has_no_occurrence_left_after_its_end() -> None:
    s = daily("09:00", "2026-03-02", "2026-03-04", BERLIN)
    assert has_occurrences_left(s, after=datetime(2026, 3, 4, 7, 59, tzinfo=UTC))
    assert not has_occurrences_left(s, after=datetime(2026, 3, 4, 8, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    "schedule_spec",
    [
        pytest.param(daily("09:00", "2026-03-02", "2026-08-29", BERLIN), id="daily"),
        pytest.param(
            spec(
                kind="cron", cron="0 9 * * *", start_date="2026-03-02", end_date="2026-08-29", timezone=BERLIN
            ),
            id="cron",
        ),
    ],
)
def test_the_next_occurrence_of_a_180_day_schedule_is_found_without_walking_the_period(
    schedule_spec: ScheduleSpec,
) -> None:
    after = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with mock.patch.object(schedule, "wall_time_to_utc", wraps=schedule.wall_time_to_utc) as converted:
        first = next_occurrence(schedule_spec, after=after)
    assert shown([first], BERLIN) == ["2026-06-02 09:00 CEST"]
    assert converted.call_count <= 2


@pytest.mark.parametrize(
    ("schedule_spec", "message"),
    [
        (ScheduleSpec(kind="once"), "needs an aware fixed_time"),
        (ScheduleSpec(kind="later"), "is not a schedule kind"),
        (daily("09:00", "2026-03-02", "2026-03-04", "Mars/Olympus"), "is not an IANA time zone"),
        (spec(kind="cron", cron="0 9 * * *"), "needs start_date and end_date"),
        (
            spec(kind="cron", cron="0 0 9 * * *", start_date="2026-03-02", end_date="2026-03-04"),
            "has 6 fields",
        ),
        (
            spec(
                kind="recurring", circle_type=2, time="09:00", start_date="2026-03-02", end_date="2026-03-04"
            ),
            "must list weekdays",
        ),
        (
            spec(kind="recurring", circle_type=1, start_date="2026-03-02", end_date="2026-03-04"),
            "needs a local time of day",
        ),
    ],
)
def test_occurrences_refuse_at_once_a_schedule_they_cannot_evaluate(
    schedule_spec: ScheduleSpec, message: str
) -> None:
    with pytest.raises(ScheduleError, match=message):
        occurrences(schedule_spec, after=NOW)


def test_occurrences_refuse_a_naive_after() -> None:
    with pytest.raises(ValueError, match="after must be an aware datetime"):
        occurrences(ScheduleSpec(), after=datetime(2026, 3, 2))


# --- the table of kinds -------------------------------------------------------------------


def test_every_schedule_kind_has_one_row_in_the_table() -> None:
    assert list(SCHEDULE_KINDS) == list(ScheduleKind.values)
    assert {kind: rules.label for kind, rules in SCHEDULE_KINDS.items()} == dict(ScheduleKind.choices)
    assert {"once", "recurring", "cron"} == SCHEDULED_KINDS
    for rules in SCHEDULE_KINDS.values():
        assert set(rules.fields) <= set(SCHEDULE_FIELDS) - {"schedule_kind", "timezone"}


def test_the_form_script_gets_the_fields_of_each_kind_from_the_server() -> None:
    table = form_table()
    assert {kind: entry["fields"] for kind, entry in table["kinds"].items()} == {
        "now": [],
        "once": ["fixed_time"],
        "recurring": ["circle_type", "circle_value", "time", "start_date", "end_date"],
        "cron": ["cron", "start_date", "end_date"],
    }
    assert table["dependent"] == [
        "fixed_time",
        "circle_type",
        "circle_value",
        "time",
        "start_date",
        "end_date",
        "cron",
    ]
    assert table["inputs"] == [
        "fixed_time",
        "circle_type",
        "time",
        "start_date",
        "end_date",
        "cron",
        "timezone",
    ]


def test_a_kind_is_validated_by_the_fields_its_row_lists(monkeypatch) -> None:
    # A kind made of existing fields needs only its row: "once" reading a cron too is checked as cron.
    once = SCHEDULE_KINDS["once"]
    monkeypatch.setitem(SCHEDULE_KINDS, "once", replace(once, fields=(*once.fields, "cron")))
    errors = validate(spec(kind="once", fixed_time="2026-03-03T09:00:00+00:00", cron="0 9 * *"), now=NOW)
    assert list(errors) == ["cron"]
