"""A schedule, an expiry and an instant in a reviewer's words: what the review page shows
instead of the stored values ("Every week on Monday and Thursday at 09:00", not
"Weekly 1, 4 at 09:00:00"; "1 day", not "86400 s"; local and UTC times, not ISO).

Field names follow the form's labels (``campaigns.schedules.kinds``); every sentence is
whole and translatable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.formats import date_format
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.models import CircleType
from campaigns.schedules.kinds import kind_rules
from campaigns.schedules.spec import ScheduleSpec, zone_or_none


def _weekday_names() -> tuple[str, ...]:
    return (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"),
            _("Sunday"))


def _and(items: list[str]) -> str:
    return str(get_text_list(items, _("and")))


def describe_schedule(spec: ScheduleSpec) -> str:
    """Return the schedule as one sentence, e.g. "Every week on Monday and Thursday at 09:00
    (Asia/Shanghai), from 2026-12-07 to 2027-01-31"."""
    rules = kind_rules(spec.kind)
    zone = spec.timezone
    if rules is None:
        return _("An unknown kind of schedule (%(kind)s).") % {"kind": spec.kind}
    if rules.due_on_approval:
        return _("Once, as soon as it is approved.")
    if not rules.period:
        if spec.fixed_time is None:
            return _("Once, at a time not chosen yet.")
        shown = local_and_utc(spec.fixed_time, zone)
        return _("Once, on %(local)s (%(utc)s).") % shown
    period = {"start": spec.start_date, "end": spec.end_date, "zone": zone}
    if "cron" in rules.fields:
        return _("On the cron schedule %(cron)s in %(zone)s, from %(start)s to %(end)s.") % {
            **period, "cron": spec.cron
        }
    at = spec.time.strftime("%H:%M") if spec.time else "—"
    days = list(spec.circle_value)
    if spec.circle_type == CircleType.WEEKLY:
        names = _weekday_names()
        listed = _and([names[day - 1] for day in days if 1 <= day <= 7])
        return _("Every week on %(days)s at %(time)s (%(zone)s), from %(start)s to %(end)s.") % {
            **period, "days": listed, "time": at
        }
    if spec.circle_type == CircleType.MONTHLY:
        listed = _and([str(day) for day in days])
        return ngettext(
            "Every month on day %(days)s at %(time)s (%(zone)s), from %(start)s to %(end)s.",
            "Every month on days %(days)s at %(time)s (%(zone)s), from %(start)s to %(end)s.",
            len(days),
        ) % {**period, "days": listed, "time": at}
    return _("Every day at %(time)s (%(zone)s), from %(start)s to %(end)s.") % {**period, "time": at}


def describe_duration(seconds: int | None) -> str:
    """Return a duration in words, largest units first: 86400 → "1 day", 5400 → "1 hour
    30 minutes", 45 → "45 seconds"."""
    if seconds is None:
        return "—"
    remaining = int(seconds)
    parts: list[str] = []
    for size, unit in (
        (86400, lambda n: ngettext("%(n)s day", "%(n)s days", n)),
        (3600, lambda n: ngettext("%(n)s hour", "%(n)s hours", n)),
        (60, lambda n: ngettext("%(n)s minute", "%(n)s minutes", n)),
        (1, lambda n: ngettext("%(n)s second", "%(n)s seconds", n)),
    ):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(unit(count) % {"n": count})
    return " ".join(parts) or ngettext("%(n)s second", "%(n)s seconds", 0) % {"n": 0}


def local_and_utc(instant: dt.datetime | str, zone_name: str) -> dict[str, Any]:
    """Return an instant as the campaign's zone reads it and in UTC, e.g.
    ``{"local": "Mon 7 Dec 2026 09:00 Asia/Shanghai", "utc": "01:00 UTC"}``; the UTC part
    names the date too when it differs from the local one."""
    if isinstance(instant, str):
        instant = dt.datetime.fromisoformat(instant)
    zone = zone_or_none(zone_name) or dt.UTC
    local = instant.astimezone(zone)
    utc = instant.astimezone(dt.UTC)
    name = getattr(zone, "key", "UTC")
    local_text = f"{date_format(local, 'D j M Y H:i')} {name}"
    utc_text = f"{date_format(utc, 'H:i')} UTC" if utc.date() == local.date() else (
        f"{date_format(utc, 'D j M Y H:i')} UTC"
    )
    return {"local": local_text, "utc": utc_text}
