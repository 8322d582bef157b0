"""The campaign life cycle: its one transition table and the one helper that moves a campaign.

The life cycle (README: "A campaign from draft to delivered")::

    draft --submit--> in_review --approve--> approved --(due)--> sending --> sent | partially_failed | failed
      ^   <--withdraw--  | reject                ^   <--(recurring: more due)--  |
      +------edit---- rejected                   +-- cancel (before the last occurrence) --> cancelled

:func:`campaign_transition` is the only code that writes ``Campaign.status``: it checks
:data:`TRANSITIONS`, moves the row with a compare-and-swap on the old status, raises
:class:`CampaignTransitionError` (HTTP 409) when the move is illegal or lost a race, and
appends an audit event in the same transaction. Edits, cancellation and the approval check
live in ``campaigns.services``, previews in ``campaigns.previews``; submitting, approving,
rejecting and withdrawing live in ``approvals.services`` (they are about reviews). All of
them call this helper.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import record_event
from campaigns.models import Campaign, CampaignStatus

S = CampaignStatus

# (from, to) -> the action recorded when a caller names none.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.DRAFT, S.DRAFT): "edit",
    (S.DRAFT, S.IN_REVIEW): "submit",
    (S.IN_REVIEW, S.DRAFT): "withdraw",  # also "void" when the content changed under review
    (S.IN_REVIEW, S.APPROVED): "approve",
    (S.IN_REVIEW, S.REJECTED): "reject",
    (S.REJECTED, S.DRAFT): "edit",
    (S.APPROVED, S.DRAFT): "void",  # an edit or a detected change voids the approval
    (S.APPROVED, S.SENDING): "start",
    (S.SENDING, S.APPROVED): "rearm",  # recurring: more occurrences are due
    (S.SENDING, S.SENT): "finish",
    (S.SENDING, S.PARTIALLY_FAILED): "finish",
    (S.SENDING, S.FAILED): "finish",
    (S.DRAFT, S.CANCELLED): "cancel",
    (S.IN_REVIEW, S.CANCELLED): "cancel",
    (S.REJECTED, S.CANCELLED): "cancel",
    (S.APPROVED, S.CANCELLED): "cancel",
}

FINAL_STATES = frozenset({S.SENT, S.PARTIALLY_FAILED, S.FAILED, S.CANCELLED})
# The statuses a campaign may be cancelled from (checked before calling mPaaS to cancel).
TRANSITIONS_TO_CANCELLED = frozenset(frm for (frm, to) in TRANSITIONS if to == S.CANCELLED)
# Editing is allowed in draft and rejected (back to draft) and voids an approval.
EDITABLE_STATES = frozenset({S.DRAFT, S.REJECTED, S.APPROVED})
# Previews go out any time before approval.
PREVIEWABLE_STATES = frozenset({S.DRAFT, S.IN_REVIEW, S.REJECTED})


class CampaignTransitionError(Exception):
    """A campaign cannot make the requested move from its current status (HTTP 409)."""

    conflict = True


class NativeCancelFailed(CampaignTransitionError):
    """mPaaS did not confirm cancelling a campaign's native schedule: nothing changed (HTTP 409)."""


def allowed_targets(status: str) -> list[str]:
    """Return the statuses a campaign in ``status`` may move to."""
    return [to for (frm, to) in TRANSITIONS if frm == status]


def require_perm(actor, perm: str, doing: str) -> None:
    """Raise PermissionDenied unless ``actor`` holds ``perm`` (named in the message)."""
    if actor is None or not actor.has_perm(perm):
        raise PermissionDenied(permission_text(actor, perm, doing))


def permission_text(actor, perm: str, doing: str) -> str:
    """Return the message of a refusal for want of ``perm`` (shared with ``approvals.rules``)."""
    who = getattr(actor, "username", None) or _("anonymous")
    return _("user %(user)r may not %(doing)s: it needs the permission %(perm)s") % {
        "user": who, "doing": doing, "perm": perm,
    }


def describe(campaign: Campaign) -> str:
    """Return how messages name ``campaign``: its id and name."""
    return _("campaign %(id)s %(name)r") % {"id": campaign.pk, "name": campaign.name}


def refresh_stale(campaign: Campaign, current: Campaign) -> None:
    """Bring the caller's instance up to date with the row a service changed."""
    if campaign is not current:
        campaign.refresh_from_db()


def campaign_transition(
    *,
    campaign: Campaign,
    to: str,
    actor=None,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
    action: str = "",
    fields: Mapping[str, Any] | None = None,
) -> Campaign:
    """Move ``campaign`` from its status to ``to``, record it, and return the campaign.

    The move is a compare-and-swap on the status the instance holds, so a stale instance
    or a concurrent move raises :class:`CampaignTransitionError` instead of overwriting.
    ``fields`` are column updates made in the same UPDATE (e.g. ``approved_hash``,
    ``next_due_at``). Moving to draft clears the submission and approval hashes; moving
    to draft or a final state clears ``next_due_at``. ``action`` names the audit event
    (default: the table's name for the move).
    """
    frm = campaign.status
    if (frm, to) not in TRANSITIONS:
        targets = ", ".join(allowed_targets(frm)) or _("nowhere (final)")
        # The statuses are named by their ids (as the API reports them), the rest translated.
        raise CampaignTransitionError(
            _("%(campaign)s is %(status)s; it cannot move to %(to)s "
              "(from %(status)s it may move to: %(targets)s)")
            % {"campaign": describe(campaign), "status": frm, "to": to, "targets": targets}
        )
    action = action or TRANSITIONS[(frm, to)]
    updates: dict[str, Any] = {"status": to, "updated_at": timezone.now()}
    if to == S.DRAFT:
        updates.update(submitted_hash="", approved_hash="", next_due_at=None)
    elif to in FINAL_STATES:
        updates["next_due_at"] = None
    updates.update(fields or {})
    with transaction.atomic():
        changed = Campaign.objects.filter(pk=campaign.pk, status=frm).update(**updates)
        if not changed:
            now = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
            raise CampaignTransitionError(
                _("%(campaign)s is no longer %(status)s (it is %(now)s); %(action)s refused")
                % {"campaign": describe(campaign), "status": frm, "now": now or _("deleted"),
                   "action": action}
            )
        record_event(
            campaign=campaign,
            object_type="campaign",
            object_id=campaign.pk,
            action=action,
            from_state=frm,
            to_state=to,
            actor=actor,
            reason=reason,
            data=data,
        )
    for name, value in updates.items():
        setattr(campaign, name, value)
    return campaign
