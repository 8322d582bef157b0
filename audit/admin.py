"""Admin of the audit trail: read-only, since events are only ever appended by services."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

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


def in_words(model: type[models.Model], field: str) -> Callable:
    """A read-only admin display of ``model.field`` — text Crier stores in English — in the
    reader's language (audit/stored_text.py), labelled as the field: ``<field>_words``."""

    @admin.display(description=model._meta.get_field(field).verbose_name)
    def words(self, obj: models.Model) -> str:
        return in_reader_language(getattr(obj, field))

    return words


class StoredTextAdminMixin:
    """On the change page, each field named in ``stored_text`` is shown by its ``<field>_words``
    display (:func:`in_words`, listed in ``readonly_fields``) instead, in the same place."""

    stored_text: tuple[str, ...] = ()

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        shown = {f"{name}_words" for name in self.stored_text}
        fields = [f for f in super().get_fields(request, obj) if f not in shown]
        return [f"{f}_words" if f in self.stored_text else f for f in fields]


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
    # The chain keeps (and hashes) the stored English; only its display is translated.
    reason_words = in_words(AuditEvent, "reason")


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "event_count", "head_id", "legacy_count", "key_id"]
    fields = ["id", "created_at", "event_count", "legacy_count", "head_id", "head_hash", "key_id", "mac"]
    readonly_fields = fields
