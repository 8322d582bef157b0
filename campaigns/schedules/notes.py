"""Notes on a schedule: warnings that never block saving, about a schedule that may not
do what its author expects (fields its kind ignores, monthly days some months lack, local
times that daylight saving skips or repeats within the period).
"""

from __future__ import annotations

import datetime as dt
from itertools import islice
from zoneinfo import ZoneInfo

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.models import CircleType
from campaigns.schedules.kinds import kind_rules
from campaigns.schedules.occurrences import period_walls, utc_offset
from campaigns.schedules.spec import UTC, ScheduleError, ScheduleSpec, zone_or_none

_MONTH_END_NOTES = {
    29: gettext_lazy("day 29 is skipped in February except in leap years"),
    30: gettext_lazy("day 30 is skipped in February"),
    31: gettext_lazy("day 31 is skipped in months that lack it (April, June, September, November; February)"),
}
# Notes look for daylight-saving changes only in periods up to this long, to stay cheap
# on a spec nobody has validated yet.
_NOTES_MAX_DAYS = 800
# At most this many wall times are listed within one daylight-saving change.
_WALLS_PER_CHANGE = 1000


def notes(spec: ScheduleSpec) -> list[str]:
    """Return warnings about a schedule that may not do what its author expects.

    Notes never block saving: fields the kind ignores, monthly days some months lack,
    and local times that daylight saving skips or repeats within the period.
    """
    found: list[str] = []
    rules = kind_rules(spec.kind)
    if rules is None:
        return found
    ignored = [name for name in _fields_set(spec) if name not in rules.fields]
    if ignored:
        found.append(
            ngettext(
                "%(fields)s is ignored when kind is '%(kind)s'",
                "%(fields)s are ignored when kind is '%(kind)s'",
                len(ignored),
            )
            % {"fields": f" {_('and')} ".join(ignored), "kind": spec.kind}
        )
    if "circle_value" in rules.fields:
        if spec.circle_type == CircleType.DAILY and spec.circle_value:
            found.append(
                _("circle_value %(value)s is ignored for a daily recurrence; it runs every day")
                % {"value": list(spec.circle_value)}
            )
        if spec.circle_type == CircleType.MONTHLY:
            found.extend(str(_MONTH_END_NOTES[day]) for day in spec.circle_value if day in _MONTH_END_NOTES)
    if rules.period:
        found.extend(_daylight_saving_notes(spec))
    return found


def _fields_set(spec: ScheduleSpec) -> list[str]:
    values = {
        "fixed_time": spec.fixed_time,
        "circle_type": spec.circle_type,
        "circle_value": spec.circle_value,
        "time": spec.time,
        "start_date": spec.start_date,
        "end_date": spec.end_date,
        "cron": spec.cron,
    }
    return [name for name, value in values.items() if value not in (None, "", ())]


def _daylight_saving_notes(spec: ScheduleSpec) -> list[str]:
    zone = zone_or_none(spec.timezone)
    start, end = spec.start_date, spec.end_date
    if zone is None or start is None or end is None or not 0 <= (end - start).days <= _NOTES_MAX_DAYS:
        return []
    period_start = dt.datetime.combine(start, dt.time())
    period_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    try:
        # An empty range: raises at once for a schedule that cannot be evaluated (no notes then).
        period_walls(spec, period_start, period_start)
    except ScheduleError:
        return []
    found: list[str] = []
    for instant, before, after in _offset_changes(zone, start, end):
        # The local wall times that the change skips (gap) or repeats (overlap).
        low = (instant + min(before, after)).replace(tzinfo=None)
        high = (instant + max(before, after)).replace(tzinfo=None)
        walls = [
            w
            for w in islice(period_walls(spec, low, high), _WALLS_PER_CHANGE)
            if period_start <= w < period_end
        ]
        if walls:
            found.append(_change_note(spec, zone, walls, after - before, low, high))
    return found


def _change_note(
    spec: ScheduleSpec,
    zone: ZoneInfo,
    walls: list[dt.datetime],
    jump: dt.timedelta,
    low: dt.datetime,
    high: dt.datetime,
) -> str:
    """Return the note for the wall times ``walls`` that a change of ``jump`` skips or repeats."""
    count = len(walls)
    shown = ", ".join(f"{w:%H:%M:%S}" for w in walls[:5]) + (" …" if len(walls) > 5 else "")
    # The weekday in the reader's language: "Sunday 2026-03-29", "2026年3月29日 星期日".
    day = date_format(walls[0], _("l Y-m-d"))
    rules = kind_rules(spec.kind)
    if rules and "cron" in rules.fields:
        what = _("cron %(cron)r at %(times)s") % {"cron": spec.cron, "times": shown}
    else:
        what = _("time %(times)s") % {"times": shown}
    if jump > dt.timedelta(0):
        moved = ", ".join(f"{w + jump:%H:%M:%S}" for w in walls[:5]) + (" …" if len(walls) > 5 else "")
        return ngettext(
            "%(what)s on %(day)s does not exist in %(zone)s (clocks go forward %(jump)s at %(at)s); "
            "it runs %(jump)s later that day, at %(moved)s",
            "%(what)s on %(day)s do not exist in %(zone)s (clocks go forward %(jump)s at %(at)s); "
            "they run %(jump)s later that day, at %(moved)s",
            count,
        ) % {"what": what, "day": day, "zone": zone.key, "jump": _format_duration(jump),
             "at": f"{low:%H:%M}", "moved": moved}
    first_pass = walls[0].replace(tzinfo=zone, fold=0).tzname()
    return ngettext(
        "%(what)s on %(day)s occurs twice in %(zone)s (clocks go back %(jump)s at %(at)s); it runs "
        "once, on the first pass (%(first_pass)s)",
        "%(what)s on %(day)s occur twice in %(zone)s (clocks go back %(jump)s at %(at)s); each runs "
        "once, on the first pass (%(first_pass)s)",
        count,
    ) % {"what": what, "day": day, "zone": zone.key, "jump": _format_duration(-jump),
         "at": f"{high:%H:%M}", "first_pass": first_pass}


def _offset_changes(
    zone: ZoneInfo, first: dt.date, last: dt.date
) -> list[tuple[dt.datetime, dt.timedelta, dt.timedelta]]:
    """Return (instant, offset before, offset after) for each UTC-offset change near the period."""
    changes = []
    # Sample instants, not wall times: an instant has exactly one offset.
    probe = dt.datetime.combine(first - dt.timedelta(days=2), dt.time(), tzinfo=UTC)
    stop = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), tzinfo=UTC)
    offset = utc_offset(zone, probe)
    while probe < stop:
        following = probe + dt.timedelta(hours=12)
        following_offset = utc_offset(zone, following)
        if following_offset != offset:
            low, high = probe, following
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if utc_offset(zone, middle) == offset else (low, middle)
            changes.append((high, offset, following_offset))
        probe, offset = following, following_offset
    return changes


def _format_duration(delta: dt.timedelta) -> str:
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    minutes = rest // 60
    parts = []
    if hours:
        parts.append(ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours})
    if minutes:
        parts.append(ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes})
    return " ".join(parts) or _("%(n)s seconds") % {"n": int(delta.total_seconds())}
