"""Admin of the audit trail: read-only, since events are only ever appended by services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from audit.models import AuditCheckpoint, AuditEvent
from audit.stored_text import in_reader_language


class ReadOnlyAdminMixin:
    """No add, change or delete: the services own every write."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
        "actor", "reason_words", "data", "prev_hash", "hash", "key_id",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("reason"))
    def reason_words(self, event: AuditEvent) -> str:
        """The stored reason in the reader's language when it is a sentence Crier stores in
        English (audit/stored_text.py); a person's own words as written. The chain keeps
        (and hashes) the stored text; only its display is translated."""
        return in_reader_language(event.reason)


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "event_count", "head_id", "legacy_count", "key_id"]
    fields = ["id", "created_at", "event_count", "legacy_count", "head_id", "head_hash", "key_id", "mac"]
    readonly_fields = fields
