"""Admin registrations for reviews and the audit trail (read-only)."""

from django.contrib import admin

from approvals.models import AuditEvent, Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["campaign", "status", "submitted_by", "submitted_at", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["campaign", "submitted_by"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "object_type", "object_id", "from_state", "to_state", "actor"]
    list_filter = ["action", "object_type"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
