"""The admin index as a dashboard: what waits for me, what goes out soon, what runs, what failed.

``dashboard_for`` gathers, for one user, each section they have the permissions for:

* my drafts and rejected campaigns;
* what goes out in the next 7 days (``campaigns.sending.selectors.calendar_occurrences``);
* dispatches running now, with progress counted from their deliveries in one query;
* recent failures: occurrences that ended failed, partially failed, refused or expired in
  the last 7 days, with their most frequent provider codes;
* deliveries whose outcome is ``unknown``, for an operator to resend or close;
* for reviewers, occurrences held because their reach grew past the approved bound
  ("Reach grew — confirm"; the buttons and who may press them come from approvals).

Every list is capped and every count is one query, so the page costs the same with ten
campaigns or ten thousand. The template ``admin/index.html`` (config/templates) shows it
through the ``crier_dashboard`` template tag; the section "awaiting my review" comes from
approvals (its ``crier_awaiting_review`` tag), since this app sits below it.
:class:`DashboardActionsMixin` adds the operators' resend/close action to ``CampaignAdmin``; it calls
``campaigns.sending.operations.delivery_resolve``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, Dispatch, DispatchStatus
from campaigns.sending.operations import DeliveryNotUnknown, delivery_resolve
from campaigns.sending.selectors import (
    calendar_occurrences,
    delivery_counts,
    dispatch_live_progress,
    settled_percent,
)

OPERATE_PERM = "campaigns.operate_dispatches"
APPROVE_PERM = "campaigns.approve_campaign"  # who may confirm a held occurrence: approvals.holds
SECTION_LIMIT = 10
UPCOMING_DAYS = 7
UPCOMING_LIMIT = 15
FAILURE_DAYS = 7
UNKNOWN_LIMIT = 20
FAILED_DISPATCH = (
    DispatchStatus.FAILED,
    DispatchStatus.PARTIALLY_FAILED,
    DispatchStatus.REFUSED,
    DispatchStatus.EXPIRED,
)


def rejection_reasons(*, campaign_ids: list[int]) -> dict[int, AuditEvent]:
    """Return, per campaign id, the audit event of its latest rejection (one query): the
    reviewer (``actor``), when (``created_at``) and the reviewer's reason (``reason``)."""
    events = (
        AuditEvent.objects.filter(
            campaign_id__in=campaign_ids, object_type="campaign", to_state=CampaignStatus.REJECTED
        )
        .select_related("actor")
        .order_by("id")
    )
    return {event.campaign_id: event for event in events}


def my_campaigns(*, user) -> dict[str, Any]:
    """Return ``user``'s drafts and rejected campaigns, last changed first, and how many;
    a rejected one carries its latest rejection (``campaign.rejection``)."""
    mine = Campaign.objects.filter(
        created_by=user, status__in=[CampaignStatus.DRAFT, CampaignStatus.REJECTED]
    )
    latest = mine.select_related("template", "audience", "provider_account").order_by("-updated_at")
    items = list(latest[:SECTION_LIMIT])
    rejected = [c.pk for c in items if c.status == CampaignStatus.REJECTED]
    reasons = rejection_reasons(campaign_ids=rejected) if rejected else {}
    for campaign in items:
        campaign.rejection = reasons.get(campaign.pk)
    return {"items": items, "count": len(items) if len(items) < SECTION_LIMIT else mine.count()}


def held_dispatches() -> dict[str, Any]:
    """Return the occurrences held because their reach grew past the approved bound (the
    first few, oldest due first) and how many there are; reviewers confirm or cancel them."""
    held = Dispatch.objects.filter(status=DispatchStatus.HELD)
    items = list(held.select_related("campaign").order_by("due_at", "id")[:SECTION_LIMIT])
    return {"items": items, "count": len(items) if len(items) < SECTION_LIMIT else held.count()}


def upcoming(*, now: dt.datetime) -> dict[str, Any]:
    """Return the occurrences of the next 7 days (the first few rows) and how many there are.

    A campaign due more than a few times a day is one row a day with its count
    (``calendar_occurrences``), so a cron every minute does not fill the list and hide
    every other campaign. ``count`` is the occurrences.
    """
    today = timezone.localdate(now)
    end = today + dt.timedelta(days=UPCOMING_DAYS - 1)
    found = [
        o
        for o in calendar_occurrences(start=today, end=end)
        if (o.last_due_at or o.due_at) >= now - dt.timedelta(minutes=5)
    ]
    return {
        "items": found[:UPCOMING_LIMIT],
        "count": sum(o.count for o in found),
    }


def running_dispatches() -> list[dict[str, Any]]:
    """Return the dispatches sending now (and those waiting for a worker) with live progress."""
    dispatches = list(
        Dispatch.objects.filter(status__in=[DispatchStatus.RUNNING, DispatchStatus.PENDING])
        .select_related("campaign")
        .order_by("-status", "due_at")[:SECTION_LIMIT]
    )
    counts = delivery_counts(dispatch_ids=[d.pk for d in dispatches])
    rows = []
    for dispatch in dispatches:
        progress = dispatch_live_progress(dispatch=dispatch, counts=counts.get(dispatch.pk))
        settled = sum(progress[k] for k in ("delivered", "failed", "opted_out", "unknown", "closed"))
        total = dispatch.total_requests or sum(progress.values())
        rows.append(
            {
                "dispatch": dispatch,
                "progress": progress,
                "settled": settled,
                "total": total,
                "percent": settled_percent(dispatch=dispatch, settled=settled, total=total),
                "report_url": _report_url(dispatch),
            }
        )
    return rows


def _report_url(dispatch: Dispatch) -> str:
    url = reverse("admin:campaigns_campaign_report", args=[dispatch.campaign_id])
    return f"{url}?dispatch={dispatch.pk}"


def recent_failures(*, now: dt.datetime) -> list[dict[str, Any]]:
    """Return occurrences that ended badly in the last 7 days, newest first, with their top codes."""
    since = now - dt.timedelta(days=FAILURE_DAYS)
    dispatches = list(
        Dispatch.objects.filter(status__in=FAILED_DISPATCH, finished_at__gte=since)
        .select_related("campaign")
        .order_by("-finished_at")[:SECTION_LIMIT]
    )
    codes: dict[int, list[dict[str, Any]]] = {}
    rows = (
        Delivery.objects.filter(
            dispatch_id__in=[d.pk for d in dispatches],
            status__in=[DeliveryStatus.FAILED, DeliveryStatus.EXPIRED, DeliveryStatus.UNKNOWN],
        )
        .values("dispatch_id", "provider_code")
        .annotate(n=Count("id"), message=Max("provider_message"))
        .order_by("dispatch_id", "-n")
    )
    for row in rows:
        codes.setdefault(row["dispatch_id"], []).append(row)
    return [
        {"dispatch": d, "codes": codes.get(d.pk, [])[:3], "report_url": _report_url(d)} for d in dispatches
    ]


def unknown_deliveries() -> dict[str, Any]:
    """Return deliveries whose outcome is unknown (the first few) and how many there are.

    Read through the dispatches that can hold one — those not finished, and finished ones
    whose stored ``unknown`` counter is set (the engine stores it when a dispatch ends) —
    so the delivery table is only read through its (dispatch, status) index.
    """
    holders = Dispatch.objects.filter(
        Q(unknown__gt=0) | Q(status__in=[DispatchStatus.PENDING, DispatchStatus.RUNNING])
    ).values("pk")
    unknown = Delivery.objects.filter(dispatch_id__in=holders, status=DeliveryStatus.UNKNOWN)
    items = list(
        unknown.select_related("dispatch__campaign")
        .defer("targets", "selector")
        .order_by("updated_at", "id")[:UNKNOWN_LIMIT]
    )
    return {"items": items, "count": len(items) if len(items) < UNKNOWN_LIMIT else unknown.count()}


def dashboard_for(*, user, now: dt.datetime | None = None) -> dict[str, Any]:
    """Return the dashboard sections ``user`` may see (a section they may not see is None)."""
    now = now or timezone.now()
    views_campaigns = user.has_perm("campaigns.view_campaign")
    views_dispatches = user.has_perm("campaigns.view_dispatch")
    return {
        "mine": my_campaigns(user=user) if user.has_perm("campaigns.add_campaign") else None,
        "upcoming": upcoming(now=now) if views_campaigns else None,
        "running": running_dispatches() if views_dispatches else None,
        "failures": recent_failures(now=now) if views_dispatches else None,
        "unknown": unknown_deliveries() if user.has_perm("campaigns.view_delivery") else None,
        "held": held_dispatches() if user.has_perm(APPROVE_PERM) else None,
        "may_operate": user.has_perm(OPERATE_PERM),
        "may_add": user.has_perm("campaigns.add_campaign"),
        "may_view_campaigns": views_campaigns,
    }


class DashboardActionsMixin:
    """The operators' action on the dashboard: resend or close an ``unknown`` delivery."""

    def dashboard_urls(self) -> list:
        """Return the URL patterns of the dashboard's actions."""
        return [
            path(
                "deliveries/<int:delivery_id>/resolve/<str:action>/",
                self.admin_site.admin_view(self.delivery_resolve_view),
                name="campaigns_delivery_resolve",
            )
        ]

    def delivery_resolve_view(self, request: HttpRequest, delivery_id: int, action: str) -> HttpResponse:
        """Resend or close one unknown delivery (POST, operators only) and return to the dashboard."""
        back = request.POST.get("next") or reverse("admin:index")
        if not back.startswith("/"):
            back = reverse("admin:index")
        if request.method != "POST":
            return redirect(back)
        if not request.user.has_perm(OPERATE_PERM):
            raise PermissionDenied
        if action not in ("resend", "close"):
            raise Http404(f"no action {action!r}")
        delivery = Delivery.objects.select_related("dispatch__campaign").filter(pk=delivery_id).first()
        if delivery is None:
            raise Http404(f"no delivery {delivery_id}")
        try:
            delivery_resolve(delivery=delivery, action=action, actor=request.user)
        except DeliveryNotUnknown as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            if action == "resend":
                done = _("Delivery %(key)s will be sent again with the same key.")
            else:
                done = _("Delivery %(key)s is closed.")
            self.message_user(request, done % {"key": delivery.idempotency_key}, messages.SUCCESS)
        return redirect(back)
