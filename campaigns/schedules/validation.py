"""Check a schedule: its errors by field, each naming the field, the value and the rule.

The checks run by field, for the fields the kind reads (``campaigns.schedules.kinds``), so
a kind's unused fields are never checked (``notes`` mentions them) and a new kind made of
existing fields needs no code here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings

from campaigns.models import CircleType
from campaigns.schedules.cron import cron_errors
from campaigns.schedules.kinds import SCHEDULE_KINDS, kind_rules
from campaigns.schedules.occurrences import has_occurrences_left
from campaigns.schedules.spec import ScheduleSpec, add_error, require_aware, zone_or_none

CIRCLE_TYPES = "1 (daily), 2 (weekly) or 3 (monthly)"
WEEKDAYS = "1 (Monday) to 7 (Sunday)"
Errors = dict[str, list[str]]


def validate(spec: ScheduleSpec, *, now: dt.datetime) -> dict[str, list[str]]:
    """Return the schedule's errors by field at ``now``; an empty dict means it is valid.

    Each message names the field, the value and the rule. A kind's unused fields are not
    checked (``notes`` mentions them). For a kind that repeats over a period (``recurring``
    and ``cron``): the end date is at most ``CRIER_MAX_RECURRENCE_DAYS`` days from today,
    neither date is before today and the end is not before the start, "today" being
    ``now``'s date in the campaign's zone; and a schedule that passes every field rule but
    would never fire again gets an error on ``schedule``.
    """
    require_aware(now, "now")
    errors: Errors = {}
    zone = zone_or_none(spec.timezone)
    if zone is None:
        add_error(
            errors,
            "timezone",
            f"timezone {spec.timezone!r} is not an IANA time zone name such as 'Europe/Berlin'",
        )
    rules = kind_rules(spec.kind)
    if rules is None:
        kinds = ", ".join(SCHEDULE_KINDS)
        add_error(errors, "kind", f"kind {spec.kind!r} is not a schedule kind; use one of {kinds}")
        return errors
    for field, check in _FIELD_CHECKS:
        if field in rules.fields:
            check(spec, zone, now, errors)
    if rules.period and not errors and not has_occurrences_left(spec, after=now):
        add_error(
            errors,
            "schedule",
            f"the schedule has no occurrence left between now and 24:00 on end_date "
            f"{spec.end_date} ({spec.timezone}); it would never send",
        )
    return errors


def max_recurrence_days() -> int:
    """Return how many days from today a recurrence may end (``CRIER_MAX_RECURRENCE_DAYS``)."""
    return int(getattr(settings, "CRIER_MAX_RECURRENCE_DAYS", 180))


def _check_fixed_time(spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime, errors: Errors) -> None:
    fixed_time = spec.fixed_time
    if fixed_time is None:
        add_error(errors, "fixed_time", f"fixed_time is required when kind is '{spec.kind}'")
    elif fixed_time.utcoffset() is None:
        add_error(errors, "fixed_time", f"fixed_time {fixed_time} has no UTC offset; give an aware time")
    elif fixed_time <= now:
        shown_zone = zone or ZoneInfo("UTC")
        add_error(
            errors,
            "fixed_time",
            f"fixed_time {_format_local(fixed_time, shown_zone)} is not in the future; a one-off "
            f"campaign must be scheduled after now ({_format_local(now, shown_zone)})",
        )


def _check_circle(spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime, errors: Errors) -> None:
    """Check ``circle_type`` and the ``circle_value`` that goes with it."""
    circle_type = spec.circle_type
    if circle_type is None:
        add_error(
            errors, "circle_type", f"circle_type is required when kind is '{spec.kind}'; use {CIRCLE_TYPES}"
        )
    elif circle_type not in CircleType.values:
        add_error(
            errors, "circle_type", f"circle_type {circle_type} is not a recurrence type; use {CIRCLE_TYPES}"
        )
    elif circle_type == CircleType.WEEKLY:
        _check_circle_value(spec.circle_value, 7, "weekly", "weekday", WEEKDAYS, errors)
    elif circle_type == CircleType.MONTHLY:
        _check_circle_value(spec.circle_value, 31, "monthly", "day of the month", "1 to 31", errors)


def _check_time(spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime, errors: Errors) -> None:
    if spec.time is None:
        add_error(
            errors,
            "time",
            f"time is required when kind is '{spec.kind}'; give the local time of day as HH:MM:SS",
        )
    elif spec.time.utcoffset() is not None:
        add_error(
            errors,
            "time",
            f"time {spec.time} has a UTC offset; give a local time of day, timezone says where",
        )


def _check_circle_value(
    values: tuple[int, ...],
    highest: int,
    recurrence: str,
    noun: str,
    allowed: str,
    errors: dict[str, list[str]],
) -> None:
    if not values:
        add_error(
            errors, "circle_value", f"circle_value is required for a {recurrence} recurrence; list {allowed}"
        )
    for value in values:
        if not 1 <= value <= highest:
            add_error(errors, "circle_value", f"circle_value {value} is not a {noun}; use {allowed}")


def _check_cron(spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime, errors: Errors) -> None:
    for message in cron_errors(spec.cron):
        add_error(errors, "cron", message)


def _check_period(spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime, errors: Errors) -> None:
    """Check ``start_date`` and ``end_date``: the period a repeating kind runs in."""
    start, end = spec.start_date, spec.end_date
    if start is None:
        add_error(
            errors,
            "start_date",
            f"start_date is required when kind is '{spec.kind}'; the recurrence runs from 00:00 "
            "on start_date",
        )
    if end is None:
        add_error(
            errors,
            "end_date",
            f"end_date is required when kind is '{spec.kind}'; the recurrence runs until 24:00 on end_date",
        )
    if zone is not None:
        today = now.astimezone(zone).date()
        for field, day, verb in (("start_date", start, "start"), ("end_date", end, "end")):
            if day is not None and day < today:
                add_error(
                    errors,
                    field,
                    f"{field} {day} is before today ({today} in {zone.key}); a recurrence may "
                    f"not {verb} before 00:00 today",
                )
        max_days = max_recurrence_days()
        if end is not None and (end - today).days > max_days:
            add_error(
                errors,
                "end_date",
                f"end_date {end} is {(end - today).days} days away; a recurrence may end at most "
                f"{max_days} days from today",
            )
    if start is not None and end is not None and end < start:
        add_error(
            errors,
            "end_date",
            f"end_date {end} is before start_date {start}; a recurrence must end on or after the "
            "day it starts",
        )


def _format_local(instant: dt.datetime, zone: ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M:%S} {zone.key}"


# The check of each schedule field, in the order errors are reported; a check that covers
# two fields is listed under the first (circle_type: circle_value too; start_date: end_date).
_FIELD_CHECKS: tuple[
    tuple[str, Callable[[ScheduleSpec, ZoneInfo | None, dt.datetime, Errors], None]], ...
] = (
    ("fixed_time", _check_fixed_time),
    ("circle_type", _check_circle),
    ("time", _check_time),
    ("cron", _check_cron),
    ("start_date", _check_period),
)
