"""Reads of the send ledger: dispatch progress, deliveries, the stop switch, the calendar.

Selectors only read. The REST API and the admin build on the same functions, so a number
shown in one is the number shown in the other.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
    ScheduleKind,
    SendSwitch,
)
from campaigns.schedules.counting import occurrence_span
from campaigns.schedules.kinds import due_on_approval
from campaigns.schedules.occurrences import occurrences
from campaigns.schedules.spec import ScheduleError, ScheduleSpec

logger = logging.getLogger(__name__)

# --- dispatches and deliveries ----------------------------------------------------------

# Live progress field -> the delivery statuses it counts (as the engine's stored counters).
PROGRESS_STATUSES: dict[str, tuple[str, ...]] = {
    "delivered": (DeliveryStatus.DELIVERED,),
    "failed": (DeliveryStatus.FAILED, DeliveryStatus.EXPIRED),
    "opted_out": (DeliveryStatus.OPTED_OUT,),
    "unknown": (DeliveryStatus.UNKNOWN,),
    "retrying": (DeliveryStatus.RETRY,),
    "in_flight": (DeliveryStatus.IN_FLIGHT,),
    "pending": (DeliveryStatus.PENDING,),
    "closed": (DeliveryStatus.CLOSED,),
}


def dispatch_list(
    *, campaign_id: int | None = None, status: str | None = None, is_preview: bool | None = None
) -> QuerySet[Dispatch]:
    """Return dispatches, latest occurrence first, optionally of one campaign and status."""
    dispatches = Dispatch.objects.select_related("campaign").order_by("-due_at", "-id")
    if campaign_id is not None:
        dispatches = dispatches.filter(campaign_id=campaign_id)
    if status is not None:
        dispatches = dispatches.filter(status=status)
    if is_preview is not None:
        dispatches = dispatches.filter(is_preview=is_preview)
    return dispatches


def delivery_counts(*, dispatch_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Return, per dispatch id, how many of its deliveries are in each status (one query)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Delivery.objects.filter(dispatch_id__in=list(dispatch_ids))
        .values("dispatch_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["dispatch_id"]][row["status"]] = row["n"]
    return dict(counts)


def dispatch_live_progress(*, dispatch: Dispatch, counts: Mapping[str, int] | None) -> dict[str, int]:
    """Return the progress counters of ``dispatch`` from its deliveries' live ``counts``.

    The engine stores counters on the dispatch only between chunks; the deliveries are
    the ledger, so a running dispatch is counted from them. A dispatch without delivery
    rows (not planned yet, or ended before planning) keeps its stored counters.
    """
    if not counts:
        return {
            "delivered": dispatch.delivered,
            "failed": dispatch.failed,
            "opted_out": dispatch.opted_out,
            "unknown": dispatch.unknown,
            "retrying": 0,
            "in_flight": 0,
            "pending": 0,
            "closed": 0,
        }
    return {
        field: sum(counts.get(status, 0) for status in statuses)
        for field, statuses in PROGRESS_STATUSES.items()
    }


def settled_percent(*, dispatch: Dispatch, settled: int, total: int) -> int:
    """Return the percent of ``total`` requests settled; below 100 while the dispatch is still
    being planned, since more requests are to come (planning in steps: docs/architecture.md)."""
    percent = round(100 * settled / total) if total else 0
    if dispatch.planned_at is None and dispatch.finished_at is None:
        return min(percent, 99)
    return percent


def delivery_list(
    *, dispatch_id: int, status: str | None = None, provider_code: str | None = None
) -> QuerySet[Delivery]:
    """Return the deliveries of one dispatch in batch order, optionally filtered."""
    deliveries = Delivery.objects.filter(dispatch_id=dispatch_id).defer("targets", "selector")
    if status is not None:
        deliveries = deliveries.filter(status=status)
    if provider_code is not None:
        deliveries = deliveries.filter(provider_code=provider_code)
    return deliveries.order_by("batch_no", "id")


def delivery_detail_queryset() -> QuerySet[Delivery]:
    """Return deliveries with their attempts prefetched in order, for the single-delivery view."""
    return Delivery.objects.prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number", "id"))
    )


def send_switch_get() -> SendSwitch:
    """Return the emergency stop switch (an unsaved running switch when never touched)."""
    return SendSwitch.objects.select_related("changed_by").filter(pk=1).first() or SendSwitch(pk=1)


# --- calendar ---------------------------------------------------------------------------

CALENDAR_STATUSES: tuple[str, ...] = (
    CampaignStatus.APPROVED,
    CampaignStatus.SENDING,
    CampaignStatus.IN_REVIEW,
)
# A campaign's occurrences in a window are listed up to this many; a campaign with more (a
# cron every minute) is counted day by day instead (campaigns/schedules/counting.py).
CALENDAR_PER_CAMPAIGN = 500
# "Dense": a campaign with more than this many occurrences on one day is one row that day
# with its count, so others stay visible. The one rule of the calendar API, the admin's
# calendar and its dashboard (README.md, "Calendar, dashboard and calendar API").
CALENDAR_DENSE_PER_DAY = 2


@dataclass(frozen=True, slots=True)
class CalendarOccurrence:
    """One upcoming occurrence of a campaign, for a calendar.

    ``day`` is the date of ``due_at`` in the calendar's zone; ``local_time`` the same
    instant in the campaign's own zone. ``approved`` is False for a campaign still in
    review (it will only go out if approved in time). ``overlaps`` lists the other
    campaigns with an occurrence for the same audience on the same day. ``held`` marks an
    occurrence that came due but is held: its reach grew past the approved bound and it
    waits for a reviewer to confirm it (``DispatchStatus.HELD``). A dense campaign's day
    is one row: ``count`` occurrences from ``due_at`` to ``last_due_at``.
    """

    day: dt.date
    due_at: dt.datetime
    local_time: dt.datetime
    timezone: str
    campaign_id: int
    campaign_name: str
    status: str
    approved: bool
    provider_kind: str
    provider_account_id: int
    provider_account_name: str
    audience_id: int
    audience_name: str
    overlaps: tuple[int, ...] = ()
    held: bool = False
    count: int = 1
    last_due_at: dt.datetime | None = None


def _zone_of(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _calendar_campaigns(low: dt.datetime, high: dt.datetime) -> QuerySet[Campaign]:
    """Return the campaigns that may have an occurrence in [low, high) — one query.

    Recurrence dates are local to each campaign's zone, so their bounds get a day of slack.
    """
    slack = dt.timedelta(days=1)
    may_fall_inside = (
        Q(
            schedule_kind=ScheduleKind.NOW,
            status__in=[CampaignStatus.APPROVED, CampaignStatus.SENDING],
            next_due_at__lt=high,
        )
        | Q(schedule_kind=ScheduleKind.ONCE, fixed_time__gte=low, fixed_time__lt=high)
        | Q(
            schedule_kind__in=[ScheduleKind.RECURRING, ScheduleKind.CRON],
            start_date__lte=(high + slack).date(),
            end_date__gte=(low - slack).date(),
        )
    )
    return (
        Campaign.objects.filter(may_fall_inside, status__in=CALENDAR_STATUSES)
        .select_related("provider_account", "audience")
        .order_by("id")
    )


def _listed_from(campaign: Campaign, *, low: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """Return when the campaign's occurrences in a window from ``low`` start to count.

    An approved campaign's next undispatched occurrence is ``next_due_at`` (it may lie a
    moment in the past while a worker picks it up; None: nothing left); one in review can
    only go out after it is approved, so from now on.
    """
    if campaign.status != CampaignStatus.IN_REVIEW:
        return None if campaign.next_due_at is None else max(low, campaign.next_due_at)
    return max(low, now)


def _campaign_due_times(
    campaign: Campaign, *, low: dt.datetime, high: dt.datetime, now: dt.datetime, limit: int
) -> list[dt.datetime]:
    """Return the campaign's due times in [low, high), at most ``limit`` + 1 of them."""
    start = _listed_from(campaign, low=low, now=now)
    if start is None:
        return []
    if campaign.status != CampaignStatus.IN_REVIEW and due_on_approval(campaign.schedule_kind):
        return [campaign.next_due_at] if low <= campaign.next_due_at < high else []
    try:
        spec = ScheduleSpec.from_campaign(campaign)
        return list(
            occurrences(
                spec,
                after=start - dt.timedelta(microseconds=1),
                until=high - dt.timedelta(microseconds=1),
                limit=limit + 1,
            )
        )
    except (ScheduleError, ValidationError) as exc:
        _unreadable(campaign, exc)
        return []


def _unreadable(campaign: Campaign, exc: Exception) -> None:
    logger.warning(
        "campaign %s has a schedule that cannot be evaluated: %s", campaign.pk, exc,
        extra={"campaign_id": campaign.pk},
    )


def calendar_occurrences(
    *,
    start: dt.date,
    end: dt.date,
    zone: dt.tzinfo | None = None,
    now: dt.datetime | None = None,
    per_campaign: int = CALENDAR_PER_CAMPAIGN,
    include_held: bool = False,
) -> list[CalendarOccurrence]:
    """Return the upcoming occurrences from ``start`` to ``end`` (both included), in order.

    Days are dates in ``zone`` (default: the current time zone, ``TIME_ZONE``). Covers
    campaigns approved or sending, and those in review (``approved`` False); a campaign in
    review scheduled "now" has no time yet and is left out. One query reads the campaigns;
    ``campaigns.schedules.occurrences`` lists their occurrences, up to ``per_campaign``
    each; a campaign with more is counted day by day (``campaigns.schedules.counting``),
    so a cron every minute costs a few steps a day. A campaign with more than
    ``CALENDAR_DENSE_PER_DAY`` occurrences on a day is one row that day with its
    ``count``, so it hides no other campaign. Occurrences for the same audience on the
    same day name each other in ``overlaps``. With ``include_held`` the held occurrences
    due in the period are listed too (``held``; one more query). Sorted by due time, then
    campaign id.
    """
    zone = zone or timezone.get_current_timezone()
    now = now or timezone.now()
    low = dt.datetime.combine(start, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    found: list[CalendarOccurrence] = []
    for campaign in _calendar_campaigns(low, high):
        due_times = _campaign_due_times(campaign, low=low, high=high, now=now, limit=per_campaign)
        if len(due_times) > per_campaign:
            found.extend(_counted_days(campaign, low=low, high=high, now=now, zone=zone))
        else:
            found.extend(_occurrence(campaign, due_at, zone=zone) for due_at in due_times)
    if include_held:
        found.extend(_held_occurrences(low=low, high=high, zone=zone))
    found = _collapsed(found)
    return _with_overlaps(sorted(found, key=lambda o: (o.due_at, o.campaign_id)))


def _collapsed(found: list[CalendarOccurrence]) -> list[CalendarOccurrence]:
    """Return ``found`` with each campaign's occurrences on a day (held apart) as one row
    when there are more than ``CALENDAR_DENSE_PER_DAY`` of them."""
    groups: dict[tuple[dt.date, int, bool], list[CalendarOccurrence]] = defaultdict(list)
    for occurrence in found:
        groups[(occurrence.day, occurrence.campaign_id, occurrence.held)].append(occurrence)
    rows: list[CalendarOccurrence] = []
    for group in groups.values():
        if len(group) <= CALENDAR_DENSE_PER_DAY or any(o.count > 1 for o in group):
            rows.extend(group)
            continue
        group.sort(key=lambda o: o.due_at)
        rows.append(replace(group[0], count=len(group), last_due_at=group[-1].due_at))
    return rows


def _counted_days(
    campaign: Campaign, *, low: dt.datetime, high: dt.datetime, now: dt.datetime, zone: dt.tzinfo
) -> list[CalendarOccurrence]:
    """Return ``campaign``'s rows for each day of [low, high) in ``zone``, its occurrences
    counted, not listed: a dense day is one row with its count, first and last."""
    start = _listed_from(campaign, low=low, now=now)
    if start is None:
        return []
    try:
        spec = ScheduleSpec.from_campaign(campaign)
    except (ScheduleError, ValidationError) as exc:
        _unreadable(campaign, exc)
        return []
    rows: list[CalendarOccurrence] = []
    day = start.astimezone(zone).date()
    while (day_low := dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)) < high:
        day_high = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
        try:
            span = occurrence_span(spec, low=max(start, day_low), high=min(high, day_high))
        except ScheduleError as exc:
            _unreadable(campaign, exc)
            return []
        if span.count > CALENDAR_DENSE_PER_DAY:
            rows.append(_occurrence(campaign, span.first, zone=zone, count=span.count, last_due_at=span.last))
        elif span.count:
            rows.extend(_occurrence(campaign, due_at, zone=zone) for due_at in {span.first, span.last})
        day += dt.timedelta(days=1)
    return rows


def _occurrence(
    campaign: Campaign, due_at: dt.datetime, *, zone: dt.tzinfo, **flags: Any
) -> CalendarOccurrence:
    """Return ``campaign``'s occurrence due at ``due_at`` as the calendar shows it (``flags``:
    ``held``, ``count``, ``last_due_at``)."""
    due_at = due_at.astimezone(dt.UTC)
    return CalendarOccurrence(
        day=due_at.astimezone(zone).date(),
        due_at=due_at,
        local_time=due_at.astimezone(_zone_of(campaign.timezone)),
        timezone=campaign.timezone,
        campaign_id=campaign.pk,
        campaign_name=campaign.name,
        status=campaign.status,
        approved=campaign.status != CampaignStatus.IN_REVIEW,
        provider_kind=campaign.provider_account.kind,
        provider_account_id=campaign.provider_account_id,
        provider_account_name=campaign.provider_account.name,
        audience_id=campaign.audience_id,
        audience_name=campaign.audience.name,
        **flags,
    )


def _held_occurrences(*, low: dt.datetime, high: dt.datetime, zone: dt.tzinfo) -> list[CalendarOccurrence]:
    """Return the held occurrences due in [low, high) (one query): they came due, but wait
    for a reviewer to confirm their grown reach, so they are not among the upcoming ones."""
    held = (
        Dispatch.objects.filter(
            status=DispatchStatus.HELD, is_preview=False, due_at__gte=low, due_at__lt=high
        )
        .select_related("campaign__provider_account", "campaign__audience")
        .order_by("due_at", "id")
    )
    rows = [_occurrence(dispatch.campaign, dispatch.due_at, zone=zone, held=True) for dispatch in held]
    return rows


def _with_overlaps(found: list[CalendarOccurrence]) -> list[CalendarOccurrence]:
    same_day: dict[tuple[dt.date, int], set[int]] = defaultdict(set)
    for occurrence in found:
        same_day[(occurrence.day, occurrence.audience_id)].add(occurrence.campaign_id)
    return [
        replace(o, overlaps=tuple(sorted(same_day[(o.day, o.audience_id)] - {o.campaign_id})))
        for o in found
    ]


def calendar_days(occurrences_in_order: Iterable[CalendarOccurrence]) -> list[dict[str, Any]]:
    """Return ``[{"date": day, "occurrences": [...]}]`` for occurrences sorted by due time."""
    days: dict[dt.date, list[CalendarOccurrence]] = {}
    for occurrence in occurrences_in_order:
        days.setdefault(occurrence.day, []).append(occurrence)
    return [{"date": day, "occurrences": items} for day, items in sorted(days.items())]
