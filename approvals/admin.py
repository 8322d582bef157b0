"""Admin of reviews and the audit trail: read-only, since both change only through services.

Decisions are taken on the campaign's review page (``CampaignAdmin``), which calls
``approvals.services``; the audit trail can be read but never added to, changed or
deleted here (the model refuses it too).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from approvals.models import AuditEvent, Review, ReviewDecision


class ReadOnlyAdminMixin:
    """No add, change or delete: the services own every write."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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

    @admin.display(description="review page")
    def review_link(self, review: Review) -> str:
        url = reverse("admin:campaigns_campaign_review", args=[review.campaign_id])
        return format_html('<a href="{}">open</a>', url)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id", "created_at", "action", "object_type", "object_id", "from_state", "to_state", "actor",
    ]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor"]
    search_fields = ["object_id", "reason"]
    fields = [
        "id", "created_at", "campaign", "object_type", "object_id", "action", "from_state", "to_state",
        "actor", "reason", "data", "prev_hash", "hash",
    ]
    readonly_fields = fields
