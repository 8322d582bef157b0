"""The append-only, hash-chained audit trail (``audit.services`` writes and verifies it).

The model moved here from ``approvals`` without touching the database: its table keeps
the name ``approvals_auditevent`` (``audit.0001_initial`` and ``approvals.0004`` only move
it in Django's migration state).

The audit app imports no other app of Crier. An event names what it is about by
``object_type``/``object_id``; events about a campaign also carry ``campaign``, a foreign
key declared by label (``"campaigns.Campaign"``), not by import. It stays a real foreign
key because it is part of the database (the column, its index and constraint, and the
``PROTECT`` that keeps a campaign with a trail from being deleted), because
``campaign_id`` is one of the fields every event's hash covers, and because the trail of a
campaign is read through it (``campaign.audit_events``). Turning it into a plain id would
change the schema and the behaviour; the label keeps the Python dependency one way.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEventImmutable(PermissionError):
    """An attempt to change or remove a recorded audit event."""


class AuditEventQuerySet(models.QuerySet):
    """Audit events are append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):  # type: ignore[override]
        raise AuditEventImmutable("audit events are append-only: update refused")

    def delete(self):  # type: ignore[override]
        raise AuditEventImmutable("audit events are append-only: delete refused")


class AuditEvent(models.Model):
    """An append-only record of a state change: who, when, from -> to, why; hash-chained."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="audit_events", null=True, blank=True
    )
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64)
    action = models.CharField(max_length=50)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="audit_events",
        null=True,
        blank=True,
    )
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        # The table this model had in the approvals app: moved in state only.
        db_table = "approvals_auditevent"
        ordering = ["id"]
        # The base manager is what Model.save() and deletion collectors use for
        # updates; making it the append-only one closes that side door too.
        base_manager_name = "objects"
        constraints = [
            # One successor per event: two concurrent appends can never fork the chain.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_event_linear_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id} {self.from_state}->{self.to_state}"

    # Integrity guards, not business rules: an event, once written, never changes.
    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditEventImmutable(f"audit event {self.pk} is append-only: save refused")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise AuditEventImmutable(f"audit event {self.pk} is append-only: delete refused")
