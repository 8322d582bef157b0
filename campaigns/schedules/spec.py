"""Campaign schedules: the ``ScheduleSpec`` value and how it is read from forms, the API
and the campaign.

A schedule follows mPaaS ``StrategyContent`` (docs/providers.md §3.4): ``now``; ``once`` at
a fixed time; ``recurring`` daily, weekly or monthly at a local time of day between a start
and an end date; or a five-field ``cron`` expression between those dates
(``campaigns.schedules.kinds`` says which fields each kind reads). Each schedule has an
IANA time zone. Recurrences are evaluated on local wall time in that zone and converted to
UTC, so a 09:00 campaign stays at 09:00 for its readers across daylight-saving changes. The
recurrence period runs from 00:00 on the start date to 24:00 on the end date, local time.

Daylight saving, one rule for ``recurring`` and ``cron`` (``wall_time_to_utc``):

* A local time that does not exist (the spring-forward gap) happens once, moved forward
  by the length of the gap: 02:30 on the day New York springs forward runs at 03:30 EDT.
* A local time that exists twice (the fall-back overlap) happens once, at its first
  occurrence (``fold=0``, still on summer time). A cron that fires every few minutes
  therefore stays silent during the second pass of the repeated hour.

The rest of the package: ``validation`` (the rules, by field), ``occurrences`` (expansion
into due times), ``cron`` (the only module that imports croniter), ``notes`` (warnings such
as daylight-saving changes) and ``limits`` (provider limits on pending schedules).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from campaigns.models import ScheduleKind
from campaigns.schedules.kinds import label

UTC = dt.UTC
_TIME_RE = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def add_error(errors: dict[str, list[str]], field: str, message: str) -> None:
    """Add ``message`` to the errors of ``field`` (the errors are a dict of lists by field)."""
    errors.setdefault(field, []).append(message)


@cache
def known_time_zones() -> frozenset[str]:
    """Return the IANA zone names a campaign may use (the tz database's, and UTC)."""
    return frozenset(available_timezones()) | {"UTC"}


def zone_or_none(name: str) -> ZoneInfo | None:
    """Return the IANA zone called ``name``, or None when there is none.

    Only names of the tz database count: ``ZoneInfo`` would also open a file such as
    ``localtime``, which is this machine's zone, not a place.
    """
    if not name or name not in known_time_zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def wall_time_to_utc(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Return the UTC instant of a naive local wall time in ``zone``.

    A wall time in a spring-forward gap moves forward by the gap (02:30 → 03:30); one in a
    fall-back overlap is its first pass. Both follow from ``fold=0``: Python maps a gap
    time with the offset from before the change, which lands after the gap (PEP 495).
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def require_aware(value: dt.datetime, name: str) -> None:
    """Raise ValueError when ``value`` is a naive datetime (an instant needs its offset)."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")


def _read_fixed_time(raw: Any, timezone: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            add_error(errors, "fixed_time", _not_a_date_time(raw))
            return None
    else:
        add_error(errors, "fixed_time", _not_a_date_time(raw))
        return None
    if value.utcoffset() is None:
        zone = zone_or_none(timezone)
        if zone is None:
            add_error(
                errors,
                "fixed_time",
                _("%(label)s: %(value)s has no UTC offset, and “%(zone)s” is not a time zone to read it "
                  "in; choose a time zone such as Europe/Berlin.")
                % {"label": label("fixed_time"), "value": raw, "zone": timezone},
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
    add_error(
        errors,
        field,
        _("%(label)s: “%(value)s” is not a whole number.") % {"label": label(field), "value": raw},
    )
    return None


def _read_circle_value(raw: Any, errors: dict[str, list[str]]) -> tuple[int, ...]:
    if raw is None or raw == "":
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        add_error(errors, "circle_value", _not_days(raw))
        return ()
    values: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            values.add(item)
        elif isinstance(item, str) and item.strip().isdigit():
            values.add(int(item.strip()))
        else:
            add_error(errors, "circle_value", _not_days(raw))
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
    add_error(
        errors,
        "time",
        _("%(label)s: “%(value)s” is not a time of day; use HH:MM or HH:MM:SS from 00:00 to 23:59, "
          "e.g. 09:45.") % {"label": label("time"), "value": raw},
    )
    return None


def _read_date(field: str, raw: Any, errors: dict[str, list[str]]) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        add_error(
            errors,
            field,
            _("%(label)s: %(value)s has a time of day; give a date only, YYYY-MM-DD.")
            % {"label": label(field), "value": raw},
        )
        return None
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str) and _DATE_RE.fullmatch(raw.strip()):
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            pass
    add_error(
        errors,
        field,
        _("%(label)s: “%(value)s” is not a date; use YYYY-MM-DD, e.g. 2026-05-01.")
        % {"label": label(field), "value": raw},
    )
    return None


def _not_a_date_time(raw: Any) -> str:
    return _("%(label)s: “%(value)s” is not a date and time; use YYYY-MM-DDTHH:MM with its UTC offset, "
             "e.g. 2026-05-01T09:00:00+02:00.") % {"label": label("fixed_time"), "value": raw}


def _not_days(raw: Any) -> str:
    return _("%(label)s: “%(value)s” is not a list of days; give whole numbers, weekdays 1 (Monday) "
             "to 7 (Sunday) or days of the month 1 to 31.") % {"label": label("circle_value"), "value": raw}
