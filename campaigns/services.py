"""Changes to a campaign's content: create, duplicate and edit, cancel, the checks before
submit (what every write must satisfy is ``campaigns.clean``), and the check that an
approval still matches the content.

Status moves go through ``campaigns.lifecycle.campaign_transition`` (the one transition
table), previews through ``campaigns.previews``.

An approval is bound to a content hash (``campaigns.snapshot``). An edit through
:func:`campaign_edit` of an approved campaign voids the approval and returns it to draft;
a change made elsewhere (the audience edited, the template version re-pinned, the account
moved) is caught by :func:`campaign_verify_approval` / :func:`campaign_void_if_changed`,
which the send engine and the admin call.

Reviews belong to ``approvals``, a layer above this one: voiding one is announced with the
signals of ``campaigns.signals`` (``approval_voided``, ``review_abandoned``), which
approvals receives; this module never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from audit.services import record_event
from campaigns import stored_text
from campaigns.clean import campaign_clean, merge_errors
from campaigns.lifecycle import (
    EDITABLE_STATES,
    TRANSITIONS_TO_CANCELLED,
    CampaignTransitionError,
    campaign_transition,
    describe,
    refresh_stale,
    require_perm,
)
from campaigns.models import Campaign, CampaignStatus, DispatchStatus
from campaigns.schedules.kinds import SCHEDULE_FIELDS, due_on_approval
from campaigns.schedules.limits import check_pending_limit, check_scheduled_audience
from campaigns.schedules.occurrences import next_occurrence
from campaigns.schedules.spec import ScheduleError, ScheduleSpec
from campaigns.schedules.validation import validate
from campaigns.sending.native import applies as native_applies
from campaigns.sending.native import native_cancel, native_errors
from campaigns.sending.transitions import dispatches_move
from campaigns.signals import review_abandon, reviewed_snapshot_voided
from campaigns.snapshot import campaign_hash, campaign_snapshot, snapshot_changes, snapshot_hash
from providers.base import Message
from templates_registry.selectors import current_version

S = CampaignStatus


EDITABLE_FIELDS: tuple[str, ...] = (
    "name",
    "template",
    "template_version",
    "provider_account",
    "audience",
    "language",
    "parameters",
    "path",
    "provider_options",
    "priority",
    "expired_seconds",
    "test_uids",
    *SCHEDULE_FIELDS,
)


def campaign_check_sendable(*, campaign: Campaign, now: datetime, message: Message | None = None) -> None:
    """Raise ValidationError unless ``campaign`` may be scheduled as it stands at ``now``.

    ``message``: the campaign's built message when the caller has it (it is then not built
    again for the option checks).

    Run on submit and on approve, inside the caller's transaction: the field rules
    (:func:`campaign_clean`, which checks the provider options too, keyed by field path,
    e.g. ``provider_options.PushStatus``), the schedule rules
    (``campaigns.schedules.validation.validate``), the pending-campaign limit per provider
    account and the mPaaS audience rule (``campaigns.schedules.limits``) and mPaaS native
    scheduling (``campaigns.sending.native``). Schedule errors are keyed by campaign field
    (``schedule_kind`` for the kind; ``schedule`` for a schedule that would never fire).
    """
    campaign_clean(campaign, message=message)
    errors: dict[str, list[str]] = {}
    try:
        schedule_errors = validate(ScheduleSpec.from_campaign(campaign), now=now)
    except ValidationError as exc:
        merge_errors(errors, exc)
    else:
        for field, messages in schedule_errors.items():
            errors.setdefault("schedule_kind" if field == "kind" else field, []).extend(messages)
    for check in (
        lambda: check_pending_limit(campaign=campaign, now=now),
        lambda: check_scheduled_audience(campaign=campaign),
    ):
        try:
            check()
        except ValidationError as exc:
            merge_errors(errors, exc)
    for field, messages in native_errors(campaign).items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def campaign_first_due(*, campaign: Campaign, now: datetime) -> datetime:
    """Return when the campaign is first due after ``now``: ``now`` itself for schedule "now".

    Raises ValidationError on ``schedule`` when the schedule has no occurrence left. A
    campaign scheduled natively by mPaaS (``campaigns.sending.native``) is due ``now``: its first
    dispatch hands the whole schedule to mPaaS (once it has an occurrence left).
    """
    if due_on_approval(campaign.schedule_kind):
        return now
    try:
        first = next_occurrence(ScheduleSpec.from_campaign(campaign), after=now)
    except ScheduleError as exc:
        raise ValidationError({"schedule": [str(exc)]}) from exc
    if first is None:
        raise ValidationError(
            {"schedule": [
                _("the %(kind)s schedule has no occurrence after %(now)s UTC; nothing would be sent")
                % {"kind": campaign.schedule_kind, "now": f"{now:%Y-%m-%d %H:%M:%S}"}
            ]}
        )
    if native_applies(campaign):
        return now
    return first


# --- create and edit -------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _unknown_fields(data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError(
            {name: [_("%(name)s is not a campaign field that can be set; settable: %(settable)s")
                    % {"name": name, "settable": ", ".join(EDITABLE_FIELDS)}]
             for name in unknown}
        )


def campaign_create(*, actor, data: Mapping[str, Any]) -> Campaign:
    """Create a draft campaign from ``data`` (field: value), pinned to the template's
    current version unless ``template_version`` is given, and record it."""
    require_perm(actor, "campaigns.add_campaign", "create campaigns")
    _unknown_fields(data)
    campaign = Campaign(created_by=actor, **data)
    if campaign.template_version_id is None and campaign.template_id:
        campaign.template_version = current_version(campaign.template)
    campaign_clean(campaign)
    with transaction.atomic():
        campaign.save(force_insert=True)
        record_event(
            campaign=campaign,
            object_type="campaign",
            object_id=campaign.pk,
            action="create",
            to_state=campaign.status,
            actor=actor,
            data={"fields": sorted(data)},
        )
    return campaign


def campaign_duplicate(*, campaign: Campaign, actor) -> Campaign:
    """Create a new draft with ``campaign``'s content (pinned to its template's current
    version, as any new campaign), named "Copy of …", and record where it came from.

    The copy is created through :func:`campaign_create`, so it needs the same permission
    and passes the same checks; nothing of the original's review, approval or sending
    (status, hashes, next due time, dispatches) is copied.
    """
    source = Campaign.objects.get(pk=campaign.pk)
    data = {field: getattr(source, field) for field in EDITABLE_FIELDS if field != "template_version"}
    name = gettext("Copy of %(name)s") % {"name": source.name}
    data["name"] = name[: Campaign._meta.get_field("name").max_length]
    with transaction.atomic():
        copy = campaign_create(actor=actor, data=data)
        record_event(
            campaign=copy,
            object_type="campaign",
            object_id=copy.pk,
            action="duplicate",
            to_state=copy.status,
            actor=actor,
            data={"source_campaign": source.pk},
        )
    return copy


def _same(current: Any, new: Any) -> bool:
    if isinstance(current, models.Model) or isinstance(new, models.Model):
        return getattr(current, "pk", current) == getattr(new, "pk", new)
    return current == new


def campaign_edit(*, campaign: Campaign, actor, changes: Mapping[str, Any]) -> Campaign:
    """Apply ``changes`` (field: value) to ``campaign`` and return it, in draft.

    Allowed in draft, in rejected (the campaign returns to draft) and in approved, where
    the edit voids the approval (the campaign returns to draft, its schedule stops, and
    the review is marked voided). A campaign in review must be withdrawn first. Changing
    the template pins the new template's current version. Values equal to the current
    ones are ignored; an edit that changes nothing leaves a draft or approved campaign
    untouched (and reopens a rejected one).
    """
    require_perm(actor, "campaigns.change_campaign", "edit campaigns")
    _unknown_fields(changes)
    with transaction.atomic():
        current = Campaign.objects.select_for_update().select_related("template").get(pk=campaign.pk)
        if current.status not in EDITABLE_STATES:
            if current.status == S.IN_REVIEW:
                refusal = _("%(campaign)s is %(status)s; campaigns can be edited only in draft, rejected "
                            "or approved (which voids the approval) (withdraw it from review first)")
            else:
                refusal = _("%(campaign)s is %(status)s; campaigns can be edited only in draft, rejected "
                            "or approved (which voids the approval)")
            raise CampaignTransitionError(refusal % {"campaign": describe(current), "status": current.status})
        changes = dict(changes)
        new_template = changes.get("template")
        if (
            new_template is not None
            and not _same(current.template, new_template)
            and "template_version" not in changes
        ):
            changes["template_version"] = current_version(new_template)
        diff = {name: value for name, value in changes.items() if not _same(getattr(current, name), value)}
        if not diff and current.status != S.REJECTED:
            return current
        before = {name: _json_value(getattr(current, name)) for name in diff}
        for name, value in diff.items():
            setattr(current, name, value)
        campaign_clean(current)
        voiding = current.status == S.APPROVED
        reason = stored_text.english(stored_text.EDITED, fields=", ".join(sorted(diff)) or "nothing")
        fields = dict(diff)
        if voiding:
            reason = stored_text.english(stored_text.APPROVAL_VOIDED, reason=reason)
            # Scheduled natively at mPaaS: cancel there first (raises, changing nothing, if
            # mPaaS does not confirm), so the voided content is not sent by mPaaS.
            if native_cancel(campaign=current, actor=actor, reason=reason):
                fields["native_task_ids"] = []
            reviewed_snapshot_voided(campaign=current, actor=actor, reason=reason)
        campaign_transition(
            campaign=current,
            to=S.DRAFT,
            actor=actor,
            reason=reason,
            action="edit",
            data={
                "changes": {
                    name: {"from": before[name], "to": _json_value(diff[name])} for name in sorted(diff)
                },
                "voided_approval": voiding,
            },
            fields=fields,
        )
    refresh_stale(campaign, current)
    return current


# --- cancel and the approval check -----------------------------------------------------


def campaign_cancel(*, campaign: Campaign, actor, reason: str = "") -> Campaign:
    """Cancel ``campaign`` before its last occurrence: nothing more is sent.

    Allowed from draft, in review (the review is withdrawn), rejected and approved
    (between occurrences of a recurring campaign too). Pending occurrences that were not
    started are cancelled with it. While an occurrence is sending, wait for it to end
    (or use the emergency stop).
    """
    require_perm(actor, "campaigns.cancel_campaign", "cancel campaigns")
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.status == S.IN_REVIEW:
            review_abandon(campaign=current, actor=actor, reason=reason or "campaign cancelled")
        fields = {}
        if current.status in TRANSITIONS_TO_CANCELLED and native_cancel(
            campaign=current, actor=actor, reason=reason or "campaign cancelled"
        ):
            fields["native_task_ids"] = []
        campaign_transition(
            campaign=current, to=S.CANCELLED, actor=actor, reason=reason, action="cancel", fields=fields
        )
        dispatches_move(
            (DispatchStatus.PENDING, DispatchStatus.HELD),  # occurrences not yet sent, held ones too
            DispatchStatus.CANCELLED,
            where={"campaign": current, "is_preview": False},
            detail=stored_text.CANCELLED,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    refresh_stale(campaign, current)
    return current


def fresh(campaign: Campaign, *, lock: bool = False) -> Campaign:
    """Return ``campaign`` as stored now, with what its snapshot reads (locked if asked)."""
    queryset = Campaign.objects.select_related(
        "template", "template_version", "provider_account", "audience"
    )
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.get(pk=campaign.pk)


def campaign_verify_approval(*, campaign: Campaign) -> bool:
    """Return True if ``campaign`` (as stored now) is approved and its content still
    hashes to the approved hash; False otherwise (a dispatch must not send then)."""
    current = fresh(campaign)
    if current.status not in (S.APPROVED, S.SENDING) or not current.approved_hash:
        return False
    return campaign_hash(current) == current.approved_hash


def campaign_void_if_changed(*, campaign: Campaign, actor=None) -> bool:
    """Void the approval (or the pending review) of ``campaign`` if its content changed.

    For an approved campaign the current hash is compared with ``approved_hash``, for one
    in review with ``submitted_hash``. On a mismatch the review is voided and the campaign
    returns to draft, with the parts that changed in the audit trail; return True. Return
    False when nothing was voided (unchanged, or a status with no approval to void).
    """
    with transaction.atomic():
        current = fresh(campaign, lock=True)
        if current.status == S.APPROVED:
            expected = current.approved_hash
        elif current.status == S.IN_REVIEW:
            expected = current.submitted_hash
        else:
            return False
        problem = ""
        try:
            snapshot = campaign_snapshot(current)
            actual = snapshot_hash(snapshot)
        except ValidationError as exc:
            snapshot, actual = {}, ""
            problem = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items()) if hasattr(
                exc, "error_dict"
            ) else " ".join(exc.messages)
        if actual == expected:
            return False
        cancelled_natively = native_cancel(campaign=current, actor=actor, reason=stored_text.CONTENT_CHANGED)
        reviewed = reviewed_snapshot_voided(campaign=current, actor=actor, reason=stored_text.CONTENT_CHANGED)
        changed = snapshot_changes(reviewed, snapshot) if reviewed is not None and snapshot else []
        if problem:
            reason = stored_text.english(stored_text.UNBUILDABLE, problem=problem)
        else:
            reason = stored_text.english(stored_text.CHANGED_SINCE, changed=", ".join(changed) or "content")
        campaign_transition(
            campaign=current,
            to=S.DRAFT,
            actor=actor,
            reason=reason,
            action="void",
            data={"changed": changed, "expected_hash": expected, "current_hash": actual},
            fields={"native_task_ids": []} if cancelled_natively else None,
        )
    refresh_stale(campaign, current)
    return True
