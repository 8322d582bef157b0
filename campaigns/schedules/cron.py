"""Cron expressions: check one, and list its local wall times.

A schedule's cron is the five Vixie-cron fields (minute hour day-of-month month
day-of-week), with croniter's ``L`` (last day of the month) and ``#`` (nth weekday), read
on local wall time in the campaign's zone. This is the only module that imports croniter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from croniter import CroniterBadDateError, CroniterError, croniter

from campaigns.schedules.spec import ScheduleError

CRON_FIELDS = "minute hour day-of-month month day-of-week"
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
# Vixie-cron syntax plus croniter's "L" (last day of month) and "#" (nth weekday). Checked
# before croniter sees the expression, because croniter also accepts seconds, years,
# Jenkins "H" hashes and "@daily" macros, none of which a provider schedule can express.
_CRON_FIELD_RES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("minute", re.compile(r"[0-9*,/-]+")),
    ("hour", re.compile(r"[0-9*,/-]+")),
    ("day-of-month", re.compile(r"(?:[0-9*,/-]|L)+")),
    ("month", re.compile(rf"(?:[0-9*,/-]|{_MONTHS})+", re.IGNORECASE)),
    ("day-of-week", re.compile(rf"(?:[0-9*,/#-]|{_DAYS})+", re.IGNORECASE)),
)


def cron_errors(expression: str) -> list[str]:
    """Return what is wrong with a five-field cron expression (empty when it is valid)."""
    if not expression:
        return [f"cron is required when kind is 'cron'; give 5 fields: {CRON_FIELDS}"]
    fields = expression.split()
    if len(fields) != 5:
        return [
            f"cron {expression!r} has {len(fields)} field{'s' if len(fields) != 1 else ''}; use "
            f"exactly 5 ({CRON_FIELDS}): seconds, years and @-macros are not supported"
        ]
    problems = [
        f"cron {expression!r} has {name} field {field!r}, which uses characters cron does not allow there"
        for (name, pattern), field in zip(_CRON_FIELD_RES, fields, strict=True)
        if not pattern.fullmatch(field)
    ]
    if problems:
        return problems
    try:
        croniter(expression, dt.datetime(2000, 1, 1))
    except (CroniterError, ValueError) as exc:
        return [f"cron {expression!r} is not a valid cron expression: {exc}"]
    return []


def require_valid_cron(expression: str) -> None:
    """Raise ScheduleError with the first problem of ``expression``, if it has one."""
    problems = cron_errors(expression)
    if problems:
        raise ScheduleError(problems[0])


def cron_walls(expression: str, low: dt.datetime, high: dt.datetime) -> Iterator[dt.datetime]:
    """Return an iterator of the cron's local wall times in [low, high), croniter on naive times.

    croniter runs on naive wall times so that it never applies daylight saving itself;
    ``wall_time_to_utc`` does, under one rule for cron and recurring schedules alike.
    """
    # croniter returns matches strictly after its start; a second earlier keeps ``low``.
    iterator = croniter(
        expression,
        low - dt.timedelta(seconds=1),
        max_years_between_matches=max(1, high.year - low.year + 1),
    )

    def walls() -> Iterator[dt.datetime]:
        while True:
            try:
                wall = iterator.get_next(dt.datetime)
            except CroniterBadDateError:
                return
            if wall >= high:
                return
            yield wall

    return walls()
