"""Admin of reviews: read-only, since reviews change only through services.

Decisions are taken on the campaign's review page (``CampaignAdmin``), which calls
``approvals.services``.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from approvals.models import Review, ReviewDecision
from audit.admin import ReadOnlyAdminMixin


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
