"""The campaign calendar page's content: the next days as weeks of day cells, each with the
occurrences due that day (a dense campaign collapsed to one row a day with its count) and
the campaigns reaching one audience on one day marked. The view is
``campaigns.admin.report.CampaignPagesMixin``."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from campaigns.sending.selectors import calendar_days, calendar_occurrences

CALENDAR_DAYS = 30
CALENDAR_PER_DAY = 12


def calendar_page(*, start: dt.date, days: int = CALENDAR_DAYS, per_day: int = CALENDAR_PER_DAY) -> dict:
    """Return the calendar from ``start`` for ``days`` days as weeks of day cells.

    Each cell lists at most ``per_day`` occurrences (the rest counted); an occurrence whose
    audience another campaign also reaches that day is marked with those campaigns' names.
    """
    end = start + dt.timedelta(days=days - 1)
    # A campaign due more than a few times a day is one row a day with its count.
    found = calendar_occurrences(start=start, end=end, include_held=True)
    names = {o.campaign_id: o.campaign_name for o in found}
    by_day = {day["date"]: day["occurrences"] for day in calendar_days(found)}
    first = start - dt.timedelta(days=start.weekday())
    last = end + dt.timedelta(days=6 - end.weekday())
    weeks, week = [], []
    today = timezone.localdate()
    day = first
    while day <= last:
        items = by_day.get(day, [])
        week.append(
            {
                "date": day,
                "in_range": start <= day <= end,
                "today": day == today,
                "items": [
                    {"occurrence": o, "overlap_names": [names.get(i, f"#{i}") for i in o.overlaps]}
                    for o in items[:per_day]
                ],
                "more": max(0, len(items) - per_day),
                "overlaps": any(o.overlaps for o in items),
            }
        )
        if len(week) == 7:
            weeks.append(week)
            week = []
        day += dt.timedelta(days=1)
    overlapping = {o.campaign_id for o in found if o.overlaps}
    return {
        "start": start,
        "end": end,
        "weeks": weeks,
        "total": sum(o.count for o in found),
        "overlapping_campaigns": len(overlapping),
        "previous": start - dt.timedelta(days=days),
        "next": start + dt.timedelta(days=days),
    }
