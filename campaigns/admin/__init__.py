"""Admin registrations for recipients, audiences, campaigns, dispatches and deliveries."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from audit.models import AuditEvent
from approvals.selectors import campaign_available_actions, campaigns_awaiting_review, review_page
from approvals.services import (
    ReviewConflict,
    campaign_approve,
    campaign_reject,
    campaign_submit,
    campaign_withdraw,
)
from campaigns.admin.dashboard import DashboardActionsMixin
from campaigns.admin.forms import CampaignAdminForm
from campaigns.admin.provider_options import with_provider_options
from campaigns.admin.report import CampaignPagesMixin
from campaigns.audiences.admin import AudienceAdminBase, RecipientAdminBase
from campaigns.models import Audience, Campaign, CampaignStatus, Delivery, Dispatch, Recipient, SendSwitch
from campaigns.sending.engine import sending_resume, sending_stop
from campaigns.sending.recall import campaign_recall
from campaigns.services import (
    EDITABLE_FIELDS,
    EDITABLE_STATES,
    CampaignTransitionError,
    campaign_cancel,
    campaign_create,
    campaign_edit,
    campaign_preview,
    campaign_void_if_changed,
)


@admin.register(Recipient)
class RecipientAdmin(RecipientAdminBase):
    """Recipients: edited through the recipient services, imported from CSV (see admin_audiences)."""


@admin.register(Audience)
class AudienceAdmin(AudienceAdminBase):
    """Audiences: counts in the list, size on the change page, id lists uploaded as CSV."""


# Transitions shown as buttons on the change page (approve/reject live on the review page).
BUTTON_LABELS = {
    "submit": "Submit for review",
    "withdraw": "Withdraw from review",
    "preview": "Send preview to test uids",
    "cancel": "Cancel campaign",
    "recall": "Recall from users",  # campaigns.sending.recall: shown only where the provider can recall
}


class AuditEventInline(admin.TabularInline):
    """The campaign's audit trail, read-only, oldest first."""

    model = AuditEvent
    fk_name = "campaign"
    verbose_name = "audit event"
    verbose_name_plural = "audit trail"
    extra = 0
    can_delete = False
    ordering = ["id"]
    fields = [
        "created_at", "actor", "object_type", "action", "from_state", "to_state", "reason", "short_hash",
    ]
    readonly_fields = fields

    @admin.display(description="hash")
    def short_hash(self, event: AuditEvent) -> str:
        return f"{event.hash[:12]}…"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(DashboardActionsMixin, CampaignPagesMixin, admin.ModelAdmin):
    """Campaigns: saved through the services; transitions as buttons; a review page per campaign.

    The buttons (submit, withdraw, preview, cancel) and the review page's approve/reject
    post to custom views that call the same services as the API, so the four-eyes rule,
    the permissions and the transition table apply here too. Each button is shown only to
    a user the services would allow.
    """

    # The campaign form plus the provider-options field and its checks (admin_provider_options).
    form = with_provider_options(CampaignAdminForm)
    change_form_template = "admin/campaigns/campaign/change_form.html"
    change_list_template = "admin/campaigns/campaign/change_list.html"
    list_display = [
        "name", "status", "provider_account", "schedule_kind", "next_due_at", "created_by", "report_link",
    ]
    list_filter = ["status", "schedule_kind", "provider_account__kind"]
    search_fields = ["name"]
    list_select_related = ["provider_account", "created_by"]
    readonly_fields = [
        "status", "submitted_hash", "approved_hash", "next_due_at", "created_by", "next_occurrences",
    ]
    inlines = [AuditEventInline]
    fieldsets = [
        (None, {"fields": ["name", "status", "template", "template_version", "provider_account",
                           "audience"]}),
        ("Message", {"fields": ["language", "parameters", "path", "provider_options", "priority",
                                "expired_seconds", "test_uids"]}),
        ("Schedule", {"fields": ["schedule_kind", "timezone", "fixed_time", "circle_type", "circle_value",
                                 "time", "start_date", "end_date", "cron", "next_occurrences"]}),
        ("Approval", {"fields": ["submitted_hash", "approved_hash", "next_due_at", "created_by"]}),
    ]

    # --- editing through the services -----------------------------------------------

    def get_inlines(self, request: HttpRequest, obj: Campaign | None = None) -> list:
        return self.inlines if obj is not None else []  # a new campaign has no trail yet

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        readonly = list(self.readonly_fields)
        if obj is None:
            return [*readonly, "template_version"]  # pinned to the current version on create
        if obj.status not in EDITABLE_STATES:
            return [*readonly, *(f for f in EDITABLE_FIELDS if f not in readonly)]
        return readonly

    def get_form(self, request: HttpRequest, obj: Campaign | None = None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None and "template_version" in form.base_fields:
            form.base_fields["template_version"].queryset = obj.template.versions.order_by("-number")
        return form

    def save_model(self, request: HttpRequest, obj: Campaign, form, change: bool) -> None:
        if change:
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE_FIELDS}
            if changes:
                campaign_edit(campaign=Campaign.objects.get(pk=obj.pk), actor=request.user, changes=changes)
            return
        settable = set(EDITABLE_FIELDS) - {"template_version"}
        data = {f: v for f, v in form.cleaned_data.items() if f in settable}
        created = campaign_create(actor=request.user, data=data)
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (CampaignTransitionError, ValidationError) as exc:
            # A race (status changed meanwhile) or a rule the form could not see.
            self.message_user(request, _error_text(exc), messages.ERROR)
            if object_id:
                return redirect(reverse("admin:campaigns_campaign_change", args=[object_id]))
            return redirect(reverse("admin:campaigns_campaign_changelist"))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        campaign = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if campaign is not None:
            actions = campaign_available_actions(user=request.user, campaign=campaign)
            extra["campaign_buttons"] = [(a, BUTTON_LABELS[a]) for a in actions if a in BUTTON_LABELS]
            extra["campaign_in_review_for_me"] = "review" in actions
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = dict(extra_context or {})
        extra["awaiting_review"] = len(campaigns_awaiting_review(user=request.user))
        return super().changelist_view(request, extra)

    # --- custom views ------------------------------------------------------------

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("review-queue/", view(self.review_queue_view), name="campaigns_campaign_review_queue"),
            path("<path:object_id>/review/", view(self.review_view), name="campaigns_campaign_review"),
            path(
                "<path:object_id>/transition/<str:action>/",
                view(self.transition_view),
                name="campaigns_campaign_transition",
            ),
            *self.pages_urls(),
            *self.dashboard_urls(),
            *super().get_urls(),
        ]

    def _campaign_or_404(self, request: HttpRequest, object_id: str) -> Campaign:
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404(f"no campaign {object_id}")
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return campaign

    def review_queue_view(self, request: HttpRequest) -> HttpResponse:
        """List the campaigns in review that the current user may approve."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = []
        for campaign in campaigns_awaiting_review(user=request.user):
            review = campaign.open_review
            rows.append({
                "campaign": campaign,
                "review": review,
                "approvals": review.decisions.filter(decision="approve").count(),
            })
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Awaiting my review",
            "rows": rows,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/review_queue.html", context)

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show exactly what will be sent, and take an approve or reject decision (POST)."""
        campaign = self._campaign_or_404(request, object_id)
        here = reverse("admin:campaigns_campaign_review", args=[campaign.pk])
        if request.method == "POST":
            decision = request.POST.get("decision")
            comment = request.POST.get("comment", "")
            try:
                if decision == "approve":
                    review = campaign_approve(campaign=campaign, actor=request.user, comment=comment)
                    if review.status == "approved":
                        self.message_user(request, f"{campaign} approved.", messages.SUCCESS)
                    else:
                        self.message_user(
                            request, "Your approval is recorded; another reviewer must approve too.",
                            messages.SUCCESS,
                        )
                elif decision == "reject":
                    campaign_reject(campaign=campaign, actor=request.user, comment=comment)
                    self.message_user(request, f"{campaign} rejected.", messages.SUCCESS)
                else:
                    self.message_user(request, f"unknown decision {decision!r}", messages.ERROR)
            except (PermissionDenied, ValidationError, CampaignTransitionError, ReviewConflict) as exc:
                self.message_user(request, _error_text(exc), messages.ERROR)
            return redirect(here)
        watched = (CampaignStatus.IN_REVIEW, CampaignStatus.APPROVED)
        if campaign.status in watched and campaign_void_if_changed(campaign=campaign):
            self.message_user(
                request,
                "The campaign changed since it was submitted; its review was voided and it is back in draft.",
                messages.WARNING,
            )
        context = {
            **self.admin_site.each_context(request),
            **review_page(campaign=campaign, user=request.user),
            "opts": self.model._meta,
            "original": campaign,
            "title": f"Review: {campaign}",
        }
        return TemplateResponse(request, "admin/campaigns/campaign/review.html", context)

    def transition_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Run one button's transition (POST only) and return to the change page."""
        campaign = self._campaign_or_404(request, object_id)
        back = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        if request.method != "POST":
            return redirect(back)
        runs = {
            "submit": lambda: campaign_submit(campaign=campaign, actor=request.user),
            "withdraw": lambda: campaign_withdraw(campaign=campaign, actor=request.user),
            "cancel": lambda: campaign_cancel(
                campaign=campaign, actor=request.user, reason=request.POST.get("reason", "")
            ),
            "preview": lambda: campaign_preview(campaign=campaign, actor=request.user),
            "recall": lambda: campaign_recall(
                campaign=campaign, actor=request.user, reason=request.POST.get("reason", "")
            ),
        }
        if action not in runs:
            raise Http404(f"no transition {action!r}")
        try:
            runs[action]()
        except (PermissionDenied, ValidationError, CampaignTransitionError) as exc:
            self.message_user(request, _error_text(exc), messages.ERROR)
        else:
            done = {"submit": "submitted for review", "withdraw": "withdrawn from review",
                    "cancel": "cancelled", "preview": "preview started: it goes to the test uids",
                    "recall": "recall sent to the provider (its answers are in the audit trail)"}[action]
            self.message_user(request, f"{campaign}: {done}.", messages.SUCCESS)
        return redirect(back)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return str(exc) or "permission denied"


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    """Dispatches, with the emergency stop for operators above the list."""

    list_display = ["campaign", "due_at", "status", "total_requests", "delivered", "failed", "unknown"]
    list_filter = ["status"]
    list_select_related = ["campaign"]
    change_list_template = "admin/campaigns/dispatch/change_list.html"

    def get_urls(self):
        urls = [
            path(
                "sending/<str:action>/",
                self.admin_site.admin_view(self.sending_view),
                name="campaigns_dispatch_sending",
            )
        ]
        return urls + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        switch = SendSwitch.objects.filter(pk=1).first()
        extra = {
            "sending_stopped": bool(switch and switch.stopped),
            "sending_reason": switch.reason if switch else "",
            "may_operate": request.user.has_perm("campaigns.operate_dispatches"),
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def sending_view(self, request: HttpRequest, action: str) -> HttpResponse:
        """Stop or resume all sending (POST, operators only)."""
        if request.method != "POST" or action not in {"stop", "resume"}:
            raise Http404("POST to sending/stop/ or sending/resume/")
        if not request.user.has_perm("campaigns.operate_dispatches"):
            raise PermissionDenied("stopping or resuming sending needs campaigns.operate_dispatches")
        if action == "stop":
            sending_stop(actor=request.user, reason=request.POST.get("reason", "").strip())
            messages.warning(request, "Sending is STOPPED on every worker; nothing goes out until resumed.")
        else:
            woken = sending_resume(actor=request.user)
            messages.success(request, f"Sending resumed; {woken} pending dispatches continue.")
        return redirect("admin:campaigns_dispatch_changelist")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["idempotency_key", "dispatch", "status", "attempts", "provider_code"]
    list_filter = ["status"]
    search_fields = ["idempotency_key", "provider_code"]
    # Millions of rows: newest first by primary key (an index), join only what is shown,
    # and no full count of an unfiltered list (measured 1.2-1.5 s a page on 1M rows).
    ordering = ["-id"]
    list_select_related = ["dispatch__campaign"]
    show_full_result_count = False
    # Addresses kept by planning are recipients' data; the recipient pages show them masked.
    exclude = ["routes"]
