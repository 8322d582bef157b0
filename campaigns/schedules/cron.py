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
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.schedules.kinds import label
from campaigns.schedules.spec import ScheduleError

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
# Vixie-cron syntax plus croniter's "L" (last day of month) and "#" (nth weekday). Checked
# before croniter sees the expression, because croniter also accepts seconds, years,
# Jenkins "H" hashes and "@daily" macros, none of which a provider schedule can express.
_CRON_FIELD_RES: tuple[re.Pattern[str], ...] = (
    re.compile(r"[0-9*,/-]+"),
    re.compile(r"[0-9*,/-]+"),
    re.compile(r"(?:[0-9*,/-]|L)+"),
    re.compile(rf"(?:[0-9*,/-]|{_MONTHS})+", re.IGNORECASE),
    re.compile(rf"(?:[0-9*,/#-]|{_DAYS})+", re.IGNORECASE),
)
# The lowest and highest number each of the five fields allows (day of the week: 0 and 7
# are both Sunday).
_RANGES: tuple[tuple[int, int], ...] = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NUMBER = re.compile(r"\d+")


def _field_names() -> tuple[str, ...]:
    return (_("minute"), _("hour"), _("day of the month"), _("month"), _("day of the week"))


def _out_of_range_messages() -> tuple[str, ...]:
    """One whole sentence per field (a translation needs the sentence, not a fragment)."""
    return (
        _("%(label)s: %(value)s is not a minute; the first field, the minute, runs from 0 to 59."),
        _("%(label)s: %(value)s is not an hour; the second field, the hour, runs from 0 to 23."),
        _("%(label)s: %(value)s is not a day of the month; the third field runs from 1 to 31."),
        _("%(label)s: %(value)s is not a month; the fourth field runs from 1 (January) to 12 "
          "(December), or JAN to DEC."),
        _("%(label)s: %(value)s is not a day of the week; the fifth field runs from 0 (Sunday) to 6 "
          "(Saturday), 7 is Sunday too, or SUN to SAT."),
    )


def _how_to() -> str:
    return _("Five fields: minute (0-59), hour (0-23), day of the month (1-31), month (1-12) and "
             "day of the week (0-7, 0 and 7 are Sunday), e.g. 0 9 * * 1-5 for 09:00 on weekdays.")


def cron_errors(expression: str) -> list[str]:
    """Return what is wrong with a five-field cron expression, in plain words (empty when it
    is valid): which field is wrong and what it allows, never croniter's own message."""
    name = label("cron")
    if not expression:
        return [_("%(label)s: enter a cron expression. %(how)s") % {"label": name, "how": _how_to()}]
    fields = expression.split()
    if len(fields) != 5:
        text = ngettext(
            "%(label)s: “%(value)s” has %(count)s field, not five. %(how)s Seconds, years and "
            "shortcuts such as @daily are not supported.",
            "%(label)s: “%(value)s” has %(count)s fields, not five. %(how)s Seconds, years and "
            "shortcuts such as @daily are not supported.",
            len(fields),
        )
        return [text % {"label": name, "value": expression, "count": len(fields), "how": _how_to()}]
    problems = [
        _("%(label)s: the %(field)s field “%(value)s” uses characters cron does not allow there; use "
          "numbers, *, commas, ranges such as 1-5 and steps such as */15.")
        % {"label": name, "field": field_name, "value": field}
        for pattern, field_name, field in zip(_CRON_FIELD_RES, _field_names(), fields, strict=True)
        if not pattern.fullmatch(field)
    ]
    if problems:
        return problems
    problems = _range_problems(fields)
    if problems:
        return problems
    try:
        croniter(expression, dt.datetime(2000, 1, 1))
    except (CroniterError, ValueError):
        # croniter's own words ("[61 * * * *] is not acceptable") tell a marketer nothing.
        return [
            _("%(label)s: “%(value)s” cannot be read as a schedule. %(how)s")
            % {"label": name, "value": expression, "how": _how_to()}
        ]
    return []


def _range_problems(fields: list[str]) -> list[str]:
    """Name each number outside its field's range, and each step of zero."""
    name = label("cron")
    problems: list[str] = []
    for index, (field, (low, high), message, field_name) in enumerate(
        zip(fields, _RANGES, _out_of_range_messages(), _field_names(), strict=True)
    ):
        for item in field.split(","):
            body, _sep, step = item.partition("/")
            if index == 4:
                body, _sep, nth = body.partition("#")
                if nth and not 1 <= int(nth or 0) <= 5:
                    problems.append(
                        _("%(label)s: #%(value)s asks for a week of the month that does not exist; "
                          "use #1 to #5 (e.g. 1#2, the second Monday).") % {"label": name, "value": nth}
                    )
            if step and (not step.isdigit() or int(step) == 0):
                problems.append(
                    _("%(label)s: the %(field)s field has the step /%(value)s; a step is a whole "
                      "number of 1 or more, e.g. */15.") % {"label": name, "field": field_name, "value": step}
                )
            for number in _NUMBER.findall(body):
                if not low <= int(number) <= high:
                    problems.append(message % {"label": name, "value": int(number)})
    return problems


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


def cron_minutes_of_day(expression: str) -> list[int]:
    """Return the minutes of a day (0 to 1439) on which the cron fires, on a day it fires.

    The minute and hour fields do not depend on the day fields, so every day the cron
    matches has the same times (``campaigns.schedules.counting`` counts with them).
    """
    require_valid_cron(expression)
    minutes, hours = croniter(expression, dt.datetime(2000, 1, 1)).expanded[:2]
    minutes = range(60) if minutes == ["*"] else minutes
    hours = range(24) if hours == ["*"] else hours
    return sorted(hour * 60 + minute for hour in hours for minute in minutes)
