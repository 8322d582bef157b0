"""Admin of reviews, and the campaign admin extended with them.

Reviews are read-only here, since they change only through services. Decisions are taken
on the campaign's review page (:class:`ReviewedCampaignAdmin`, registered for Campaign in
place of the campaigns app's own admin), which calls ``approvals.services``.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from approvals.diff import campaign_review_diff
from approvals.holds import HoldConflict, dispatch_cancel, dispatch_confirm
from approvals.models import ApprovalRule, Review, ReviewDecision
from approvals.rules import (
    APPROVE_PERM,
    ReviewConflict,
    campaigns_awaiting_review,
    requirement_progress,
    review_open,
)
from approvals.selectors import campaign_available_actions, review_page
from approvals.services import (
    campaign_approve,
    campaign_reject,
    campaign_submit,
    campaign_withdraw,
    review_volume,
)
from audit.admin import ReadOnlyAdminMixin
from campaigns import stored_text
from campaigns.admin import BUTTON_LABELS, CampaignAdmin, error_text
from campaigns.lifecycle import CampaignTransitionError
from campaigns.models import Campaign, CampaignStatus, Dispatch
from campaigns.schedules.spec import ScheduleError
from campaigns.services import EDITABLE_FIELDS, campaign_void_if_changed
from providers.safe_json import checked_text


class ReviewDecisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReviewDecision
    extra = 0
    fields = ["reviewer", "decision", "comment", "created_at"]
    readonly_fields = fields


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "campaign", "status", "approvals_required", "submitted_by", "submitted_at", "decided_at",
        "review_link",
    ]
    list_filter = ["status"]
    list_select_related = ["campaign", "submitted_by"]
    search_fields = ["campaign__name", "content_hash"]
    fields = [
        "campaign", "status", "content_hash", "approvals_required", "submitted_by", "submitted_at",
        "decided_at", "review_link", "snapshot",
    ]
    readonly_fields = fields
    inlines = [ReviewDecisionInline]

    @admin.display(description=gettext_lazy("review page"))
    def review_link(self, review: Review) -> str:
        url = reverse("admin:campaigns_campaign_review", args=[review.campaign_id])
        return format_html('<a href="{}">{}</a>', url, _("open"))


MANAGE_RULES_PERM = "approvals.manage_approval_rules"


class ApprovalRuleForm(forms.ModelForm):
    """An approval rule, with errors that name the field, the value and the rule."""

    class Meta:
        model = ApprovalRule
        fields = [
            "name", "enabled", "min_reach", "audience_kind", "provider_kind", "schedule_kind",
            "approvals_required", "required_group",
        ]

    def clean_approvals_required(self) -> int:
        value = self.cleaned_data["approvals_required"]
        if value is not None and value < 1:
            raise ValidationError(
                _("Approvals required: %(value)s is too few; a rule needs at least 1 approval."),
                params={"value": value}, code="min_value",
            )
        return value

    def clean_min_reach(self) -> int | None:
        value = self.cleaned_data["min_reach"]
        if value is not None and value < 1:
            raise ValidationError(
                _("Reach at least: %(value)s is not a threshold; enter a number of recipients "
                  "of 1 or more, or leave it empty for any reach."),
                params={"value": value}, code="min_value",
            )
        return value

    def clean_required_group(self):
        group = self.cleaned_data["required_group"]
        if group is not None:
            # The model backend reads group permissions; axes' backend (first in
            # AUTHENTICATION_BACKENDS) only guards logins and cannot answer with_perm.
            reviewers = get_user_model().objects.with_perm(
                APPROVE_PERM, backend="django.contrib.auth.backends.ModelBackend"
            ).filter(groups=group, is_active=True)
            if not reviewers.exists():
                raise ValidationError(
                    _("Required group: no active member of %(group)s may approve campaigns (it needs "
                      "the permission %(perm)s); add a reviewer to the group first, or campaigns "
                      "matching this rule could never be approved."),
                    params={"group": group.name, "perm": APPROVE_PERM}, code="no_reviewer",
                )
        return group


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    """Approval rules: administrators (superusers, or holders of
    ``approvals.manage_approval_rules``) change them; everyone with the view permission
    reads them. A review records the rules that matched at its submission, so a change
    applies to campaigns submitted afterwards."""

    form = ApprovalRuleForm
    list_display = ["name", "enabled", "conditions", "requirement"]
    list_filter = ["enabled", "audience_kind", "provider_kind", "schedule_kind"]
    list_select_related = ["required_group"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "enabled"]}),
        (gettext_lazy("Conditions: the rule matches when every condition set holds"), {
            "fields": ["min_reach", "audience_kind", "provider_kind", "schedule_kind"],
        }),
        (gettext_lazy("Requirement: the strictest matching rule applies; every group named by a "
                      "matching rule must be among the approvers"), {
            "fields": ["approvals_required", "required_group"],
        }),
    ]

    @admin.display(description=gettext_lazy("conditions"))
    def conditions(self, rule: ApprovalRule) -> str:
        parts = []
        if rule.min_reach is not None:
            parts.append(_("reach ≥ %(n)s") % {"n": rule.min_reach})
        for field in ("audience_kind", "provider_kind", "schedule_kind"):
            if getattr(rule, field):
                label = ApprovalRule._meta.get_field(field).verbose_name
                value = getattr(rule, f"get_{field}_display")()
                parts.append(_("%(label)s: %(value)s") % {"label": label, "value": value})
        return "; ".join(parts) or _("every campaign")

    @admin.display(description=gettext_lazy("requirement"))
    def requirement(self, rule: ApprovalRule) -> str:
        n = rule.approvals_required
        text = ngettext("%(n)s approval", "%(n)s approvals", n) % {"n": n}
        if rule.required_group_id:
            text += " " + _("including a member of %(group)s") % {"group": rule.required_group.name}
        return text

    def _may_manage(self, request: HttpRequest) -> bool:
        return request.user.is_active and (
            request.user.is_superuser or request.user.has_perm(MANAGE_RULES_PERM)
        )

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_manage(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_manage(request)


# Buttons of reviews on a campaign's page, besides the campaign's own.
REVIEW_BUTTON_LABELS = {
    "submit": "Submit for review",
    "withdraw": "Withdraw from review",
}


class ReviewedCampaignAdmin(CampaignAdmin):
    """The campaign admin with reviews: submit and withdraw buttons, the review page (what
    will be sent, approve or reject with a comment) and the queue of what awaits me.

    Registered for Campaign in place of ``campaigns.admin.CampaignAdmin``: campaigns sits
    below approvals and does not import it, so approvals extends it here. The decisions
    call ``approvals.services``; who may approve is ``approvals.rules``.
    """

    button_labels = {**REVIEW_BUTTON_LABELS, **BUTTON_LABELS}
    # The list's bulk actions: the campaigns app's own, plus submit and withdraw (run_bulk:
    # the same services as the buttons, one campaign at a time, each reported).
    actions = [*CampaignAdmin.actions, "submit_selected", "withdraw_selected"]
    bulk_refusals = (*CampaignAdmin.bulk_refusals, ReviewConflict)

    def has_submit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.submit_campaign")

    @admin.action(description=gettext_lazy("Submit selected campaigns for review"), permissions=["submit"])
    def submit_selected(self, request: HttpRequest, queryset) -> None:
        self.run_bulk(
            request, queryset.order_by("pk"),
            lambda campaign: campaign_submit(campaign=campaign, actor=request.user),
            _("Submitted for review: %(campaigns)s."),
        )

    @admin.action(description=gettext_lazy("Withdraw selected campaigns from review"), permissions=["submit"])
    def withdraw_selected(self, request: HttpRequest, queryset) -> None:
        self.run_bulk(
            request, queryset.order_by("pk"),
            lambda campaign: campaign_withdraw(
                campaign=campaign, actor=request.user, reason=stored_text.WITHDRAWN_FROM_LIST),
            _("Withdrawn from review: %(campaigns)s."),
        )

    def may_edit(self, request: HttpRequest, campaign: Campaign) -> bool:
        """A campaign in review is editable by whoever may withdraw it (see get_readonly_fields)."""
        if campaign.status == CampaignStatus.IN_REVIEW:
            return self._may_withdraw(request, campaign)
        return super().may_edit(request, campaign)

    def available_actions(self, request: HttpRequest, campaign: Campaign) -> list[str]:
        return campaign_available_actions(user=request.user, campaign=campaign)

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        """A campaign in review is editable by whoever may withdraw it: saving a change
        withdraws it first (the form asks for confirmation), as the services require."""
        if obj is not None and obj.status == CampaignStatus.IN_REVIEW and self._may_withdraw(request, obj):
            return list(self.readonly_fields)
        return super().get_readonly_fields(request, obj)

    def _may_withdraw(self, request: HttpRequest, campaign: Campaign) -> bool:
        return request.user.has_perm("campaigns.change_campaign") and "withdraw" in self.available_actions(
            request, campaign
        )

    def save_model(self, request: HttpRequest, obj: Campaign, form, change: bool) -> None:
        """Withdraw a campaign in review before saving a change to it (in the admin's
        transaction: a change the services refuse leaves it in review)."""
        edited = change and any(f in EDITABLE_FIELDS for f in form.changed_data)
        stored = Campaign.objects.get(pk=obj.pk) if edited else None
        if stored is not None and stored.status == CampaignStatus.IN_REVIEW:
            campaign_withdraw(campaign=stored, actor=request.user, reason=stored_text.EDITED_IN_ADMIN)
            super().save_model(request, obj, form, change)
            request.crier_withdrawn_from = CampaignStatus.IN_REVIEW
            return
        super().save_model(request, obj, form, change)

    def transition_runs(self, request: HttpRequest, campaign: Campaign) -> dict[str, tuple[Callable, str]]:
        return {
            "submit": (lambda: campaign_submit(campaign=campaign, actor=request.user),
                       _("%(campaign)s: submitted for review.")),
            "withdraw": (lambda: campaign_withdraw(campaign=campaign, actor=request.user),
                         _("%(campaign)s: withdrawn from review.")),
            **super().transition_runs(request, campaign),
        }

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = dict(extra_context or {})
        extra["awaiting_review"] = len(campaigns_awaiting_review(user=request.user))
        return super().changelist_view(request, extra)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("review-queue/", view(self.review_queue_view), name="campaigns_campaign_review_queue"),
            path("<path:object_id>/review/", view(self.review_view), name="campaigns_campaign_review"),
            path(
                "held/<int:dispatch_id>/<str:action>/", view(self.held_view), name="campaigns_dispatch_held"
            ),
            *super().get_urls(),
        ]

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
            "title": _("Awaiting my review"),
            "rows": rows,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/review_queue.html", context)

    def held_view(self, request: HttpRequest, dispatch_id: int, action: str) -> HttpResponse:
        """Confirm the grown reach of a held occurrence (it is sent) or cancel it (POST, from
        the dashboard); ``approvals.holds`` decides who may."""
        back = request.POST.get("next") or reverse("admin:index")
        if not back.startswith("/"):
            back = reverse("admin:index")
        if request.method != "POST":
            return redirect(back)
        if action not in ("confirm", "cancel"):
            raise Http404(f"no action {action!r}")
        dispatch = Dispatch.objects.select_related("campaign").filter(pk=dispatch_id).first()
        if dispatch is None:
            raise Http404(f"no dispatch {dispatch_id}")
        try:
            if action == "confirm":
                dispatch_confirm(dispatch=dispatch, actor=request.user)
                done = _("%(campaign)s: the reach of %(reach)s recipients is confirmed; the occurrence "
                         "is sent.")
            else:
                reason = checked_text("reason", request.POST.get("reason", ""))  # providers/safe_json.py
                dispatch_cancel(dispatch=dispatch, actor=request.user, reason=reason)
                done = _("%(campaign)s: the held occurrence is cancelled; nothing of it is sent.")
        except (PermissionDenied, ValidationError, CampaignTransitionError, HoldConflict) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
        else:
            params = {"campaign": dispatch.campaign.name, "reach": dispatch.reach}
            self.message_user(request, done % params, messages.SUCCESS)
        return redirect(back)

    def _decide(self, request: HttpRequest, campaign: Campaign) -> str | None:
        """Take the approve or reject decision posted on the review page; return the error
        about the comment (shown by the comment box), or None once the user was told."""
        decision = request.POST.get("decision")
        comment = request.POST.get("comment", "")
        try:
            checked_text("comment", comment)  # posted outside a form (providers/safe_json.py)
            if decision == "approve":
                acknowledged = request.POST.get("acknowledge_warnings") == "on"  # the volume checkbox
                review = campaign_approve(
                    campaign=campaign, actor=request.user, comment=comment, acknowledge_warnings=acknowledged
                )
                if review.status == "approved":
                    done = _("%(campaign)s approved.") % {"campaign": campaign}
                    self.message_user(request, done, messages.SUCCESS)
                else:
                    missing = requirement_progress(review=review).missing_text()
                    self.message_user(
                        request,
                        _("Your approval is recorded; the campaign stays in review: it %(missing)s.")
                        % {"missing": missing},
                        messages.SUCCESS,
                    )
            elif decision == "reject":
                campaign_reject(campaign=campaign, actor=request.user, comment=comment)
                done = _("%(campaign)s rejected.") % {"campaign": campaign}
                self.message_user(request, done, messages.SUCCESS)
            else:
                unknown = _("unknown decision %(decision)r") % {"decision": decision}
                self.message_user(request, unknown, messages.ERROR)
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "comment" in exc.error_dict:
                return " ".join(exc.message_dict["comment"])
            self.message_user(request, error_text(exc), messages.ERROR)
        except (PermissionDenied, CampaignTransitionError, ReviewConflict) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
        return None

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show exactly what will be sent, and take an approve or reject decision (POST)."""
        campaign = self._campaign_or_404(request, object_id)
        comment_error = None
        if request.method == "POST":
            comment_error = self._decide(request, campaign)
            if comment_error is None:
                return redirect(reverse("admin:campaigns_campaign_review", args=[campaign.pk]))
        watched = (CampaignStatus.IN_REVIEW, CampaignStatus.APPROVED)
        if campaign.status in watched and campaign_void_if_changed(campaign=campaign):
            self.message_user(
                request,
                _(
                    "The campaign changed since it was submitted; its review was voided and it is back "
                    "in draft."
                ),
                messages.WARNING,
            )
        context = {
            **self.admin_site.each_context(request),
            **review_page(campaign=campaign, user=request.user),
            "review_diff": campaign_review_diff(campaign=campaign),
            "volume": _volume_or_none(campaign),
            "opts": self.model._meta,
            "original": campaign,
            "title": _("Review: %(campaign)s") % {"campaign": campaign},
            # A refused comment is shown by its box, with what was typed (HTTP 400).
            "comment_error": comment_error,
            "comment": request.POST.get("comment", "") if comment_error else "",
        }
        status = 400 if comment_error else 200
        return TemplateResponse(request, "admin/campaigns/campaign/review.html", context, status=status)


def _volume_or_none(campaign: Campaign):
    """The review page's volume (``approvals.services.review_volume``); None when the
    schedule cannot be evaluated (the page shows its errors)."""
    try:
        return review_volume(campaign=campaign, review=review_open(campaign=campaign))
    except (ScheduleError, ValidationError):
        return None


admin.site.unregister(Campaign)
admin.site.register(Campaign, ReviewedCampaignAdmin)
