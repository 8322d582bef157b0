"""The append-only, keyed hash chain of events and its signed checkpoints (``audit.services``
writes them, ``audit.verification`` checks them; what is covered is in ``audit/chain.py``).

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
from django.utils.translation import gettext_lazy as _


class AuditEventImmutable(PermissionError):
    """An attempt to change or remove a recorded audit event."""


class AuditEventQuerySet(models.QuerySet):
    """Audit events and checkpoints are append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):  # type: ignore[override]
        raise AuditEventImmutable(f"{self.model._meta.verbose_name_plural} are append-only: update refused")

    def delete(self):  # type: ignore[override]
        raise AuditEventImmutable(f"{self.model._meta.verbose_name_plural} are append-only: delete refused")


class AppendOnly(models.Model):
    """Integrity guards, not business rules: a row, once written, never changes."""

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        abstract = True
        # The base manager is what Model.save() and deletion collectors use for
        # updates; making it the append-only one closes that side door too.
        base_manager_name = "objects"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditEventImmutable(f"{self._meta.verbose_name} {self.pk} is append-only: save refused")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise AuditEventImmutable(f"{self._meta.verbose_name} {self.pk} is append-only: delete refused")


class AuditEvent(AppendOnly):
    """An append-only record of a state change: who, when, from -> to, why; hash-chained."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="audit_events", null=True, blank=True,
        verbose_name=_("campaign"),
    )
    object_type = models.CharField(_("object type"), max_length=50)
    object_id = models.CharField(_("object id"), max_length=64)
    action = models.CharField(_("action"), max_length=50)
    from_state = models.CharField(_("from state"), max_length=32, blank=True)
    to_state = models.CharField(_("to state"), max_length=32, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="audit_events",
        null=True,
        blank=True,
        verbose_name=_("actor"),
    )
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    # The MAC (hex HMAC-SHA256) under the key ``key_id``; for a legacy event written before
    # the chain was keyed (``key_id`` empty), the plain SHA-256 it was written with.
    hash = models.CharField(_("hash"), max_length=64, unique=True)
    key_id = models.CharField(_("key id"), max_length=32, blank=True, default="")

    class Meta(AppendOnly.Meta):
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        # The table this model had in the approvals app: moved in state only.
        db_table = "approvals_auditevent"
        ordering = ["id"]
        constraints = [
            # One successor per event: two concurrent appends can never fork the chain.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_event_linear_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id} {self.from_state}->{self.to_state}"


class AuditCheckpoint(AppendOnly):
    """A signed statement of the chain's head: "the chain had ``event_count`` events, the last
    one ``head_id`` with hash ``head_hash``", signed with the audit key ``key_id``.

    Kept outside the chain (and copied to the log, and to ``CRIER_AUDIT_CHECKPOINT_FILE``)
    so that deleting the newest events, which leaves a valid shorter chain, contradicts a
    checkpoint. ``head_id`` is a plain number, not a foreign key: the event it names may be
    gone, and that is exactly what verification must be able to say.
    """

    created_at = models.DateTimeField()
    event_count = models.PositiveBigIntegerField()
    legacy_count = models.PositiveBigIntegerField()
    head_id = models.BigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=32)
    mac = models.CharField(max_length=64)

    class Meta(AppendOnly.Meta):
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"checkpoint {self.pk}: {self.event_count} events, head {self.head_id}"
