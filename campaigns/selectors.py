"""Reads about one campaign that its pages and its API share: next occurrences, previews,
what an accepted request means at its provider, and its audit trail."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from campaigns.lifecycle import FINAL_STATES
from campaigns.models import Campaign, Dispatch, DispatchStatus
from campaigns.schedules.kinds import due_on_approval
from campaigns.schedules.occurrences import next_occurrences
from campaigns.schedules.spec import ScheduleError, ScheduleSpec
from campaigns.stored_text import in_reader_language


def campaign_next_occurrences(*, campaign: Campaign, count: int = 5) -> list[datetime]:
    """Return the campaign's next due times in UTC (for schedule "now", its due time once
    approved); empty for a finished campaign or a schedule that cannot be evaluated."""
    if campaign.status in FINAL_STATES:
        return []
    if due_on_approval(campaign.schedule_kind):
        return [campaign.next_due_at] if campaign.next_due_at else []
    try:
        return next_occurrences(ScheduleSpec.from_campaign(campaign), after=timezone.now(), count=count)
    except (ValidationError, ScheduleError):
        return []


def campaign_previews(*, campaign: Campaign) -> QuerySet[Dispatch]:
    """Return every preview of ``campaign``, newest first."""
    return Dispatch.objects.filter(campaign=campaign, is_preview=True).order_by("-due_at")


def campaign_audit_trail(*, campaign: Campaign) -> QuerySet[AuditEvent]:
    """Return the audit events of ``campaign`` in the order they happened."""
    return AuditEvent.objects.filter(campaign=campaign).select_related("actor").order_by("id")


def campaign_accepted_label(*, campaign: Campaign) -> str:
    """Return what an accepted request means at the campaign's provider (e.g. Binance:
    "accepted for Binance review", not delivered)."""
    return campaign.provider_account.provider().accepted_label


def dispatch_outcome(*, dispatch: Dispatch, accepted_label: str) -> str:
    """Return a preview's outcome in words, an accepted request named as the provider means it."""
    if dispatch.status == DispatchStatus.SENT:
        return _("%(accepted)s (%(delivered)s of %(total)s requests)") % {
            "accepted": accepted_label, "delivered": dispatch.delivered, "total": dispatch.total_requests,
        }
    if dispatch.status == DispatchStatus.PARTIALLY_FAILED:
        return _("partially failed: %(delivered)s %(accepted)s, %(failed)s failed") % {
            "delivered": dispatch.delivered, "accepted": accepted_label, "failed": dispatch.failed,
        }
    if dispatch.status in (DispatchStatus.FAILED, DispatchStatus.REFUSED, DispatchStatus.EXPIRED):
        detail = f": {in_reader_language(dispatch.detail)}" if dispatch.detail else ""
        return f"{dispatch.get_status_display().lower()}{detail}"
    return dispatch.get_status_display().lower()
