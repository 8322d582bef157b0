"""Previews: a campaign as it stands, sent to its test uids before approval.

A preview is a Dispatch like any other, so the send engine (``campaigns.sending``) sends
it; the campaign core does not import the engine (it builds on the core). It hands the
dispatch over through the queue instead, by the stable task name the engine's own
dispatches use (``campaigns.tasks.run_dispatch``, see docs/queue-and-http.md), once the
transaction that created the dispatch commits.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import record_event
from campaigns.clean import campaign_clean
from campaigns.lifecycle import PREVIEWABLE_STATES, CampaignTransitionError, describe, require_perm
from campaigns.models import Campaign, Dispatch
from campaigns.services import fresh
from campaigns.snapshot import campaign_snapshot, snapshot_hash


def start_preview(dispatch_id: int) -> None:
    """Queue the preview ``dispatch_id`` for a worker once the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("campaigns.tasks.run_dispatch", dispatch_id, task_name=f"dispatch-{dispatch_id}")
    )


def _test_uids(campaign: Campaign) -> list[str]:
    """Return the test uids a preview of ``campaign`` goes to; ValidationError if none."""
    uids = [str(uid) for uid in campaign.test_uids or []]
    if not uids:
        raise ValidationError(
            {"test_uids": [_("test_uids is empty; a preview goes to 1 to 5 test users listed there")]}
        )
    return uids


def _check_provider_previews(campaign: Campaign, uids: list[str]) -> None:
    """Raise ValidationError unless the campaign's provider previews to ``uids``."""
    kind = campaign.provider_account.kind
    most = campaign.provider_account.provider().limits.test_uids
    if most < 1:
        raise ValidationError(
            {"test_uids": [_("provider %(kind)r has no preview audience; send a preview through "
                             "another account, or review the rendered text on the review page")
                           % {"kind": kind}]}
        )
    if len(uids) > most:
        raise ValidationError(
            {"test_uids": [_("test_uids has %(count)s ids; provider %(kind)r previews to at most %(most)s")
                           % {"count": len(uids), "kind": kind, "most": most}]}
        )


def campaign_preview(*, campaign: Campaign, actor) -> Dispatch:
    """Send the campaign as it stands to its test uids (at most five), before approval.

    Creates a preview Dispatch due now, bound to the current content hash (a review counts
    only previews of the content it reviews), records it, and hands it to a worker once
    the transaction commits. Return the dispatch.
    """
    if actor is None or not (
        actor.has_perm("campaigns.change_campaign") or actor.has_perm("campaigns.approve_campaign")
    ):
        require_perm(actor, "campaigns.change_campaign", "send previews")
    with transaction.atomic():
        current = fresh(campaign, lock=True)
        if current.status not in PREVIEWABLE_STATES:
            raise CampaignTransitionError(
                _("%(campaign)s is %(status)s; previews are sent only before approval (in %(states)s)")
                % {"campaign": describe(current), "status": current.status,
                   "states": ", ".join(sorted(PREVIEWABLE_STATES))}
            )
        uids = _test_uids(current)
        campaign_clean(current)
        _check_provider_previews(current, uids)
        content_hash = snapshot_hash(campaign_snapshot(current))  # raises the field errors
        due_at = timezone.now().replace(microsecond=0)
        try:
            with transaction.atomic():
                dispatch = Dispatch.objects.create(
                    campaign=current, due_at=due_at, is_preview=True, content_hash=content_hash
                )
        except IntegrityError:
            raise CampaignTransitionError(
                _("a preview of %(campaign)s was started at %(time)s UTC; "
                  "wait a second before sending another")
                % {"campaign": describe(current), "time": f"{due_at:%H:%M:%S}"}
            ) from None
        record_event(
            campaign=current,
            object_type="dispatch",
            object_id=dispatch.pk,
            action="preview",
            to_state=dispatch.status,
            actor=actor,
            data={"test_uids": uids, "content_hash": content_hash},
        )
        start_preview(dispatch.pk)
    return dispatch
