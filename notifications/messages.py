"""What a notification says: its context (frozen when the event is recorded) and its text.

:func:`context_for` freezes what the message needs from the audit event and the campaign
at the moment of the change (the campaign's name then, the comment, the counts), as JSON
on the outbox row; :func:`render` turns it into a subject, lines and a link when it is
delivered, in the row's language (``Notification.language``, chosen when the row was written:
``notifications.languages``): every string here is translatable, and times read as the
language writes them, in ``TIME_ZONE`` (Crier has no per-user time zone), labelled with it.
Links are absolute: ``CRIER_BASE_URL`` + the admin page that needs action.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from approvals.models import Review
from audit.models import AuditEvent
from campaigns.stored_text import in_reader_language
from notifications.events import EventKind

K = EventKind

SUBJECTS = {
    K.REVIEW_REQUESTED: gettext_lazy("Review requested: %(campaign)s"),
    K.APPROVED: gettext_lazy("Approved: %(campaign)s"),
    K.REJECTED: gettext_lazy("Rejected: %(campaign)s"),
    K.VOIDED: gettext_lazy("Approval voided: %(campaign)s"),
    K.HELD: gettext_lazy("Occurrence held, its reach grew: %(campaign)s"),
    K.DISPATCH_FAILED: gettext_lazy("Dispatch failed: %(campaign)s"),
    K.DISPATCH_PARTIALLY_FAILED: gettext_lazy("Dispatch partially failed: %(campaign)s"),
    K.DELIVERIES_UNKNOWN: gettext_lazy("Deliveries with an unknown outcome: %(campaign)s"),
    K.SENDING_STOPPED: gettext_lazy("Emergency stop: all sending is halted"),
    K.SENDING_RESUMED: gettext_lazy("Sending resumed after the emergency stop"),
    K.PROVIDER_CHECK_FAILED: gettext_lazy("Provider account check failing: %(account)s"),
}
ACTIONS = {
    K.REVIEW_REQUESTED: gettext_lazy("Review it"),
    K.APPROVED: gettext_lazy("Open the campaign"),
    K.REJECTED: gettext_lazy("Open the campaign"),
    K.VOIDED: gettext_lazy("Open the campaign"),
    K.HELD: gettext_lazy("Confirm or cancel it"),
    K.DISPATCH_FAILED: gettext_lazy("Open the report"),
    K.DISPATCH_PARTIALLY_FAILED: gettext_lazy("Open the report"),
    K.DELIVERIES_UNKNOWN: gettext_lazy("Resend or close them"),
    K.SENDING_STOPPED: gettext_lazy("Open the dashboard"),
    K.SENDING_RESUMED: gettext_lazy("Open the dashboard"),
    K.PROVIDER_CHECK_FAILED: gettext_lazy("Open the account"),
}
LABELS = {
    "by": gettext_lazy("By"),
    "comment": gettext_lazy("Comment"),
    "reason": gettext_lazy("Reason"),
    "needs": gettext_lazy("Approvals needed"),
    "groups": gettext_lazy("Required groups"),
    "reach": gettext_lazy("Reach"),
    "reach_limit": gettext_lazy("Approved bound"),
    "due_at": gettext_lazy("Due"),
    "delivered": gettext_lazy("Delivered"),
    "failed": gettext_lazy("Failed"),
    "expired": gettext_lazy("Expired"),
    "unknown": gettext_lazy("Unknown outcome"),
    "account": gettext_lazy("Account"),
}


def _path(kind: str, event: AuditEvent) -> str:
    campaign_id = event.campaign_id
    if kind == K.REVIEW_REQUESTED:
        return reverse("admin:campaigns_campaign_review", args=[campaign_id])
    if kind in (K.APPROVED, K.REJECTED, K.VOIDED):
        return reverse("admin:campaigns_campaign_change", args=[campaign_id])
    if kind in (K.DISPATCH_FAILED, K.DISPATCH_PARTIALLY_FAILED):
        return reverse("admin:campaigns_campaign_report", args=[campaign_id])
    if kind == K.PROVIDER_CHECK_FAILED:
        return reverse("admin:providers_provideraccount_change", args=[event.object_id])
    # Held occurrences (Confirm / Cancel) and unknown deliveries (Resend / Close) are
    # decided on the dashboard (README, "The admin"); so are the stop and resume.
    return reverse("admin:index")


def _details(kind: str, event: AuditEvent) -> dict:
    data = event.data or {}
    details: dict = {}
    if event.actor_id:
        details["by"] = event.actor.get_username()
    if kind == K.REVIEW_REQUESTED:
        requirement = (event.data or {}).get("requirement") or {}
        if not requirement and data.get("review"):
            requirement = (
                Review.objects.filter(pk=data["review"]).values_list("requirement", flat=True).first() or {}
            )
        details["needs"] = requirement.get("approvals_required", "")
        details["groups"] = ", ".join(str(g.get("name")) for g in requirement.get("groups", []))
    elif kind in (K.APPROVED, K.REJECTED):
        details["comment"] = event.reason  # the reviewer's comment
    elif kind == K.HELD:
        details.update(
            reach=data.get("reach"), reach_limit=data.get("reach_limit"), due_at=data.get("due_at")
        )
    elif kind in (K.DISPATCH_FAILED, K.DISPATCH_PARTIALLY_FAILED, K.DELIVERIES_UNKNOWN):
        details.update({k: data.get(k, 0) for k in ("delivered", "failed", "expired", "unknown")})
        details["due_at"] = data.get("due_at")
    elif kind == K.PROVIDER_CHECK_FAILED:
        details["account"] = data.get("name", "")
    if event.reason and kind not in (K.APPROVED, K.REJECTED):
        details["reason"] = event.reason
    return {k: v for k, v in details.items() if v not in (None, "")}


def context_for(kind: str, event: AuditEvent) -> dict:
    """Freeze what a notification of ``kind`` about ``event`` needs, as JSON."""
    campaign = event.campaign
    return {
        "campaign": campaign.name if campaign is not None else "",
        "campaign_id": event.campaign_id,
        "account": (event.data or {}).get("name", ""),
        "path": _path(kind, event),
        "details": _details(kind, event),
        "event_id": event.pk,
        "at": event.created_at.isoformat(timespec="seconds"),
    }


@dataclass(frozen=True)
class Rendered:
    """A notification in words: subject, (label, value) lines, the action and its link."""

    subject: str
    lines: tuple[tuple[str, str], ...]
    action: str
    url: str
    colon: str = ": "  # between a label and its value, as the language writes it (zh-Hans "：")


TIMES = frozenset({"due_at"})  # details that are moments, stored as ISO 8601


def _value(key: str, value) -> str:
    """A detail as the active language writes it (a moment: local to TIME_ZONE, labelled; a
    reason the engine stored in English: in the reader's words, campaigns/stored_text.py)."""
    if key == "reason" and isinstance(value, str):
        return in_reader_language(value)
    moment = parse_datetime(value) if key in TIMES and isinstance(value, str) else None
    if moment is None:
        return str(value)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    local = timezone.localtime(moment, timezone.get_default_timezone())
    # The report's format string (already in the catalogue): zh-Hans reads "Y年n月j日 D H:i".
    return f"{date_format(local, _('D Y-m-d H:i'))} ({settings.TIME_ZONE})"


def render(kind: str, context: dict, language: str | None = None) -> Rendered:
    """The notification in words, in ``language`` (else the active one)."""
    if language:
        with translation.override(language):
            return render(kind, context)
    values = {"campaign": context.get("campaign", ""), "account": context.get("account", "")}
    lines = tuple(
        (str(LABELS.get(key, key)), _value(key, value))
        for key, value in (context.get("details") or {}).items()
    )
    base = settings.CRIER_BASE_URL.rstrip("/")
    return Rendered(
        subject=str(SUBJECTS[kind]) % values,
        lines=lines,
        action=str(ACTIONS[kind]),
        url=f"{base}{context.get('path', '/')}",
        colon=pgettext("between a label and its value in a notification", ": "),
    )


def markdown_lines(rendered: Rendered, *, bold: str = "**") -> str:
    """The lines as a Markdown list (``bold`` is the platform's bold marker)."""
    return "\n".join(f"- {bold}{label}{bold}{rendered.colon}{value}" for label, value in rendered.lines)


def footer() -> str:
    return _("Sent by Crier. Change which events reach you in your notification preferences.")
