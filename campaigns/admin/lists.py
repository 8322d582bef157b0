"""The admin's lists: campaign columns (status badge, progress, next send in the campaign's
own zone), bulk actions through the services, the dispatch and delivery columns, and the
deliveries' filter that hides previews unless asked.

Every column is read for the whole page at once (``attach_progress``: two queries), so a
page costs a fixed number of queries (README, "The admin").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.lifecycle import CampaignTransitionError
from campaigns.models import Campaign, CampaignStatus, Delivery, Dispatch, DispatchStatus
from campaigns.sending.selectors import delivery_counts, dispatch_live_progress, settled_percent
from campaigns.services import campaign_cancel, campaign_duplicate

# Status -> badge colour (config/static/crier/crier.css); a status not listed is neutral.
CAMPAIGN_BADGES = {
    CampaignStatus.IN_REVIEW: "info",
    CampaignStatus.APPROVED: "ok",
    CampaignStatus.SENDING: "info",
    CampaignStatus.SENT: "ok",
    CampaignStatus.PARTIALLY_FAILED: "warn",
    CampaignStatus.FAILED: "bad",
    CampaignStatus.REJECTED: "bad",
}
DISPATCH_BADGES = {
    DispatchStatus.RUNNING: "info",
    DispatchStatus.HELD: "warn",
    DispatchStatus.SENT: "ok",
    DispatchStatus.PARTIALLY_FAILED: "warn",
    DispatchStatus.FAILED: "bad",
    DispatchStatus.REFUSED: "bad",
    DispatchStatus.EXPIRED: "warn",
}
SETTLED = ("delivered", "failed", "opted_out", "unknown", "closed")


def status_badge_html(obj: Campaign | Dispatch) -> str:
    """Return a campaign's or a dispatch's status as its badge: the one look of a status in
    the lists, on the report and on the review page (``{{ obj|crier_status_badge }}``,
    campaigns/templatetags/crier_admin.py)."""
    badges = CAMPAIGN_BADGES if isinstance(obj, Campaign) else DISPATCH_BADGES
    return format_html(
        '<span class="crier-badge {}" data-status="{}">{}</span>',
        badges.get(obj.status, ""), obj.status, obj.get_status_display(),
    )


def attach_progress(campaigns: Iterable[Campaign]) -> None:
    """Set ``crier_progress`` (settled, total requests, percent) on each campaign that has a real
    occurrence, from its last one: one query for the dispatches and one for the live counts
    of those running (campaigns.sending.selectors counts them as the dashboard does)."""
    campaigns = list(campaigns)
    ids = [c.last_dispatch_id for c in campaigns if getattr(c, "last_dispatch_id", None)]
    dispatches = Dispatch.objects.in_bulk(ids) if ids else {}
    running = [pk for pk, d in dispatches.items() if d.status == DispatchStatus.RUNNING]
    counts = delivery_counts(dispatch_ids=running) if running else {}
    for campaign in campaigns:
        dispatch = dispatches.get(getattr(campaign, "last_dispatch_id", None))
        if dispatch is None:
            continue
        live = dispatch_live_progress(dispatch=dispatch, counts=counts.get(dispatch.pk))
        settled = sum(live[k] for k in SETTLED)
        total = dispatch.total_requests or sum(live.values())
        percent = settled_percent(dispatch=dispatch, settled=settled, total=total)
        campaign.crier_progress = (settled, total, percent)



def error_text(exc: Exception) -> str:
    """Return an error of a service as one line for an admin message."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return str(exc) or _("permission denied")


class CampaignListMixin:
    """The campaign list's columns and bulk actions (``approvals.admin`` adds submit and
    withdraw with :meth:`run_bulk`)."""

    # What a service raises to refuse one campaign (reported; the next campaign goes on).
    bulk_refusals: tuple[type[Exception], ...] = (PermissionDenied, ValidationError, CampaignTransitionError)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        """Campaigns with the id of their current or last real occurrence (the list's progress)."""
        latest = Dispatch.objects.filter(campaign=OuterRef("pk"), is_preview=False).order_by("-due_at", "-id")
        return super().get_queryset(request).annotate(last_dispatch_id=Subquery(latest.values("id")[:1]))

    def get_changelist_instance(self, request: HttpRequest):
        """Read the progress of the page's campaigns in two queries, whatever their number."""
        changelist = super().get_changelist_instance(request)
        attach_progress(changelist.result_list)
        return changelist

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, campaign: Campaign) -> str:
        return status_badge_html(campaign)

    @admin.display(description=gettext_lazy("next send"), ordering="next_due_at")
    def next_send(self, campaign: Campaign) -> str:
        """The next due time in the campaign's own time zone, labelled with the zone."""
        if campaign.next_due_at is None:
            return "—"
        try:
            zone = ZoneInfo(campaign.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone, campaign_zone = ZoneInfo("UTC"), "UTC"
        else:
            campaign_zone = campaign.timezone
        local = campaign.next_due_at.astimezone(zone)
        return format_html(
            '<time datetime="{}"><span class="crier-nowrap">{}</span> '
            '<span class="crier-nowrap">{}</span></time><span class="crier-zone">{}</span>',
            campaign.next_due_at.isoformat(), local.strftime("%d %b %Y"), local.strftime("%a %H:%M"),
            campaign_zone,
        )

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, campaign: Campaign) -> str:
        """Requests settled of the current occurrence (or the last), as a bar and a count,
        linked to the campaign's report (a link to it alone while nothing was sent)."""
        url = reverse("admin:campaigns_campaign_report", args=[campaign.pk])
        row = getattr(campaign, "crier_progress", None)
        if row is None:
            return format_html('<a href="{}" title="{}">{}</a>', url, _("Nothing sent yet"), _("report"))
        settled, total, percent = row
        title = _("%(settled)s of %(total)s requests of the current or last occurrence settled") % {
            "settled": settled, "total": total,
        }
        return format_html(
            '<a class="crier-progress" href="{}" title="{}">'
            '<span class="bar"><span style="width: {}%"></span></span>'
            '<span class="count">{} / {}</span></a>',
            url, title, percent, settled, total,
        )

    # --- bulk actions ----------------------------------------------------------------------

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.cancel_campaign")

    def run_bulk(
        self,
        request: HttpRequest,
        campaigns: Iterable[Campaign],
        run: Callable[[Campaign], object],
        done: str,
    ) -> None:
        """Run ``run`` on each campaign through its service, and say per campaign what happened.

        Each campaign is its own service call (and transaction): one that is refused (its
        state, a permission, a rule) is reported with the reason and the others go on.
        ``done`` is a message with ``%(campaigns)s``, the names of those that succeeded.
        """
        succeeded = []
        for campaign in campaigns:
            try:
                run(campaign)
            except self.bulk_refusals as exc:
                self.message_user(
                    request,
                    _("%(campaign)s: refused: %(reason)s")
                    % {"campaign": campaign.name, "reason": error_text(exc)},
                    messages.ERROR,
                )
            else:
                succeeded.append(campaign.name)
        if succeeded:
            self.message_user(request, done % {"campaigns": ", ".join(succeeded)}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Duplicate selected campaigns as new drafts"), permissions=["add"])
    def duplicate_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self.run_bulk(
            request, queryset.order_by("pk"),
            lambda campaign: campaign_duplicate(campaign=campaign, actor=request.user),
            _("Duplicated as new drafts: %(campaigns)s."),
        )

    @admin.action(description=gettext_lazy("Cancel selected campaigns"), permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        reason = _("cancelled from the campaign list")
        self.run_bulk(
            request, queryset.order_by("pk"),
            lambda campaign: campaign_cancel(campaign=campaign, actor=request.user, reason=reason),
            _("Cancelled: %(campaigns)s."),
        )


class DispatchListMixin:
    """The dispatch list's status badge."""

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, dispatch: Dispatch) -> str:
        return status_badge_html(dispatch)


class SendKindFilter(admin.SimpleListFilter):
    """Real sends, previews or both; real sends unless asked, so that a preview to five
    test users does not crowd out a broadcast's requests."""

    title = gettext_lazy("kind of send")
    parameter_name = "send"
    DEFAULT = "real"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("real", _("Real sends")), ("preview", _("Previews")), ("all", _("All"))]

    def _chosen(self) -> str:
        value = self.value()
        return value if value in {"real", "preview", "all"} else self.DEFAULT

    def choices(self, changelist):
        chosen = self._chosen()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": chosen == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        chosen = self._chosen()
        if chosen == "all":
            return queryset
        return queryset.filter(dispatch__is_preview=(chosen == "preview"))



class DeliveryListMixin:
    """The delivery list's campaign and occurrence columns."""

    @admin.display(description=gettext_lazy("campaign"), ordering="dispatch__campaign__name")
    def campaign(self, delivery: Delivery) -> str:
        campaign = delivery.dispatch.campaign
        url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        return format_html('<a href="{}">{}</a>', url, campaign.name)

    @admin.display(description=gettext_lazy("occurrence"), ordering="dispatch__due_at")
    def occurrence(self, delivery: Delivery) -> str:
        """The occurrence (dispatch) the request belongs to, by its due time in UTC, linked to the report."""
        dispatch = delivery.dispatch
        url = reverse("admin:campaigns_campaign_report", args=[dispatch.campaign_id])
        label = dispatch.due_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")
        if dispatch.is_preview:
            label = _("%(when)s (preview)") % {"when": label}
        return format_html('<a href="{}?dispatch={}">{}</a>', url, dispatch.pk, label)
