"""Held occurrences: a reviewer confirms the new reach (the occurrence is sent) or cancels it.

The send engine holds an occurrence whose reach is above its campaign's bound
(``campaigns.sending.reach``): nothing is sent and the campaign stays approved for its later
occurrences. Confirming is an approval of the new reach, so the approval's rules apply
(:func:`confirm_refusal`, the one place deciding who may):

1. the user holds ``campaigns.approve_campaign`` (a reviewer);
2. the dispatch is held and its campaign approved (or sending another occurrence);
3. four eyes: not the campaign's creator, nor whoever edited or submitted it since its last
   approval (``approvals.rules.approval_blockers``);
4. the approval rules: the approvers of the campaign's approved review together with this
   reviewer must satisfy every rule whose reach threshold the new reach meets
   (``approvals.rules.reach_ceiling``), e.g. a member of ``Compliance`` once the reach
   passes the rule's threshold.

:func:`dispatch_confirm` then records the confirmed reach as the campaign's
``approved_reach``, recomputes its ``reach_limit`` (``approvals.reach``), moves the dispatch
``held -> pending`` and wakes a worker, which counts the reach again and sends it (held
again if it grew further meanwhile). :func:`dispatch_cancel` (same rules 1-3) moves it
``held -> cancelled``. Both are compare-and-swaps recorded in the audit trail with the
actor, the old and the new reach; both raise :class:`HoldConflict` (HTTP 409) when the
dispatch is no longer held. A held occurrence nobody confirmed before its expiry is
recorded ``expired`` (by the watchdog, or here when a confirmation comes too late).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.models import Review, ReviewStatus
from approvals.reach import reach_limit, review_approvers
from approvals.rules import (
    APPROVE_PERM,
    ROLE_LABELS,
    Refusal,
    RefusalKind,
    approval_blockers,
    requirement_for,
)
from audit.services import record_event
from campaigns import stored_text
from campaigns.lifecycle import describe, permission_text
from campaigns.models import Campaign, CampaignStatus, Dispatch, DispatchStatus
from campaigns.sending.finish import campaign_settle
from campaigns.sending.reach import held_expire_one, held_expiry
from campaigns.sending.transitions import dispatch_move
from campaigns.sending.wake import enqueue_dispatch

# A held occurrence is confirmed while its campaign still stands approved.
CONFIRMABLE_CAMPAIGN = (CampaignStatus.APPROVED, CampaignStatus.SENDING)


class HoldConflict(Exception):
    """The dispatch is not (or no longer) held, or its expiry passed (HTTP 409)."""

    conflict = True


def _approved_review(campaign: Campaign) -> Review | None:
    return campaign.reviews.filter(status=ReviewStatus.APPROVED).order_by("-decided_at", "-id").first()


def _who_refusal(*, dispatch: Dispatch, user, doing: str, done: str) -> Refusal | None:
    """Rules 1 and 3 (a reviewer, four eyes) and the dispatch's own state, for both actions
    (``doing``/``done``: "confirm"/"confirmed" or "cancel"/"cancelled", translated)."""
    campaign = dispatch.campaign
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE_PERM):
        doing_text = _("%(doing)s held occurrences") % {"doing": doing}
        return Refusal(RefusalKind.NOT_A_REVIEWER, permission_text(user, APPROVE_PERM, doing_text))
    if dispatch.is_preview or dispatch.status != DispatchStatus.HELD:
        return Refusal(
            RefusalKind.WRONG_STATE,
            _("dispatch %(id)s of %(campaign)s is %(status)s; only a held occurrence can be %(done)s")
            % {"id": dispatch.pk, "campaign": describe(campaign), "status": dispatch.status, "done": done},
        )
    roles = approval_blockers(campaign=campaign, review=_approved_review(campaign)).get(user.pk)
    if roles:
        return Refusal(
            RefusalKind.OWN_CAMPAIGN,
            _(
                "four-eyes rule: %(user)r %(roles)s %(campaign)s and may not %(doing)s its held "
                "occurrence; another reviewer must"
            )
            % {
                "user": user.get_username(),
                "roles": _(" and ").join(str(ROLE_LABELS.get(role, role)) for role in roles),
                "campaign": describe(campaign),
                "doing": doing,
            },
        )
    return None


def _rule_refusal(*, dispatch: Dispatch, user, approvers: list) -> Refusal | None:
    """Rule 4: the approvers with ``user`` must satisfy the rules the new reach meets."""
    campaign, reach = dispatch.campaign, dispatch.reach
    limit = reach_limit(campaign, reach=reach, approvers=approvers)
    if limit is None or reach is None or reach <= limit:
        return None
    requirement = requirement_for(campaign, reach=reach)
    groups = ", ".join(group.name for group in requirement.groups)
    return Refusal(
        RefusalKind.NOT_A_REVIEWER,
        _(
            "this occurrence reaches %(reach)s recipients, where the approval rules %(rules)s apply "
            "(%(n)s approvals%(groups)s); the campaign's approvers with %(user)r do not satisfy them: "
            "a reviewer who does must confirm"
        )
        % {
            "reach": reach,
            "rules": ", ".join(repr(rule.name) for rule in requirement.rules),
            "n": requirement.approvals_required,
            "groups": (_(", among them a member of %(groups)s") % {"groups": groups}) if groups else "",
            "user": user.get_username(),
        },
    )


def confirm_refusal(*, dispatch: Dispatch, user) -> Refusal | None:
    """Return why ``user`` may not confirm the held ``dispatch`` now, or None if they may
    (the admin shows the Confirm button on None)."""
    refusal = _who_refusal(dispatch=dispatch, user=user, doing=_("confirm"), done=_("confirmed"))
    if refusal is not None:
        return refusal
    campaign = dispatch.campaign
    if campaign.status not in CONFIRMABLE_CAMPAIGN:
        return Refusal(
            RefusalKind.WRONG_STATE,
            _(
                "%(campaign)s is %(status)s; a held occurrence is confirmed only while its campaign "
                "is approved"
            )
            % {"campaign": describe(campaign), "status": campaign.status},
        )
    approvers = [*review_approvers(_approved_review(campaign)), user]
    return _rule_refusal(dispatch=dispatch, user=user, approvers=approvers)


def cancel_refusal(*, dispatch: Dispatch, user) -> Refusal | None:
    """Return why ``user`` may not cancel the held ``dispatch`` now, or None if they may."""
    return _who_refusal(dispatch=dispatch, user=user, doing=_("cancel"), done=_("cancelled"))


def _locked(dispatch: Dispatch) -> Dispatch:
    """The dispatch as stored now, with its campaign locked (and what the rules read)."""
    campaign = (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("provider_account", "audience")
        .get(pk=dispatch.campaign_id)
    )
    current = Dispatch.objects.get(pk=dispatch.pk)
    current.campaign = campaign
    return current


def _not_held(dispatch: Dispatch) -> HoldConflict:
    return HoldConflict(
        _("dispatch %(id)s is no longer held; someone else decided it first") % {"id": dispatch.pk}
    )


def _expired_error(dispatch: Dispatch) -> HoldConflict:
    return HoldConflict(
        _(
            "dispatch %(id)s was held until its expiry at %(expiry)s UTC, which has passed; it is recorded "
            "expired and will not be sent"
        )
        % {"id": dispatch.pk, "expiry": f"{held_expiry(dispatch):%Y-%m-%d %H:%M:%S}"}
    )


def _confirm(dispatch: Dispatch, actor) -> None:
    campaign = dispatch.campaign
    approvers = [*review_approvers(_approved_review(campaign)), actor]
    limit = reach_limit(campaign, reach=dispatch.reach, approvers=approvers)
    detail = stored_text.english(
        stored_text.REACH_CONFIRMED,
        reach=dispatch.reach,
        user=actor.get_username(),
        limit=limit,
    )
    now = timezone.now()
    if not dispatch_move(
        dispatch.pk, DispatchStatus.HELD, DispatchStatus.PENDING, detail=detail, updated_at=now
    ):
        raise _not_held(dispatch)
    Campaign.objects.filter(pk=campaign.pk).update(approved_reach=dispatch.reach, reach_limit=limit)
    record_event(
        campaign=campaign,
        object_type="dispatch",
        object_id=dispatch.pk,
        action="confirm",
        from_state=DispatchStatus.HELD,
        to_state=DispatchStatus.PENDING,
        actor=actor,
        reason=detail,
        data={
            "due_at": dispatch.due_at,
            "approved_reach": {"from": campaign.approved_reach, "to": dispatch.reach},
            "reach_limit": {"from": campaign.reach_limit, "to": limit},
            "approvers": [user.get_username() for user in approvers],
        },
    )
    campaign.approved_reach, campaign.reach_limit = dispatch.reach, limit
    enqueue_dispatch(dispatch.pk)


def dispatch_confirm(*, dispatch: Dispatch, actor) -> Dispatch:
    """Confirm a held occurrence's reach as ``actor`` and send it; return the dispatch.

    Raises PermissionDenied (403) for who ``actor`` is, HoldConflict or
    CampaignTransitionError (409) when the dispatch or its campaign is not in a state to
    confirm, or when its expiry passed (it is then recorded expired).
    """
    with transaction.atomic():
        current = _locked(dispatch)
        refusal = confirm_refusal(dispatch=current, user=actor)
        if refusal is not None:
            raise refusal.error()
        expired = timezone.now() > held_expiry(current)
        if not expired:
            _confirm(current, actor)
    if expired:
        held_expire_one(current, now=timezone.now())
        raise _expired_error(current)
    current.refresh_from_db()
    return current


def dispatch_cancel(*, dispatch: Dispatch, actor, reason: str = "") -> Dispatch:
    """Cancel a held occurrence as ``actor`` (nothing is sent); return the dispatch.

    Raises PermissionDenied (403) for who ``actor`` is, HoldConflict (409) when the
    dispatch is not held.
    """
    reason = (reason or "").strip()
    with transaction.atomic():
        current = _locked(dispatch)
        refusal = cancel_refusal(dispatch=current, user=actor)
        if refusal is not None:
            raise refusal.error()
        detail = stored_text.english(stored_text.HELD_CANCELLED_BY, user=actor.get_username())
        if reason:
            detail = stored_text.english(
                stored_text.HELD_CANCELLED_BY_BECAUSE, user=actor.get_username(), reason=reason
            )
        now = timezone.now()
        if not dispatch_move(
            current.pk,
            DispatchStatus.HELD,
            DispatchStatus.CANCELLED,
            detail=detail[:2000],
            finished_at=now,
            updated_at=now,
        ):
            raise _not_held(current)
        record_event(
            campaign=current.campaign,
            object_type="dispatch",
            object_id=current.pk,
            action="cancel",
            from_state=DispatchStatus.HELD,
            to_state=DispatchStatus.CANCELLED,
            actor=actor,
            reason=reason,
            data={
                "due_at": current.due_at,
                "reach": current.reach,
                "approved_reach": current.campaign.approved_reach,
                "reach_limit": current.campaign.reach_limit,
            },
        )
    campaign_settle(current.campaign, ended=stored_text.HELD_CANCELLED_ENDED)
    current.refresh_from_db()
    return current
