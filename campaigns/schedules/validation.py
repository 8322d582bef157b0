"""Check a schedule: its errors by field, in the words of the campaign form.

Every message starts with the label the form shows for the field (``SCHEDULE_LABELS`` in
``campaigns.schedules.kinds``: "Until", not "end_date") and says in plain words what is
wrong and what is allowed; the API keys the same message by field name. This module, with
``cron`` and the readers of ``spec``, is the one place schedule messages are made.

Two sets of rules, checked at two moments (docs/architecture.md, "Where each rule lives"):

* **at write** (:func:`write_errors`, run by ``campaigns.clean.campaign_clean`` on every
  create and edit, in the admin and the API alike): what the schedule *is*, whatever the
  day: the fields its kind needs, their syntax and ranges, the end not before the start,
  and a repeating schedule that has no occurrence in its whole period.
* **at submit and approve** (:func:`validate`, which adds :func:`context_errors`): what
  depends on the moment: a one-off time in the past, a period that starts or ends before
  today or ends more than ``CRIER_MAX_RECURRENCE_DAYS`` from today, nothing left to send.

The checks run by field, for the fields the kind reads (``campaigns.schedules.kinds``), so
a kind's unused fields are never checked (``notes`` mentions them) and a new kind made of
existing fields needs no code here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from campaigns.models import CircleType
from campaigns.schedules.cron import cron_errors
from campaigns.schedules.kinds import SCHEDULE_KINDS, kind_rules, label
from campaigns.schedules.occurrences import has_occurrences_left
from campaigns.schedules.spec import ScheduleSpec, add_error, require_aware, wall_time_to_utc, zone_or_none

Errors = dict[str, list[str]]


def validate(spec: ScheduleSpec, *, now: dt.datetime) -> dict[str, list[str]]:
    """Return the schedule's errors by field at ``now``; an empty dict means it may be sent.

    The rules at write (:func:`write_errors`) and, when those pass, the rules of the
    moment (:func:`context_errors`). Keys are field names (``kind`` for the kind,
    ``schedule`` for a schedule that would never send); messages use the form's labels.
    """
    require_aware(now, "now")
    return _collect(spec, now)


def write_errors(spec: ScheduleSpec) -> dict[str, list[str]]:
    """Return the schedule's errors that do not depend on the day: what every save refuses."""
    return _collect(spec, None)


def context_errors(spec: ScheduleSpec, *, now: dt.datetime) -> dict[str, list[str]]:
    """Return the errors of a schedule valid at write that come from ``now`` alone
    (refused at submit, shown as a warning on save)."""
    require_aware(now, "now")
    if write_errors(spec):
        return {}
    return _collect(spec, now)


def _collect(spec: ScheduleSpec, now: dt.datetime | None) -> Errors:
    errors: Errors = {}
    zone = zone_or_none(spec.timezone)
    if zone is None:
        add_error(
            errors,
            "timezone",
            _("%(label)s: “%(value)s” is not a time zone; choose a name such as Europe/Berlin or "
              "Asia/Shanghai.") % {"label": label("timezone"), "value": spec.timezone},
        )
    rules = kind_rules(spec.kind)
    if rules is None:
        add_error(
            errors,
            "kind",
            _("%(label)s: “%(value)s” is not a kind of schedule; choose one of %(kinds)s.")
            % {"label": label("kind"), "value": spec.kind, "kinds": ", ".join(SCHEDULE_KINDS)},
        )
        return errors
    for field, check in _FIELD_CHECKS:
        if field in rules.fields:
            check(spec, zone, now, errors)
    if rules.period and not errors and zone is not None:
        _check_occurrences(spec, zone, now, errors)
    return errors


def max_recurrence_days() -> int:
    """Return how many days from today a recurrence may end (``CRIER_MAX_RECURRENCE_DAYS``)."""
    return int(getattr(settings, "CRIER_MAX_RECURRENCE_DAYS", 180))


def _check_occurrences(spec: ScheduleSpec, zone: ZoneInfo, now: dt.datetime | None, errors: Errors) -> None:
    """A repeating schedule must send at least once: in its period (at write), after now."""
    params = {
        "label": label("schedule"), "start_label": label("start_date"), "end_label": label("end_date"),
        "start": spec.start_date, "end": spec.end_date, "zone": zone.key,
    }
    # A day before the period's first local midnight: every occurrence is after it.
    period_start = wall_time_to_utc(dt.datetime.combine(spec.start_date, dt.time()), zone)
    if not has_occurrences_left(spec, after=period_start - dt.timedelta(days=1)):
        add_error(
            errors,
            "schedule",
            _("%(label)s: this schedule has no occurrence between %(start_label)s %(start)s and the "
              "end of %(end_label)s %(end)s (%(zone)s); it would never send. Check the days and "
              "times it repeats on.") % params,
        )
    elif now is not None and not has_occurrences_left(spec, after=now):
        add_error(
            errors,
            "schedule",
            _("%(label)s: this schedule has no occurrence left between now and the end of "
              "%(end_label)s %(end)s (%(zone)s); it would never send.") % params,
        )


def _check_fixed_time(
    spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime | None, errors: Errors
) -> None:
    fixed_time, name = spec.fixed_time, label("fixed_time")
    if fixed_time is None:
        add_error(
            errors,
            "fixed_time",
            _("%(label)s: a one-off campaign needs the date and time to send it.") % {"label": name},
        )
    elif fixed_time.utcoffset() is None:
        add_error(
            errors,
            "fixed_time",
            _("%(label)s: %(value)s has no UTC offset; give the time with its offset, e.g. "
              "2026-05-01T09:00:00+02:00.") % {"label": name, "value": fixed_time},
        )
    elif now is not None and fixed_time <= now:
        shown_zone = zone or ZoneInfo("UTC")
        add_error(
            errors,
            "fixed_time",
            _("%(label)s: %(value)s is not in the future (it is now %(now)s); choose a later date "
              "and time.") % {
                "label": name,
                "value": _format_local(fixed_time, shown_zone),
                "now": _format_local(now, shown_zone),
            },
        )


def _check_circle(
    spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime | None, errors: Errors
) -> None:
    """Check ``circle_type`` and the ``circle_value`` that goes with it."""
    circle_type, name = spec.circle_type, label("circle_type")
    if circle_type is None:
        add_error(
            errors,
            "circle_type",
            _("%(label)s: choose daily (1), weekly (2) or monthly (3).")
            % {"label": name},
        )
    elif circle_type not in CircleType.values:
        add_error(
            errors,
            "circle_type",
            _("%(label)s: %(value)s is not a way to repeat; choose daily (1), weekly (2) or monthly (3).")
            % {"label": name, "value": circle_type},
        )
    elif circle_type == CircleType.WEEKLY:
        _check_days(spec.circle_value, 7, _weekly_messages, errors)
    elif circle_type == CircleType.MONTHLY:
        _check_days(spec.circle_value, 31, _monthly_messages, errors)


def _weekly_messages() -> tuple[str, str]:
    return (
        _("%(label)s: choose at least one day of the week, Monday (1) to Sunday (7), for a weekly "
          "campaign."),
        _("%(label)s: %(value)s is not a day of the week; choose Monday (1) to Sunday (7)."),
    )


def _monthly_messages() -> tuple[str, str]:
    return (
        _("%(label)s: choose at least one day of the month, 1 to 31, for a monthly campaign."),
        _("%(label)s: %(value)s is not a day of the month; choose days 1 to 31."),
    )


def _check_days(values: tuple[int, ...], highest: int, messages: Callable[[], tuple[str, str]],
                errors: Errors) -> None:
    missing, out_of_range = messages()
    name = label("circle_value")
    if not values:
        add_error(errors, "circle_value", missing % {"label": name})
    for value in values:
        if not 1 <= value <= highest:
            add_error(errors, "circle_value", out_of_range % {"label": name, "value": value})


def _check_time(
    spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime | None, errors: Errors
) -> None:
    name = label("time")
    if spec.time is None:
        add_error(
            errors,
            "time",
            _("%(label)s: a recurring campaign needs the local time of day to send, e.g. 09:00.")
            % {"label": name},
        )
    elif spec.time.utcoffset() is not None:
        add_error(
            errors,
            "time",
            _("%(label)s: %(value)s has a UTC offset; give the local time of day, the time zone says "
              "where.") % {"label": name, "value": spec.time},
        )


def _check_cron(
    spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime | None, errors: Errors
) -> None:
    for message in cron_errors(spec.cron):
        add_error(errors, "cron", message)


def _check_period(
    spec: ScheduleSpec, zone: ZoneInfo | None, now: dt.datetime | None, errors: Errors
) -> None:
    """Check ``start_date`` and ``end_date``: the period a repeating kind runs in."""
    start, end = spec.start_date, spec.end_date
    names = {"start_label": label("start_date"), "end_label": label("end_date")}
    if start is None:
        add_error(
            errors,
            "start_date",
            _("%(start_label)s: a repeating campaign needs the first day it may send (from 00:00).")
            % names,
        )
    if end is None:
        add_error(
            errors,
            "end_date",
            _("%(end_label)s: a repeating campaign needs the last day it may send (until 24:00).")
            % names,
        )
    if start is not None and end is not None and end < start:
        add_error(
            errors,
            "end_date",
            _("%(end_label)s: %(end)s is before %(start_label)s (%(start)s); the last day must be on or "
              "after the first.") % {**names, "start": start, "end": end},
        )
    if zone is None or now is None:
        return
    today = now.astimezone(zone).date()
    past = {
        "start_date": _("%(label)s: %(value)s is before today (%(today)s in %(zone)s); a campaign may "
                        "not start in the past."),
        "end_date": _("%(label)s: %(value)s is before today (%(today)s in %(zone)s); a campaign may "
                      "not end in the past."),
    }
    for field, day in (("start_date", start), ("end_date", end)):
        if day is not None and day < today:
            add_error(
                errors,
                field,
                past[field] % {"label": label(field), "value": day, "today": today, "zone": zone.key},
            )
    max_days = max_recurrence_days()
    if end is not None and (end - today).days > max_days:
        add_error(
            errors,
            "end_date",
            _("%(end_label)s: %(end)s is %(days)s days from today; a campaign may repeat until at most "
              "%(max)s days from today, %(latest)s.") % {
                **names,
                "end": end,
                "days": (end - today).days,
                "max": max_days,
                "latest": today + dt.timedelta(days=max_days),
            },
        )


def _format_local(instant: dt.datetime, zone: ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M:%S} {zone.key}"


# The check of each schedule field, in the order errors are reported; a check that covers
# two fields is listed under the first (circle_type: circle_value too; start_date: end_date).
_FIELD_CHECKS: tuple[
    tuple[str, Callable[[ScheduleSpec, ZoneInfo | None, dt.datetime | None, Errors], None]], ...
] = (
    ("fixed_time", _check_fixed_time),
    ("circle_type", _check_circle),
    ("time", _check_time),
    ("cron", _check_cron),
    ("start_date", _check_period),
)
