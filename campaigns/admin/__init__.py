"""Admin registrations for recipients, audiences, campaigns, dispatches and deliveries."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from audit.admin import ReadOnlyAdminMixin, StoredTextAdminMixin, in_words
from audit.models import AuditEvent
from campaigns.actions import campaign_actions
from campaigns.admin.dashboard import DashboardActionsMixin, rejection_reasons
from campaigns.admin.forms import (
    WITHDRAWING_STATES,
    CampaignAdminForm,
    withdraw_warning,
    withdrawn_message,
)
from campaigns.admin.lists import (  # error_text: approvals.admin imports it from here
    CampaignListMixin,
    DeliveryListMixin,
    DispatchListMixin,
    SendKindFilter,
    error_text,
)
from campaigns.admin.provider_options import with_provider_options
from campaigns.admin.report import CampaignPagesMixin
from campaigns.audiences.admin import AudienceAdminBase, RecipientAdminBase
from campaigns.lifecycle import EDITABLE_STATES, CampaignTransitionError
from campaigns.models import Audience, Campaign, CampaignStatus, Delivery, Dispatch, Recipient, SendSwitch
from campaigns.previews import campaign_preview
from campaigns.sending.operations import sending_resume, sending_stop
from campaigns.sending.recall import campaign_recall
from campaigns.services import EDITABLE_FIELDS, campaign_cancel, campaign_create, campaign_edit
from providers.safe_json import SafeJSONField, checked_text


@admin.register(Recipient)
class RecipientAdmin(RecipientAdminBase):
    """Recipients: edited through the recipient services, imported from CSV (see admin_audiences)."""


@admin.register(Audience)
class AudienceAdmin(AudienceAdminBase):
    """Audiences: counts in the list, size on the change page, id lists uploaded as CSV."""


# The campaign's own transitions shown as buttons on the change page (approvals.admin adds
# submit and withdraw; approve/reject live on its review page).
BUTTON_LABELS = {
    "preview": gettext_lazy("Send preview to test uids"),
    "cancel": gettext_lazy("Cancel campaign"),
    # campaigns.sending.recall: shown only where the provider can recall
    "recall": gettext_lazy("Recall from users"),
}


class AuditEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The campaign's audit trail, read-only, oldest first."""

    model = AuditEvent
    fk_name = "campaign"
    verbose_name = gettext_lazy("audit event")
    verbose_name_plural = gettext_lazy("audit trail")
    extra = 0
    can_delete = False
    ordering = ["id"]
    fields = [
        "created_at", "actor", "object_type", "action", "from_state", "to_state", "reason", "short_hash",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("hash"))
    def short_hash(self, event: AuditEvent) -> str:
        return f"{event.hash[:12]}…"


@admin.register(Campaign)
class CampaignAdmin(CampaignListMixin, DashboardActionsMixin, CampaignPagesMixin, admin.ModelAdmin):
    """Campaigns: saved through the services; their own transitions as buttons.

    The buttons (preview, cancel, recall) post to :meth:`transition_view`, which calls the
    same services as the API, so the permissions and the transition table apply here too.
    Each button is shown only to a user the services would allow. ``approvals.admin``
    registers a subclass in this one's place that adds what belongs to reviews (submit,
    withdraw, the review page and queue); this app does not import approvals.
    """

    button_labels = BUTTON_LABELS

    # The campaign form plus the provider-options field and its checks (admin_provider_options).
    form = with_provider_options(CampaignAdminForm)
    change_form_template = "admin/campaigns/campaign/change_form.html"
    change_list_template = "admin/campaigns/campaign/change_list.html"
    list_display = [
        # "progress" links to the report (a column of its own made the list scroll at 1400 px).
        "name", "status_badge", "provider_account", "schedule_kind", "next_send", "progress", "created_by",
    ]
    # Bulk actions run the single action's service once per campaign (admin/lists.py, run_bulk).
    actions = ["duplicate_selected", "cancel_selected"]
    list_filter = ["status", "schedule_kind", "provider_account__kind"]
    search_fields = ["name"]
    list_select_related = ["provider_account", "created_by"]
    readonly_fields = [
        "status", "submitted_hash_shown", "approved_hash_shown", "next_due_at", "created_by",
        "next_occurrences",
    ]
    inlines = [AuditEventInline]
    fieldsets = [
        (None, {"fields": ["name", "status", "template", "template_version", "provider_account",
                           "audience"]}),
        (gettext_lazy("Message"), {"fields": ["language", "parameters", "path", "provider_options",
                                              "priority", "expired_seconds", "test_uids"]}),
        (gettext_lazy("Schedule"), {"fields": ["schedule_kind", "timezone", "fixed_time", "circle_type",
                                               "circle_value", "time", "start_date", "end_date", "cron",
                                               "next_occurrences"]}),
        (gettext_lazy("Approval"), {"fields": ["submitted_hash_shown", "approved_hash_shown", "next_due_at",
                                               "created_by"]}),
    ]

    # The two hashes have no verbose_name on the model (a label change would be a migration):
    # shown read-only under translatable labels instead.
    @admin.display(description=gettext_lazy("submitted hash"))
    def submitted_hash_shown(self, campaign: Campaign) -> str:
        return campaign.submitted_hash or self.get_empty_value_display()

    @admin.display(description=gettext_lazy("approved hash"))
    def approved_hash_shown(self, campaign: Campaign) -> str:
        return campaign.approved_hash or self.get_empty_value_display()

    # --- editing through the services -----------------------------------------------

    def get_inlines(self, request: HttpRequest, obj: Campaign | None = None) -> list:
        return self.inlines if obj is not None else []  # a new campaign has no trail yet

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        """A campaign the user cannot edit now (in review, sending, ended) is shown read-only,
        without Save buttons; the list and the add page are unaffected (``obj`` is None)."""
        allowed = super().has_change_permission(request, obj)
        if not allowed or obj is None:
            return allowed
        return self.may_edit(request, obj)

    def may_edit(self, request: HttpRequest, campaign: Campaign) -> bool:
        """Return whether saving ``campaign`` can succeed in its state (campaigns.lifecycle)."""
        return campaign.status in EDITABLE_STATES

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
                stored = Campaign.objects.get(pk=obj.pk)
                was = stored.status
                campaign_edit(campaign=stored, actor=request.user, changes=changes)
                if was in WITHDRAWING_STATES:  # the form had this confirmed
                    request.crier_withdrawn_from = was
            self._warn_before_submit(request, form)
            return
        settable = set(EDITABLE_FIELDS) - {"template_version"}
        data = {f: v for f, v in form.cleaned_data.items() if f in settable}
        created = campaign_create(actor=request.user, data=data)
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()
        self._warn_before_submit(request, form)

    def _warn_before_submit(self, request: HttpRequest, form) -> None:
        """Say after saving what submitting will refuse: the schedule rules of the moment
        (a time in the past, the 180-day window) wait for submit, in the admin as in the API."""
        for text in getattr(form, "before_submit_messages", list)():
            self.message_user(request, text, messages.WARNING)

    def response_change(self, request: HttpRequest, obj: Campaign) -> HttpResponse:
        """Say plainly when saving withdrew an approval (or a submission), and stay on the page."""
        withdrawn_from = getattr(request, "crier_withdrawn_from", None)
        if withdrawn_from is None:
            return super().response_change(request, obj)
        self.message_user(request, withdrawn_message(obj, withdrawn_from), messages.WARNING)
        return redirect(reverse("admin:campaigns_campaign_change", args=[obj.pk]))

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (CampaignTransitionError, ValidationError) as exc:
            # A race (status changed meanwhile) or a rule the form could not see.
            self.message_user(request, error_text(exc), messages.ERROR)
            if object_id:
                return redirect(reverse("admin:campaigns_campaign_change", args=[object_id]))
            return redirect(reverse("admin:campaigns_campaign_changelist"))

    def available_actions(self, request: HttpRequest, campaign: Campaign) -> list[str]:
        """Return the transitions the user may start on ``campaign``, in button order."""
        return campaign_actions(user=request.user, campaign=campaign)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        campaign = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if campaign is not None:
            actions = self.available_actions(request, campaign)
            labels = self.button_labels
            extra["campaign_buttons"] = [(a, labels[a]) for a in actions if a in labels]
            extra["campaign_in_review_for_me"] = "review" in actions
            if campaign.status in WITHDRAWING_STATES:
                extra["withdraw_warning"] = withdraw_warning(campaign.status)
            if campaign.status == CampaignStatus.REJECTED:
                extra["rejection"] = rejection_reasons(campaign_ids=[campaign.pk]).get(campaign.pk)
        return super().change_view(request, object_id, form_url, extra)

    # --- custom views ------------------------------------------------------------

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
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

    def transition_runs(self, request: HttpRequest, campaign: Campaign) -> dict[str, tuple[Callable, str]]:
        """Return, per button, the service call it makes and what the user is told after
        (a whole sentence with the placeholder %(campaign)s)."""
        reason = request.POST.get("reason", "")
        return {
            # The reason is posted outside a form: checked here, inside the caller's try
            # (providers/safe_json.py: a NUL is refused, never stored).
            "cancel": (lambda: campaign_cancel(
                campaign=campaign, actor=request.user, reason=checked_text("reason", reason)),
                _("%(campaign)s: cancelled.")),
            "preview": (lambda: campaign_preview(campaign=campaign, actor=request.user),
                        _("%(campaign)s: preview started: it goes to the test uids.")),
            "recall": (lambda: campaign_recall(
                campaign=campaign, actor=request.user, reason=checked_text("reason", reason)),
                       _("%(campaign)s: recall sent to the provider (its answers are in the audit trail).")),
        }

    def transition_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Run one button's transition (POST only) and return to the change page."""
        campaign = self._campaign_or_404(request, object_id)
        back = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        if request.method != "POST":
            return redirect(back)
        runs = self.transition_runs(request, campaign)
        if action not in runs:
            raise Http404(f"no transition {action!r}")
        run, done = runs[action]
        try:
            run()
        except (PermissionDenied, ValidationError, CampaignTransitionError) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
        else:
            self.message_user(request, done % {"campaign": campaign}, messages.SUCCESS)
        return redirect(back)


@admin.register(Dispatch)
class DispatchAdmin(StoredTextAdminMixin, ReadOnlyAdminMixin, DispatchListMixin, admin.ModelAdmin):
    """Dispatches, with the emergency stop for operators above the list.

    The ledger is read-only here for everyone, superusers included: only the engine and
    the operations services (stop, resume, resolve, confirm) write it, through the
    transition tables (campaigns/sending/transitions.py), so a hand edit cannot make a
    sent occurrence pending again or an unknown delivery delivered.
    """

    list_display = ["campaign", "due_at", "status_badge", "total_requests", "delivered", "failed", "unknown"]
    list_filter = ["status", "is_preview"]
    list_select_related = ["campaign"]
    change_list_template = "admin/campaigns/dispatch/change_list.html"
    stored_text = ("detail",)  # stored English (campaigns/stored_text.py)
    readonly_fields = ["detail_words"]
    detail_words = in_words(Dispatch, "detail")

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
            try:
                reason = checked_text("reason", request.POST.get("reason", "").strip())
            except ValidationError as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
                return redirect("admin:campaigns_dispatch_changelist")
            sending_stop(actor=request.user, reason=reason)
            messages.warning(
                request, _("Sending is STOPPED on every worker; nothing goes out until resumed.")
            )
        else:
            woken = sending_resume(actor=request.user)
            messages.success(
                request,
                ngettext(
                    "Sending resumed; %(count)s pending dispatch continues.",
                    "Sending resumed; %(count)s pending dispatches continue.",
                    woken,
                ) % {"count": woken},
            )
        return redirect("admin:campaigns_dispatch_changelist")


@admin.register(Delivery)
class DeliveryAdmin(StoredTextAdminMixin, ReadOnlyAdminMixin, DeliveryListMixin, admin.ModelAdmin):
    """Deliveries, read-only like dispatches (see DispatchAdmin)."""

    list_display = ["idempotency_key", "campaign", "occurrence", "status", "attempts", "provider_code"]
    list_filter = [SendKindFilter, "status"]
    search_fields = ["idempotency_key", "provider_code"]
    # Millions of rows: newest first by primary key (an index), join only what is shown,
    # and no full count of an unfiltered list (measured 1.2-1.5 s a page on 1M rows).
    ordering = ["-id"]
    list_select_related = ["dispatch__campaign"]
    show_full_result_count = False
    # Addresses kept by planning are recipients' data; the recipient pages show them masked.
    exclude = ["routes"]
    # Lone surrogates, NUL and deep nesting are a form error (providers/safe_json.py).
    formfield_overrides = {models.JSONField: {"form_class": SafeJSONField}}
    # Crier's own words (a request left in flight) in the reader's language; a provider's as stored.
    stored_text = ("provider_message",)
    readonly_fields = ["provider_message_words"]
    provider_message_words = in_words(Delivery, "provider_message")
