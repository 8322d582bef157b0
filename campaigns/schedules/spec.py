"""Campaign schedules: read them, check them, and expand them into due times.

A schedule follows mPaaS ``StrategyContent`` (PROVIDERS.md §3.4): ``now``; ``once`` at a
fixed time; ``recurring`` daily, weekly or monthly at a local time of day between a start
and an end date; or a five-field ``cron`` expression between those dates. Each schedule
has an IANA time zone. Recurrences are evaluated on local wall time in that zone and
converted to UTC, so a 09:00 campaign stays at 09:00 for its readers across
daylight-saving changes. The recurrence period runs from 00:00 on the start date to 24:00
on the end date, local time.

Daylight saving, one rule for ``recurring`` and ``cron``:

* A local time that does not exist (the spring-forward gap) happens once, moved forward
  by the length of the gap: 02:30 on the day New York springs forward runs at 03:30 EDT.
* A local time that exists twice (the fall-back overlap) happens once, at its first
  occurrence (``fold=0``, still on summer time). A cron that fires every few minutes
  therefore stays silent during the second pass of the repeated hour.

This is the only module that imports croniter.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter
from django.conf import settings
from django.core.exceptions import ValidationError

from campaigns.models import CircleType, ScheduleKind

UTC = dt.UTC
KINDS: tuple[str, ...] = tuple(ScheduleKind.values)
SCHEDULED_KINDS: frozenset[str] = frozenset({ScheduleKind.ONCE, ScheduleKind.RECURRING, ScheduleKind.CRON})
CIRCLE_TYPES = "1 (daily), 2 (weekly) or 3 (monthly)"
WEEKDAYS = "1 (Monday) to 7 (Sunday)"
CRON_FIELDS = "minute hour day-of-month month day-of-week"
# The Campaign fields that make up its schedule.
SCHEDULE_FIELDS: tuple[str, ...] = (
    "schedule_kind",
    "fixed_time",
    "circle_type",
    "circle_value",
    "time",
    "start_date",
    "end_date",
    "cron",
    "timezone",
)

# The fields each kind reads; anything else set on a spec is ignored (and noted).
_FIELDS_USED: dict[str, frozenset[str]] = {
    ScheduleKind.NOW: frozenset(),
    ScheduleKind.ONCE: frozenset({"fixed_time"}),
    ScheduleKind.RECURRING: frozenset({"circle_type", "circle_value", "time", "start_date", "end_date"}),
    ScheduleKind.CRON: frozenset({"cron", "start_date", "end_date"}),
}

_TIME_RE = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
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
_MONTH_END_NOTES: dict[int, str] = {
    29: "day 29 is skipped in February except in leap years",
    30: "day 30 is skipped in February",
    31: "day 31 is skipped in months that lack it (April, June, September, November; February)",
}
# Notes look for daylight-saving changes only in periods up to this long, to stay cheap
# on a spec nobody has validated yet.
_NOTES_MAX_DAYS = 800


class ScheduleError(ValueError):
    """A schedule that cannot be evaluated (call ``validate`` first to get field errors)."""


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A campaign's schedule, detached from the model so it can be checked before saving.

    ``fixed_time`` is aware (UTC); ``time``, ``start_date`` and ``end_date`` are local to
    ``timezone``; ``circle_value`` is sorted without repeats when read by ``from_dict``.
    """

    kind: str = ScheduleKind.NOW.value
    fixed_time: dt.datetime | None = None
    circle_type: int | None = None
    circle_value: tuple[int, ...] = ()
    time: dt.time | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    cron: str = ""
    timezone: str = "UTC"

    @classmethod
    def from_campaign(cls, campaign: Any) -> ScheduleSpec:
        """Return the schedule stored on ``campaign`` (a ``campaigns.Campaign``)."""
        return cls.from_dict(
            {
                "kind": campaign.schedule_kind,
                "fixed_time": campaign.fixed_time,
                "circle_type": campaign.circle_type,
                "circle_value": campaign.circle_value,
                "time": campaign.time,
                "start_date": campaign.start_date,
                "end_date": campaign.end_date,
                "cron": campaign.cron,
                "timezone": campaign.timezone,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleSpec:
        """Return the schedule described by an API or form dict; strings are parsed.

        Accept ``fixed_time`` as an aware datetime or ISO 8601 string (one without a UTC
        offset is read as local time in ``timezone``), ``time`` as ``HH:MM:SS`` (or
        ``HH:MM``), dates as ``YYYY-MM-DD``, ``circle_value`` as a list of whole numbers or
        ``"1,3"``. Missing ``kind`` means ``now`` and missing ``timezone`` means UTC, as on
        the model. Raise ``ValidationError`` with every value that cannot be read, by
        field; rules about the values are ``validate``'s job.
        """
        errors: dict[str, list[str]] = {}
        kind = str(data.get("kind") or ScheduleKind.NOW.value).strip()
        raw_zone = data.get("timezone")
        timezone = "UTC" if raw_zone is None else str(raw_zone).strip()
        spec = cls(
            kind=kind,
            fixed_time=_read_fixed_time(data.get("fixed_time"), timezone, errors),
            circle_type=_read_whole_number("circle_type", data.get("circle_type"), errors),
            circle_value=_read_circle_value(data.get("circle_value"), errors),
            time=_read_time(data.get("time"), errors),
            start_date=_read_date("start_date", data.get("start_date"), errors),
            end_date=_read_date("end_date", data.get("end_date"), errors),
            cron=" ".join(str(data.get("cron") or "").split()),
            timezone=timezone,
        )
        if errors:
            raise ValidationError(errors)
        return spec

    def to_dict(self) -> dict[str, Any]:
        """Return the API/form dict for this schedule (JSON-ready; ``from_dict`` reads it back)."""
        return {
            "kind": self.kind,
            "fixed_time": self.fixed_time.isoformat() if self.fixed_time else None,
            "circle_type": self.circle_type,
            "circle_value": list(self.circle_value),
            "time": self.time.isoformat(timespec="seconds") if self.time else None,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "cron": self.cron,
            "timezone": self.timezone,
        }


# --- reading ----------------------------------------------------------------------------


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _zone_or_none(name: str) -> ZoneInfo | None:
    """Return the IANA zone called ``name``, or None when there is none."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _read_fixed_time(raw: Any, timezone: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            _add(errors, "fixed_time", f"fixed_time {raw!r} is not an ISO 8601 date and time")
            return None
    else:
        _add(errors, "fixed_time", f"fixed_time {raw!r} is not an ISO 8601 date and time")
        return None
    if value.utcoffset() is None:
        zone = _zone_or_none(timezone)
        if zone is None:
            _add(
                errors,
                "fixed_time",
                f"fixed_time {raw!s} has no UTC offset, and timezone {timezone!r} is not a "
                "time zone to read it in",
            )
            return None
        return wall_time_to_utc(value.replace(tzinfo=None), zone)
    return value.astimezone(UTC)


def _read_whole_number(field: str, raw: Any, errors: dict[str, list[str]]) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    _add(errors, field, f"{field} {raw!r} is not a whole number")
    return None


def _read_circle_value(raw: Any, errors: dict[str, list[str]]) -> tuple[int, ...]:
    if raw is None or raw == "":
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        _add(errors, "circle_value", f"circle_value {raw!r} is not a list of whole numbers")
        return ()
    values: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            values.add(item)
        elif isinstance(item, str) and item.strip().isdigit():
            values.add(int(item.strip()))
        else:
            _add(errors, "circle_value", f"circle_value {raw!r} is not a list of whole numbers")
            return ()
    return tuple(sorted(values))


def _read_time(raw: Any, errors: dict[str, list[str]]) -> dt.time | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.time):
        # mPaaS schedules to the second; a stray microsecond would only break equality.
        return raw.replace(microsecond=0)
    match = _TIME_RE.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match:
        hour, minute, second = (int(part or 0) for part in match.groups())
        if hour < 24 and minute < 60 and second < 60:
            return dt.time(hour, minute, second)
    _add(errors, "time", f"time {raw!r} is not a time of day; use HH:MM:SS, e.g. 09:45:00")
    return None


def _read_date(field: str, raw: Any, errors: dict[str, list[str]]) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        _add(errors, field, f"{field} {raw!s} has a time of day; give a date, YYYY-MM-DD")
        return None
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str) and _DATE_RE.fullmatch(raw.strip()):
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            pass
    _add(errors, field, f"{field} {raw!r} is not a date; use YYYY-MM-DD")
    return None


# --- validation -------------------------------------------------------------------------


def validate(spec: ScheduleSpec, *, now: dt.datetime) -> dict[str, list[str]]:
    """Return the schedule's errors by field at ``now``; an empty dict means it is valid.

    Each message names the field, the value and the rule. A kind's unused fields are not
    checked (``notes`` mentions them). For ``recurring`` and ``cron``: the end date is at
    most ``CRIER_MAX_RECURRENCE_DAYS`` days from today, neither date is before today and
    the end is not before the start, "today" being ``now``'s date in the campaign's zone.
    A schedule that passes every field rule but would never fire again gets an error on
    ``schedule``.
    """
    _require_aware(now, "now")
    errors: dict[str, list[str]] = {}
    zone = _zone_or_none(spec.timezone)
    if zone is None:
        _add(
            errors,
            "timezone",
            f"timezone {spec.timezone!r} is not an IANA time zone name such as 'Europe/Berlin'",
        )
    if spec.kind not in KINDS:
        _add(errors, "kind", f"kind {spec.kind!r} is not a schedule kind; use one of {', '.join(KINDS)}")
        return errors
    if spec.kind == ScheduleKind.ONCE:
        _check_fixed_time(spec, zone, now, errors)
    elif spec.kind in (ScheduleKind.RECURRING, ScheduleKind.CRON):
        if spec.kind == ScheduleKind.RECURRING:
            _check_circle(spec, errors)
        else:
            for message in cron_errors(spec.cron):
                _add(errors, "cron", message)
        _check_period(spec, zone, now, errors)
        if not errors and not has_occurrences_left(spec, after=now):
            _add(
                errors,
                "schedule",
                f"the schedule has no occurrence left between now and 24:00 on end_date "
                f"{spec.end_date} ({spec.timezone}); it would never send",
            )
    return errors


def _check_fixed_time(
    spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime, errors: dict[str, list[str]]
) -> None:
    fixed_time = spec.fixed_time
    if fixed_time is None:
        _add(errors, "fixed_time", "fixed_time is required when kind is 'once'")
    elif fixed_time.utcoffset() is None:
        _add(errors, "fixed_time", f"fixed_time {fixed_time} has no UTC offset; give an aware time")
    elif fixed_time <= now:
        shown_zone = zone or ZoneInfo("UTC")
        _add(
            errors,
            "fixed_time",
            f"fixed_time {_format_local(fixed_time, shown_zone)} is not in the future; a one-off "
            f"campaign must be scheduled after now ({_format_local(now, shown_zone)})",
        )


def _check_circle(spec: ScheduleSpec, errors: dict[str, list[str]]) -> None:
    circle_type = spec.circle_type
    if circle_type is None:
        _add(errors, "circle_type", f"circle_type is required when kind is 'recurring'; use {CIRCLE_TYPES}")
    elif circle_type not in CircleType.values:
        _add(errors, "circle_type", f"circle_type {circle_type} is not a recurrence type; use {CIRCLE_TYPES}")
    elif circle_type == CircleType.WEEKLY:
        _check_circle_value(spec.circle_value, 7, "weekly", "weekday", WEEKDAYS, errors)
    elif circle_type == CircleType.MONTHLY:
        _check_circle_value(spec.circle_value, 31, "monthly", "day of the month", "1 to 31", errors)
    if spec.time is None:
        _add(
            errors,
            "time",
            "time is required when kind is 'recurring'; give the local time of day as HH:MM:SS",
        )
    elif spec.time.utcoffset() is not None:
        _add(
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
        _add(
            errors, "circle_value", f"circle_value is required for a {recurrence} recurrence; list {allowed}"
        )
    for value in values:
        if not 1 <= value <= highest:
            _add(errors, "circle_value", f"circle_value {value} is not a {noun}; use {allowed}")


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


def _check_period(
    spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime, errors: dict[str, list[str]]
) -> None:
    start, end = spec.start_date, spec.end_date
    if start is None:
        _add(
            errors,
            "start_date",
            f"start_date is required when kind is '{spec.kind}'; the recurrence runs from 00:00 "
            "on start_date",
        )
    if end is None:
        _add(
            errors,
            "end_date",
            f"end_date is required when kind is '{spec.kind}'; the recurrence runs until 24:00 on end_date",
        )
    if zone is not None:
        today = now.astimezone(zone).date()
        for field, day, verb in (("start_date", start, "start"), ("end_date", end, "end")):
            if day is not None and day < today:
                _add(
                    errors,
                    field,
                    f"{field} {day} is before today ({today} in {zone.key}); a recurrence may "
                    f"not {verb} before 00:00 today",
                )
        max_days = max_recurrence_days()
        if end is not None and (end - today).days > max_days:
            _add(
                errors,
                "end_date",
                f"end_date {end} is {(end - today).days} days away; a recurrence may end at most "
                f"{max_days} days from today",
            )
    if start is not None and end is not None and end < start:
        _add(
            errors,
            "end_date",
            f"end_date {end} is before start_date {start}; a recurrence must end on or after the "
            "day it starts",
        )


def max_recurrence_days() -> int:
    """Return how many days from today a recurrence may end (``CRIER_MAX_RECURRENCE_DAYS``)."""
    return int(getattr(settings, "CRIER_MAX_RECURRENCE_DAYS", 180))


# --- notes ------------------------------------------------------------------------------


def notes(spec: ScheduleSpec) -> list[str]:
    """Return warnings about a schedule that may not do what its author expects.

    Notes never block saving: fields the kind ignores, monthly days some months lack,
    and local times that daylight saving skips or repeats within the period.
    """
    found: list[str] = []
    used = _FIELDS_USED.get(spec.kind)
    if used is None:
        return found
    ignored = [name for name in _fields_set(spec) if name not in used]
    if ignored:
        verb = "is" if len(ignored) == 1 else "are"
        found.append(f"{' and '.join(ignored)} {verb} ignored when kind is '{spec.kind}'")
    if spec.kind == ScheduleKind.RECURRING:
        if spec.circle_type == CircleType.DAILY and spec.circle_value:
            found.append(
                f"circle_value {list(spec.circle_value)} is ignored for a daily recurrence; it runs every day"
            )
        if spec.circle_type == CircleType.MONTHLY:
            found.extend(_MONTH_END_NOTES[day] for day in spec.circle_value if day in _MONTH_END_NOTES)
    if spec.kind in (ScheduleKind.RECURRING, ScheduleKind.CRON):
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
    zone = _zone_or_none(spec.timezone)
    start, end = spec.start_date, spec.end_date
    if zone is None or start is None or end is None or not 0 <= (end - start).days <= _NOTES_MAX_DAYS:
        return []
    try:
        walls_between = _walls_between_function(spec)
    except ScheduleError:
        return []
    period_start = dt.datetime.combine(start, dt.time())
    period_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    found: list[str] = []
    for instant, before, after in _offset_changes(zone, start, end):
        jump = after - before
        # The local wall times that the change skips (gap) or repeats (overlap).
        low = (instant + min(before, after)).replace(tzinfo=None)
        high = (instant + max(before, after)).replace(tzinfo=None)
        walls = [w for w in walls_between(low, high) if period_start <= w < period_end]
        if not walls:
            continue
        several = len(walls) > 1
        shown = ", ".join(f"{w:%H:%M:%S}" for w in walls[:5]) + (" …" if len(walls) > 5 else "")
        day = f"{walls[0]:%A %Y-%m-%d}"
        what = f"time {shown}" if spec.kind == ScheduleKind.RECURRING else f"cron {spec.cron!r} at {shown}"
        if jump > dt.timedelta(0):
            moved = ", ".join(f"{w + jump:%H:%M:%S}" for w in walls[:5]) + (" …" if len(walls) > 5 else "")
            found.append(
                f"{what} on {day} {'do' if several else 'does'} not exist in {zone.key} (clocks go "
                f"forward {_format_duration(jump)} at {low:%H:%M}); {'they run' if several else 'it runs'} "
                f"{_format_duration(jump)} later that day, at {moved}"
            )
        else:
            first_pass = walls[0].replace(tzinfo=zone, fold=0).tzname()
            found.append(
                f"{what} on {day} {'occur' if several else 'occurs'} twice in {zone.key} (clocks go "
                f"back {_format_duration(-jump)} at {high:%H:%M}); {'each' if several else 'it'} runs "
                f"once, on the first pass ({first_pass})"
            )
    return found


def _walls_between_function(spec: ScheduleSpec) -> Callable[[dt.datetime, dt.datetime], list[dt.datetime]]:
    """Return a function listing the schedule's local wall times in [low, high)."""
    if spec.kind == ScheduleKind.RECURRING:
        matches = _day_matcher(spec)
        time_of_day = _required_time(spec)

        def recurring_walls(low: dt.datetime, high: dt.datetime) -> list[dt.datetime]:
            days = {low.date(), high.date()}
            walls = (dt.datetime.combine(day, time_of_day) for day in sorted(days) if matches(day))
            return [w for w in walls if low <= w < high]

        return recurring_walls

    _require_valid_cron(spec.cron)

    def cron_walls(low: dt.datetime, high: dt.datetime) -> list[dt.datetime]:
        return list(islice(_cron_walls(spec.cron, low, high), 1000))

    return cron_walls


def _offset_changes(
    zone: ZoneInfo, first: dt.date, last: dt.date
) -> list[tuple[dt.datetime, dt.timedelta, dt.timedelta]]:
    """Return (instant, offset before, offset after) for each UTC-offset change near the period."""
    changes = []
    # Sample instants, not wall times: an instant has exactly one offset.
    probe = dt.datetime.combine(first - dt.timedelta(days=2), dt.time(), tzinfo=UTC)
    stop = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), tzinfo=UTC)
    offset = _offset(zone, probe)
    while probe < stop:
        following = probe + dt.timedelta(hours=12)
        following_offset = _offset(zone, following)
        if following_offset != offset:
            low, high = probe, following
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(zone, middle) == offset else (low, middle)
            changes.append((high, offset, following_offset))
        probe, offset = following, following_offset
    return changes


def _offset(zone: ZoneInfo, instant: dt.datetime) -> dt.timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


def _format_duration(delta: dt.timedelta) -> str:
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    minutes = rest // 60
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts) or f"{int(delta.total_seconds())} seconds"


def _format_local(instant: dt.datetime, zone: ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M:%S} {zone.key}"


# --- occurrences ------------------------------------------------------------------------


def wall_time_to_utc(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Return the UTC instant of a naive local wall time in ``zone``.

    A wall time in a spring-forward gap moves forward by the gap (02:30 → 03:30); one in a
    fall-back overlap is its first pass. Both follow from ``fold=0``: Python maps a gap
    time with the offset from before the change, which lands after the gap (PEP 495).
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


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
    _require_aware(after, "after")
    if until is not None:
        _require_aware(until, "until")
    if limit is not None and limit <= 0:
        return iter(())
    after = after.astimezone(UTC)
    if spec.kind == ScheduleKind.NOW:
        return iter(())
    if spec.kind == ScheduleKind.ONCE:
        fixed_time = spec.fixed_time
        if fixed_time is None or fixed_time.utcoffset() is None:
            raise ScheduleError("a 'once' schedule needs an aware fixed_time")
        due = [fixed_time.astimezone(UTC)] if fixed_time > after else []
        return _bounded(iter(due), until, limit)
    if spec.kind not in (ScheduleKind.RECURRING, ScheduleKind.CRON):
        raise ScheduleError(f"kind {spec.kind!r} is not a schedule kind")
    zone = _zone_or_none(spec.timezone)
    if zone is None:
        raise ScheduleError(f"timezone {spec.timezone!r} is not an IANA time zone")
    if spec.start_date is None or spec.end_date is None:
        raise ScheduleError(f"a '{spec.kind}' schedule needs start_date and end_date")
    period_start = dt.datetime.combine(spec.start_date, dt.time())
    period_end = dt.datetime.combine(spec.end_date + dt.timedelta(days=1), dt.time())
    low = max(period_start, _earliest_wall_time_after(after, zone))
    if spec.kind == ScheduleKind.RECURRING:
        walls = _recurring_walls(spec, low, period_end)
    else:
        _require_valid_cron(spec.cron)
        walls = _cron_walls(spec.cron, low, period_end)
    return _bounded(_instants_in_order(walls, zone, after), until, limit)


def next_occurrences(spec: ScheduleSpec, *, after: dt.datetime, count: int = 5) -> list[dt.datetime]:
    """Return the next ``count`` due times after ``after`` (fewer when the schedule ends)."""
    return list(occurrences(spec, after=after, limit=count))


def next_occurrence(spec: ScheduleSpec, *, after: dt.datetime) -> dt.datetime | None:
    """Return the first due time after ``after``, or None when the schedule has ended."""
    return next(occurrences(spec, after=after, limit=1), None)


def has_occurrences_left(spec: ScheduleSpec, *, after: dt.datetime) -> bool:
    """Return whether the schedule is due at least once more after ``after``."""
    return next_occurrence(spec, after=after) is not None


def _require_aware(value: dt.datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")


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
    return (after + min(_offset(zone, sample) for sample in samples)).replace(tzinfo=None)


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
        _offset(zone, dt.datetime.combine(day + dt.timedelta(days=shift), dt.time(), tzinfo=UTC))
        for shift in range(-2, 4)
    ]
    return max(offsets) - min(offsets)


def _required_time(spec: ScheduleSpec) -> dt.time:
    if spec.time is None or spec.time.utcoffset() is not None:
        raise ScheduleError("a 'recurring' schedule needs a local time of day")
    return spec.time


def _day_matcher(spec: ScheduleSpec) -> Callable[[dt.date], bool]:
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
    matches = _day_matcher(spec)
    time_of_day = _required_time(spec)

    def walls() -> Iterator[dt.datetime]:
        day = low.date()
        while (wall := dt.datetime.combine(day, time_of_day)) < high:
            if wall >= low and matches(day):
                yield wall
            day += dt.timedelta(days=1)

    return walls()


def _require_valid_cron(expression: str) -> None:
    problems = cron_errors(expression)
    if problems:
        raise ScheduleError(problems[0])


def _cron_walls(expression: str, low: dt.datetime, high: dt.datetime) -> Iterator[dt.datetime]:
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
