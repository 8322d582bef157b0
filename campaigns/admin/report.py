"""Admin pages around campaigns: the delivery report, the calendar, and the campaign form's
JSON helpers (next occurrences of a schedule, size of an audience).

The reads here aggregate in the database — one grouped query for the counts of a page of
dispatches, one for the outcomes over time of the dispatch on show — so a page costs the
same number of queries with ten deliveries or a million. Counts come from the deliveries
(the ledger), as ``campaigns.sending.selectors.dispatch_live_progress`` counts them for the API.

:class:`CampaignPagesMixin` adds the views to ``CampaignAdmin``; they only read input and
call the functions below or the selectors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Trunc
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.calendar import calendar_page
from campaigns.admin.forms import audience_size_text
from campaigns.admin.schedule_form import schedule_preview
from campaigns.models import (
    Audience,
    Campaign,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
)
from campaigns.schedules.kinds import due_on_approval
from campaigns.selectors import campaign_next_occurrences
from campaigns.sending.selectors import (
    PROGRESS_STATUSES,
    dispatch_live_progress,
    settled_percent,
)
from providers.models import ProviderAccount

DISPATCHES_PER_PAGE = 25
CHART_WIDTH, CHART_HEIGHT, CHART_BARS = 720, 160, 40
CHART_MIN_SLOTS = 20  # a dispatch over in a second is one narrow bar, not a block
TOP_FAILED_CODES = 5
FAILED_COLORS = ("#ba2121", "#e25c3b", "#8f1d1d", "#d9822b", "#a34d6d")
SERIES_COLORS = {
    "delivered": "#3b8a3e",
    "opted_out": "#6c7a89",
    "retry": "#e0a526",
    "unknown": "#7b4aa0",
    "failed:other": "#c9a0a0",
}
# Final statuses worth an explanation, in the order the codes table lists them.
EXPLAINED = (
    DeliveryStatus.FAILED,
    DeliveryStatus.EXPIRED,
    DeliveryStatus.OPTED_OUT,
    DeliveryStatus.UNKNOWN,
    DeliveryStatus.CLOSED,
)
DONE_STATUSES = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.EXPIRED,
    DeliveryStatus.OPTED_OUT,
    DeliveryStatus.UNKNOWN,
    DeliveryStatus.CLOSED,
)


# --- counts -------------------------------------------------------------------------------------


def dispatch_rows(dispatches: list[Dispatch]) -> list[dict[str, Any]]:
    """Return each dispatch with its live counts, retried requests and share done (one query)."""
    by_status = {f"n_{status}": Count("id", filter=Q(status=status)) for status in DeliveryStatus.values}
    aggregated = {
        row["dispatch_id"]: row
        for row in Delivery.objects.filter(dispatch_id__in=[d.pk for d in dispatches])
        .values("dispatch_id")
        .annotate(requests=Count("id"), retried=Count("id", filter=Q(attempts__gt=1)), **by_status)
        .order_by()
    }
    rows = []
    for dispatch in dispatches:
        found = aggregated.get(dispatch.pk)
        counts = {status: found[f"n_{status}"] for status in DeliveryStatus.values} if found else {}
        progress = dispatch_live_progress(dispatch=dispatch, counts={k: v for k, v in counts.items() if v})
        requests = found["requests"] if found else dispatch.total_requests
        done = sum(counts.get(status, 0) for status in DONE_STATUSES) if found else requests
        rows.append(
            {
                "dispatch": dispatch,
                "requests": requests,
                "retried": found["retried"] if found else 0,
                "percent": settled_percent(dispatch=dispatch, settled=done, total=requests)
                if requests
                else (100 if dispatch.finished_at else 0),
                "deliveries_url": deliveries_url(dispatch_id=dispatch.pk),
                **progress,
            }
        )
    return rows


def deliveries_url(*, dispatch_id: int, **filters: str) -> str:
    """Return the admin delivery list of one dispatch, optionally filtered by status or code."""
    query = {"dispatch__id__exact": dispatch_id}
    query.update({("status__exact" if k == "status" else k): v for k, v in filters.items()})
    return f"{reverse('admin:campaigns_delivery_changelist')}?{urlencode(query)}"


def campaign_totals(*, campaign: Campaign) -> dict[str, int]:
    """Return the stored counters summed over the campaign's occurrences (previews excluded)."""
    totals = Dispatch.objects.filter(campaign=campaign, is_preview=False).aggregate(
        occurrences=Count("id"),
        requests=Sum("total_requests"),
        recipients=Sum("total_recipients"),
        delivered=Sum("delivered"),
        failed=Sum("failed"),
        opted_out=Sum("opted_out"),
        unknown=Sum("unknown"),
        skipped=Sum("skipped"),
    )
    return {key: value or 0 for key, value in totals.items()}


def failing_codes(*, dispatch: Dispatch) -> list[dict[str, Any]]:
    """Return the provider codes of the dispatch's requests that did not simply get delivered.

    One row per (final status, code) with how many requests ended so and what the provider
    said (its message is the code's meaning in its own words), most frequent first; then
    the codes that were retried, read from the attempts.
    """
    finals = (
        Delivery.objects.filter(dispatch_id=dispatch.pk, status__in=EXPLAINED)
        .values("status", "provider_code")
        .annotate(n=Count("id"), message=Max("provider_message"))
        .order_by("-n", "provider_code")[:50]
    )
    rows = [
        {
            "outcome": DeliveryStatus(row["status"]).label,
            "code": row["provider_code"] or "—",
            "count": row["n"],
            "meaning": row["message"] or "",
            "url": deliveries_url(
                dispatch_id=dispatch.pk, status=row["status"], provider_code=row["provider_code"]
            ),
        }
        for row in finals
    ]
    retried = (
        DeliveryAttempt.objects.filter(delivery__dispatch_id=dispatch.pk, outcome="retry")
        .values("provider_code")
        .annotate(n=Count("id"), message=Max("provider_message"))
        .order_by("-n", "provider_code")[:20]
    )
    rows.extend(
        {
            "outcome": _("Retried (attempts)"),
            "code": row["provider_code"] or "—",
            "count": row["n"],
            "meaning": row["message"] or "",
            "url": "",
        }
        for row in retried
    )
    return rows


# --- outcomes over time -------------------------------------------------------------------------


@dataclass
class Chart:
    """An inline SVG stacked bar chart: bars of segments, a legend, and the time axis."""

    bars: list[dict[str, Any]] = field(default_factory=list)
    legend: list[dict[str, str]] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    peak: int = 0
    bucket_seconds: int = 0
    source: str = ""
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def _series_of(outcome: str, code: str, top_codes: list[str]) -> str:
    if outcome in ("failed", "expired"):
        return f"failed:{code}" if code in top_codes else "failed:other"
    if outcome == "retry":
        return "retry"
    return outcome if outcome in SERIES_COLORS else "unknown"


def _unit_for(span: dt.timedelta) -> str:
    if span <= dt.timedelta(minutes=3):
        return "second"
    if span <= dt.timedelta(hours=3):
        return "minute"
    return "hour"


def dispatch_chart(*, dispatch: Dispatch, bars: int = CHART_BARS) -> Chart:
    """Return the outcomes of the dispatch's attempts over time, as a stacked bar chart.

    Each attempt counts once, at its time: delivered, opted out, retried, unknown, and
    failed split by provider code (the most frequent five, the rest together). Without
    recorded attempts (data imported from elsewhere) the deliveries' final statuses at
    their last update are shown instead. Two grouped queries, whatever the size.
    """
    attempts = DeliveryAttempt.objects.filter(delivery__dispatch_id=dispatch.pk)
    span = attempts.aggregate(first=Min("created_at"), last=Max("created_at"))
    source, moment, outcome = "attempts", "created_at", "outcome"
    rows_from = attempts
    if span["first"] is None:
        rows_from = Delivery.objects.filter(dispatch_id=dispatch.pk, status__in=DONE_STATUSES)
        span = rows_from.aggregate(first=Min("updated_at"), last=Max("updated_at"))
        source, moment, outcome = "final statuses", "updated_at", "status"
    chart = Chart(source=source)
    if span["first"] is None:
        return chart
    first, last = span["first"], span["last"]
    unit = _unit_for(last - first)
    rows = list(
        rows_from.annotate(at=Trunc(moment, unit, tzinfo=dt.UTC))
        .values("at", outcome, "provider_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    failed_by_code: dict[str, int] = {}
    for row in rows:
        if row[outcome] in ("failed", "expired"):
            failed_by_code[row["provider_code"]] = failed_by_code.get(row["provider_code"], 0) + row["n"]
    top = sorted(failed_by_code, key=lambda code: -failed_by_code[code])[:TOP_FAILED_CODES]
    step = {"second": 1, "minute": 60, "hour": 3600}[unit]
    start = first.replace(microsecond=0)
    seconds = max(int((last - start).total_seconds()) + step, step)
    bucket = max(step, -(-seconds // bars))  # ceiling division
    count = -(-seconds // bucket)
    stacks: list[dict[str, int]] = [{} for _ in range(count)]
    for row in rows:
        index = min(count - 1, max(0, int((row["at"] - start).total_seconds()) // bucket))
        series = _series_of(row[outcome], row["provider_code"], top)
        stacks[index][series] = stacks[index].get(series, 0) + row["n"]
    failed = [f"failed:{code}" for code in top]
    order = ["delivered", "opted_out", "retry", "unknown", *failed, "failed:other"]
    colors = {**SERIES_COLORS, **{f"failed:{code}": FAILED_COLORS[i] for i, code in enumerate(top)}}
    names = {
        "delivered": _("Delivered"),
        "opted_out": _("Opted out"),
        "retry": _("Retried"),
        "unknown": _("Unknown"),
        "failed:other": _("Failed, other codes"),
        **{
            f"failed:{code}": _("Failed %(code)s") % {"code": code} if code else _("Failed (no code)")
            for code in top
        },
    }
    used = [name for name in order if any(name in stack for stack in stacks)]
    chart.peak = max((sum(stack.values()) for stack in stacks), default=0)
    slots = max(count, CHART_MIN_SLOTS)
    chart.start, chart.end, chart.bucket_seconds = start, start + dt.timedelta(seconds=bucket * slots), bucket
    chart.legend = [{"name": names[name], "color": colors[name]} for name in used]
    width = CHART_WIDTH / slots
    scale = (CHART_HEIGHT - 4) / chart.peak if chart.peak else 0
    for index, stack in enumerate(stacks):
        at = start + dt.timedelta(seconds=bucket * index)
        y = float(CHART_HEIGHT)
        segments = []
        for name in used:
            n = stack.get(name, 0)
            if not n:
                continue
            height = n * scale
            y -= height
            segments.append(
                {
                    "y": round(y, 2),
                    "height": round(height, 2),
                    "color": colors[name],
                    "title": _("%(time)s UTC: %(count)s %(outcome)s")
                    % {"time": f"{at:%H:%M:%S}", "count": f"{n:,}", "outcome": names[name].lower()},
                }
            )
        bar_width = round(max(width - 1, 1), 2)
        chart.bars.append({"x": round(index * width, 2), "width": bar_width, "segments": segments})
    return chart


# --- the pages ------------------------------------------------------------------------------------


def campaign_report(*, campaign: Campaign, dispatch_id: str | None, page: str | None) -> dict[str, Any]:
    """Return the report of ``campaign``: totals, the occurrences held for a reviewer (their
    reach grew past the approved bound), every occurrence (paginated) with live counts, the
    chosen occurrence's chart and failing codes, the previews, the next occurrences."""
    occurrences = Dispatch.objects.filter(campaign=campaign, is_preview=False).order_by("-due_at", "-id")
    paginator = Paginator(occurrences, DISPATCHES_PER_PAGE)
    page_obj = paginator.get_page(page)
    rows = dispatch_rows(list(page_obj.object_list))
    previews = dispatch_rows(
        list(Dispatch.objects.filter(campaign=campaign, is_preview=True).order_by("-due_at")[:10])
    )
    shown = None
    if dispatch_id and str(dispatch_id).isdigit():
        shown = Dispatch.objects.filter(campaign=campaign, pk=int(dispatch_id)).first()
    if shown is None and rows:
        shown = rows[0]["dispatch"]
    shown_row = None
    if shown is not None:
        shown_row = next((row for row in rows + previews if row["dispatch"].pk == shown.pk), None)
        shown_row = shown_row or dispatch_rows([shown])[0]
    return {
        "totals": campaign_totals(campaign=campaign),
        "held": list(
            Dispatch.objects.filter(campaign=campaign, status=DispatchStatus.HELD, is_preview=False).order_by(
                "due_at", "id"
            )
        ),
        "rows": rows,
        "page_obj": page_obj,
        "paginator": paginator,
        "previews": previews,
        "shown": shown_row,
        "chart": dispatch_chart(dispatch=shown) if shown is not None else None,
        "codes": failing_codes(dispatch=shown) if shown is not None else [],
        "next_occurrences": campaign_next_occurrences(campaign=campaign),
        "progress_fields": list(PROGRESS_STATUSES),
    }


class CampaignPagesMixin:
    """Report, calendar and form-helper views for ``CampaignAdmin`` (a ModelAdmin)."""

    def pages_urls(self) -> list:
        """Return the URL patterns of these pages (before the ModelAdmin's own)."""
        view = self.admin_site.admin_view
        return [
            path("calendar/", view(self.calendar_view), name="campaigns_campaign_calendar"),
            path(
                "schedule-preview/",
                view(self.schedule_preview_view),
                name="campaigns_campaign_schedule_preview",
            ),
            path("audience-size/", view(self.audience_size_view), name="campaigns_campaign_audience_size"),
            path("<path:object_id>/report/", view(self.report_view), name="campaigns_campaign_report"),
        ]

    @admin.display(description=gettext_lazy("report"))
    def report_link(self, campaign: Campaign) -> str:
        """Link a row of the campaign list to its report (no query per row)."""
        url = reverse("admin:campaigns_campaign_report", args=[campaign.pk])
        return format_html('<a href="{}">{}</a>', url, _("report"))

    @admin.display(description=gettext_lazy("Next occurrences"))
    def next_occurrences(self, campaign: Campaign | None) -> str:
        """Show the next five due times; the form's script redraws them as the schedule is edited."""
        moments = campaign_next_occurrences(campaign=campaign) if campaign is not None and campaign.pk else []
        zone = _zone_of(campaign.timezone) if campaign is not None else dt.UTC
        items = format_html_join(
            "",
            "<li>{} <span class='quiet'>({})</span></li>",
            (
                (
                    date_format(m.astimezone(zone), _("D Y-m-d H:i")),
                    f"{m.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
                )
                for m in moments
            ),
        )
        if not moments:
            now = campaign is not None and due_on_approval(campaign.schedule_kind)
            items = format_html("<li>{}</li>", _("as soon as approved") if now else _("none yet"))
        return format_html('<div id="schedule-preview"><ol class="occurrences">{}</ol></div>', items)

    def _require_view(self, request: HttpRequest, obj: Campaign | None = None) -> None:
        if not self.has_view_permission(request, obj):
            raise PermissionDenied

    def report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show the delivery report of one campaign."""
        campaign = self._campaign_or_404(request, object_id)
        report = campaign_report(
            campaign=campaign, dispatch_id=request.GET.get("dispatch"), page=request.GET.get("page")
        )
        context = {
            **self.admin_site.each_context(request),
            **report,
            "opts": self.model._meta,
            "original": campaign,
            "title": _("Report: %(campaign)s") % {"campaign": campaign},
        }
        return TemplateResponse(request, "admin/campaigns/campaign/report.html", context)

    def calendar_view(self, request: HttpRequest) -> HttpResponse:
        """Show the occurrences of the next 30 days by day, overlaps on one audience marked."""
        self._require_view(request)
        start = timezone.localdate()
        raw = request.GET.get("start", "")
        if raw:
            try:
                start = dt.date.fromisoformat(raw)
            except ValueError:
                self.message_user(
                    request, _("start %(value)r is not a date (YYYY-MM-DD); showing today") % {"value": raw}
                )
        context = {
            **self.admin_site.each_context(request),
            **calendar_page(start=start),
            "opts": self.model._meta,
            "title": _("Calendar"),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/calendar.html", context)

    def schedule_preview_view(self, request: HttpRequest) -> JsonResponse:
        """Return the next five occurrences, errors and notes of the schedule in the query."""
        self._require_view(request)
        return JsonResponse(schedule_preview(request.GET))

    def audience_size_view(self, request: HttpRequest) -> JsonResponse:
        """Return the size in words of ``?audience=`` through ``?provider_account=``'s provider."""
        self._require_view(request)
        audience = _by_id(Audience, request.GET.get("audience"))
        account = _by_id(ProviderAccount, request.GET.get("provider_account"))
        return JsonResponse({"size": audience_size_text(audience=audience, account=account)})


def _zone_of(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _by_id(model, raw: str | None):
    if not raw or not str(raw).isdigit():
        return None
    return model.objects.filter(pk=int(raw)).first()
