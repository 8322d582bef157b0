"""Expand a schedule into its due times, aware in UTC.

Recurrences are evaluated on local wall time in the campaign's zone and converted to UTC
under the one daylight-saving rule of ``campaigns.schedules.spec`` (``wall_time_to_utc``).
Which kinds have due times, and which repeat over a period, comes from
``campaigns.schedules.kinds``; how a repeating kind lists its wall times is its entry in
``_PERIOD_WALLS`` below.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

from campaigns.models import CircleType, ScheduleKind
from campaigns.schedules.cron import cron_walls, require_valid_cron
from campaigns.schedules.kinds import kind_rules
from campaigns.schedules.spec import (
    UTC,
    ScheduleError,
    ScheduleSpec,
    require_aware,
    wall_time_to_utc,
    zone_or_none,
)


def occurrences(
    spec: ScheduleSpec,
    *,
    after: dt.datetime,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> Iterator[dt.datetime]:
    """Yield the schedule's due times, aware in UTC, strictly after ``after``, in order.

    Stop after the last one at or before ``until`` and after ``limit`` of them, when given.
    ``now`` yields nothing: such a campaign is due when it is approved, a time the caller
    knows and the schedule does not. ``once`` yields ``fixed_time``. ``recurring`` and
    ``cron`` yield local wall times in the campaign's zone within 00:00 of ``start_date``
    to 24:00 of ``end_date``, converted to UTC under the daylight-saving rule of the
    module docstring; a monthly day a month lacks is skipped. Evaluation starts at
    ``after`` (not at the start of the period) and costs one step per day (recurring) or
    per cron match, never one per minute. Raise ``ScheduleError`` at once, not on the
    first ``next()``, for a schedule that cannot be evaluated.
    """
    require_aware(after, "after")
    if until is not None:
        require_aware(until, "until")
    if limit is not None and limit <= 0:
        return iter(())
    after = after.astimezone(UTC)
    rules = kind_rules(spec.kind)
    if rules is None:
        raise ScheduleError(f"kind {spec.kind!r} is not a schedule kind")
    if rules.due_on_approval:
        return iter(())
    if not rules.period:
        return _bounded(iter(_fixed_time_after(spec, after)), until, limit)
    zone = zone_or_none(spec.timezone)
    if zone is None:
        raise ScheduleError(f"timezone {spec.timezone!r} is not an IANA time zone")
    if spec.start_date is None or spec.end_date is None:
        raise ScheduleError(f"a '{spec.kind}' schedule needs start_date and end_date")
    period_start = dt.datetime.combine(spec.start_date, dt.time())
    period_end = dt.datetime.combine(spec.end_date + dt.timedelta(days=1), dt.time())
    low = max(period_start, _earliest_wall_time_after(after, zone))
    walls = period_walls(spec, low, period_end)
    return _bounded(_instants_in_order(walls, zone, after), until, limit)


def _fixed_time_after(spec: ScheduleSpec, after: dt.datetime) -> list[dt.datetime]:
    """Return ``[fixed_time]`` in UTC when it is after ``after``, else ``[]``."""
    fixed_time = spec.fixed_time
    if fixed_time is None or fixed_time.utcoffset() is None:
        raise ScheduleError(f"a '{spec.kind}' schedule needs an aware fixed_time")
    return [fixed_time.astimezone(UTC)] if fixed_time > after else []


def period_walls(spec: ScheduleSpec, low: dt.datetime, high: dt.datetime) -> Iterator[dt.datetime]:
    """Return an iterator of a repeating schedule's local wall times in [low, high), in order.

    Raise ScheduleError at once for a schedule that cannot be evaluated.
    """
    walls_of = _PERIOD_WALLS.get(spec.kind)
    if walls_of is None:
        raise ScheduleError(f"kind {spec.kind!r} does not repeat over a period")
    return walls_of(spec, low, high)


def next_occurrences(spec: ScheduleSpec, *, after: dt.datetime, count: int = 5) -> list[dt.datetime]:
    """Return the next ``count`` due times after ``after`` (fewer when the schedule ends)."""
    return list(occurrences(spec, after=after, limit=count))


def next_occurrence(spec: ScheduleSpec, *, after: dt.datetime) -> dt.datetime | None:
    """Return the first due time after ``after``, or None when the schedule has ended."""
    return next(occurrences(spec, after=after, limit=1), None)


def has_occurrences_left(spec: ScheduleSpec, *, after: dt.datetime) -> bool:
    """Return whether the schedule is due at least once more after ``after``."""
    return next_occurrence(spec, after=after) is not None


def _bounded(
    instants: Iterator[dt.datetime], until: dt.datetime | None, limit: int | None
) -> Iterator[dt.datetime]:
    for count, instant in enumerate(instants, start=1):
        if until is not None and instant > until:
            return
        yield instant
        if limit is not None and count >= limit:
            return


def _earliest_wall_time_after(after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Return a local wall time no later than any wall time whose instant is after ``after``.

    A wall time w maps to w minus the offset in force around it, so it suffices to start
    from ``after`` plus the smallest offset near it. Offsets are sampled two days either
    side, which covers every real gap (the longest, Samoa's, was one day).
    """
    samples = (after + dt.timedelta(days=days) for days in (-2, -1, 0, 1, 2))
    return (after + min(utc_offset(zone, sample) for sample in samples)).replace(tzinfo=None)


def _instants_in_order(
    walls: Iterator[dt.datetime], zone: ZoneInfo, after: dt.datetime
) -> Iterator[dt.datetime]:
    """Yield the UTC instants of increasing wall times in increasing order, without repeats.

    Gap times move forward past later wall times (02:45 → 03:45 comes after 03:15), so
    instants wait in a heap until no later wall time can precede them: a later wall time's
    instant is at most the local spread of offsets earlier than the current one's.
    """
    pending: list[dt.datetime] = []
    spreads: dict[dt.date, dt.timedelta] = {}
    last = after
    for wall in walls:
        instant = wall_time_to_utc(wall, zone)
        heapq.heappush(pending, instant)
        day = wall.date()
        if day not in spreads:
            spreads[day] = _offset_spread(zone, day)
        safe_until = instant - spreads[day]
        while pending and pending[0] <= safe_until:
            candidate = heapq.heappop(pending)
            if candidate > last:
                last = candidate
                yield candidate
    while pending:
        candidate = heapq.heappop(pending)
        if candidate > last:
            last = candidate
            yield candidate


def _offset_spread(zone: ZoneInfo, day: dt.date) -> dt.timedelta:
    """Return how far the zone's UTC offsets differ within two days either side of ``day``."""
    offsets = [
        utc_offset(zone, dt.datetime.combine(day + dt.timedelta(days=shift), dt.time(), tzinfo=UTC))
        for shift in range(-2, 4)
    ]
    return max(offsets) - min(offsets)


def required_time(spec: ScheduleSpec) -> dt.time:
    """Return the recurrence's local time of day; raise ScheduleError when it has none."""
    if spec.time is None or spec.time.utcoffset() is not None:
        raise ScheduleError("a 'recurring' schedule needs a local time of day")
    return spec.time


def day_matcher(spec: ScheduleSpec) -> Callable[[dt.date], bool]:
    """Return a test of whether a local date is one of the recurrence's days."""
    values = frozenset(spec.circle_value)
    if spec.circle_type == CircleType.DAILY:
        return lambda day: True
    if spec.circle_type == CircleType.WEEKLY:
        if not values or not values <= set(range(1, 8)):
            raise ScheduleError(f"weekly circle_value {sorted(values)} must list weekdays 1 to 7")
        return lambda day: day.isoweekday() in values
    if spec.circle_type == CircleType.MONTHLY:
        if not values or not values <= set(range(1, 32)):
            raise ScheduleError(f"monthly circle_value {sorted(values)} must list days 1 to 31")
        # A day a month lacks never comes up as a date, so it is skipped, not moved.
        return lambda day: day.day in values
    raise ScheduleError(f"circle_type {spec.circle_type!r} is not 1, 2 or 3")


def _recurring_walls(spec: ScheduleSpec, low: dt.datetime, high: dt.datetime) -> Iterator[dt.datetime]:
    """Return an iterator of the recurrence's local wall times in [low, high), one per day."""
    matches = day_matcher(spec)
    time_of_day = required_time(spec)

    def walls() -> Iterator[dt.datetime]:
        day = low.date()
        while (wall := dt.datetime.combine(day, time_of_day)) < high:
            if wall >= low and matches(day):
                yield wall
            day += dt.timedelta(days=1)

    return walls()


def _cron_spec_walls(spec: ScheduleSpec, low: dt.datetime, high: dt.datetime) -> Iterator[dt.datetime]:
    require_valid_cron(spec.cron)
    return cron_walls(spec.cron, low, high)


# How each kind that repeats over a period lists its wall times (see kinds.KindRules.period).
_PERIOD_WALLS: dict[str, Callable[[ScheduleSpec, dt.datetime, dt.datetime], Iterator[dt.datetime]]] = {
    ScheduleKind.RECURRING: _recurring_walls,
    ScheduleKind.CRON: _cron_spec_walls,
}


def utc_offset(zone: ZoneInfo, instant: dt.datetime) -> dt.timedelta:
    """Return the UTC offset in force in ``zone`` at ``instant`` (an instant has exactly one)."""
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset
