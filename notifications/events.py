"""The events people are told about, derived from the audit trail.

Every state change Crier makes is recorded by ``audit.services.record_event`` in the
transaction that makes it, and ``audit.signals.event_recorded`` is sent there. An
:class:`EventKind` is what one audit event means to people: :func:`kinds_of` maps an event
(its ``object_type``, ``action`` and states) to the kinds it raises. The table of who is
told (``notifications.recipients``) and the README's "Notifications" section follow these
kinds.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent


class EventKind(models.TextChoices):
    REVIEW_REQUESTED = "review_requested", _("Campaign submitted for review")
    APPROVED = "approved", _("Campaign approved")
    REJECTED = "rejected", _("Campaign rejected")
    VOIDED = "voided", _("Approval voided")
    HELD = "held", _("Occurrence held for reach")
    DISPATCH_FAILED = "dispatch_failed", _("Dispatch failed")
    DISPATCH_PARTIALLY_FAILED = "dispatch_partially_failed", _("Dispatch partially failed")
    DELIVERIES_UNKNOWN = "deliveries_unknown", _("Deliveries with an unknown outcome")
    SENDING_STOPPED = "sending_stopped", _("Emergency stop")
    SENDING_RESUMED = "sending_resumed", _("Sending resumed")
    PROVIDER_CHECK_FAILED = "provider_check_failed", _("Provider account check failing")


K = EventKind

# (object_type, action) -> kind, for the events whose action alone decides.
_BY_ACTION: dict[tuple[str, str], str] = {
    ("campaign", "submit"): K.REVIEW_REQUESTED,
    ("campaign", "approve"): K.APPROVED,
    ("campaign", "reject"): K.REJECTED,
    ("campaign", "void"): K.VOIDED,
    ("campaign", "edit"): K.VOIDED,  # only from approved or in review: see _VOIDED_FROM
    ("dispatch", "hold"): K.HELD,
    ("send_switch", "stop"): K.SENDING_STOPPED,
    ("send_switch", "resume"): K.SENDING_RESUMED,
    ("provider_account", "check_failed"): K.PROVIDER_CHECK_FAILED,
}
# An approval (or a pending review) is voided when an approved or in-review campaign is
# edited (action "edit", back to draft) or found changed before it is sent or approved
# (action "void"); editing a draft voids nothing.
_VOIDED_FROM = {"approved", "in_review"}


def kinds_of(event: AuditEvent) -> list[str]:
    """Return the kinds of notification ``event`` raises (usually none: most are not)."""
    kind = _BY_ACTION.get((event.object_type, event.action))
    if kind == K.VOIDED and event.from_state not in _VOIDED_FROM:
        return []
    if kind is not None:
        return [kind]
    if event.object_type == "dispatch" and event.action == "finish":
        # campaigns.sending.finish records failed and partially failed finishes only.
        kinds = []
        if event.to_state == "failed":
            kinds.append(K.DISPATCH_FAILED)
        elif event.to_state == "partially_failed":
            kinds.append(K.DISPATCH_PARTIALLY_FAILED)
        if (event.data or {}).get("unknown"):
            kinds.append(K.DELIVERIES_UNKNOWN)
        return kinds
    return []
