"""Count a schedule's due times in a period without listing them.

A calendar day of a cron every minute has 1,440 due times; listing them costs one step
each (``campaigns.schedules.occurrences``), a month of them over a second. Counting uses
that a repeating schedule fires at the same times of day on every day it fires (a
recurrence at its time, a cron at its minute × hour fields), so a day costs one question
("does it fire that day?") and a binary search. Where the zone's UTC offset changes inside
the period, the daylight-saving rule of ``campaigns.schedules.spec`` moves or drops wall
times, so such a period is walked instead (one per change, and a day at most).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from dataclasses import dataclass

from campaigns.models import ScheduleKind
from campaigns.schedules.cron import cron_minutes_of_day
from campaigns.schedules.kinds import kind_rules
from campaigns.schedules.occurrences import occurrences, period_walls, required_time, utc_offset
from campaigns.schedules.spec import UTC, ScheduleError, ScheduleSpec, require_aware, zone_or_none

_DAY = dt.timedelta(days=1)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Span:
    """How many due times a schedule has in a period, and the first and last (UTC)."""

    count: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None


def occurrence_span(spec: ScheduleSpec, *, low: dt.datetime, high: dt.datetime) -> Span:
    """Return the count, first and last of the schedule's due times in [low, high).

    The same due times as ``occurrences`` (``after`` just before ``low``, ``until`` just
    before ``high``), counted in a few steps per local day of the period rather than one
    per due time. Raise ``ScheduleError`` for a schedule that cannot be evaluated.
    """
    require_aware(low, "low")
    require_aware(high, "high")
    rules = kind_rules(spec.kind)
    zone = zone_or_none(spec.timezone)
    if rules is None or not rules.period or zone is None or low >= high:
        return _walked(spec, low, high)
    if spec.start_date is None or spec.end_date is None:
        raise ScheduleError(f"a '{spec.kind}' schedule needs start_date and end_date")
    offset = utc_offset(zone, low)
    wall_low = (low + offset).replace(tzinfo=None)
    wall_high = (high + offset).replace(tzinfo=None)
    period_low = max(wall_low, dt.datetime.combine(spec.start_date, dt.time()))
    period_high = min(wall_high, dt.datetime.combine(spec.end_date + _DAY, dt.time()))
    times = _times_of_day(spec)
    count, first, last = 0, None, None
    day = dt.datetime.combine(period_low.date(), dt.time())
    while day < period_high:
        # Each local midnight and the end: one offset throughout, or the rule moves times.
        if utc_offset(zone, (min(day + _DAY, wall_high) - offset).replace(tzinfo=UTC)) != offset:
            return _walked(spec, low, high)
        start, end = _micros(max(period_low, day) - day), _micros(min(period_high, day + _DAY) - day)
        i, j = bisect_left(times, start), bisect_left(times, end)
        if j > i and next(period_walls(spec, day, day + _DAY), None) is not None:
            count += j - i
            first = first or day + dt.timedelta(microseconds=times[i])
            last = day + dt.timedelta(microseconds=times[j - 1])
        day += _DAY
    return Span(
        count,
        None if first is None else (first - offset).replace(tzinfo=UTC),
        None if last is None else (last - offset).replace(tzinfo=UTC),
    )


def _times_of_day(spec: ScheduleSpec) -> list[int]:
    """Return the microseconds after local midnight at which the schedule fires, sorted."""
    if spec.kind == ScheduleKind.CRON:
        return [minute * 60_000_000 for minute in cron_minutes_of_day(spec.cron)]
    at = required_time(spec)
    return [_micros(dt.datetime.combine(dt.date.min, at) - dt.datetime.min)]


def _micros(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _walked(spec: ScheduleSpec, low: dt.datetime, high: dt.datetime) -> Span:
    """Return the span by listing the due times (one step each)."""
    count, first, last = 0, None, None
    for due_at in occurrences(spec, after=low - _MICROSECOND, until=high - _MICROSECOND):
        count += 1
        first = first or due_at
        last = due_at
    return Span(count, first, last)
