"""What changed since a campaign was last approved (else last reviewed): the review diff.

When a campaign comes back to review after an approval or a rejection, reviewers should
not have to re-read everything. :func:`campaign_review_diff` compares the content now
under review — the open review's snapshot, the approved review's for an approved
campaign, or for a draft the campaign as it stands (``campaigns.snapshot.campaign_snapshot``)
— with the snapshot of the last review that was approved, else the last one a reviewer
decided on, field by field:

* the message text per language, title and body, as a word diff (``ops``: equal, delete
  and insert runs that rebuild both texts; ``removed`` and ``added``: the words alone);
* the schedule, the audience definition and the provider options, key by key (before → after);
* the other bound inputs (template version, parameters, language, expiry, priority, path,
  provider account, test uids);
* the reach: the earlier review's reach → the reach now (approved as a bound, not hashed:
  docs/architecture.md, "Life cycle of a campaign").

The result is plain JSON data: the API returns it as is, and the review page renders the
word runs with ``<ins>``/``<del>``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from django.core.exceptions import ValidationError

from approvals.models import Review, ReviewStatus
from audit.models import AuditEvent
from campaigns.audiences.services import audience_size
from campaigns.models import Campaign, CampaignStatus
from campaigns.snapshot import campaign_snapshot

WORDS = re.compile(r"\S+|\s+")
# Parts of the snapshot shown in sections of their own, or derived from them: the request
# bodies are built from the message and the options, so their changes are shown there.
SECTIONS = ("messages", "schedule", "audience", "provider_options")
NOT_COMPARED = {"format", "campaign", "requests", *SECTIONS}
# The audience's size is reach, shown as reach; it is not part of the definition.
AUDIENCE_NOT_COMPARED = {"size"}
SENT_STATES = (CampaignStatus.APPROVED, CampaignStatus.SENDING)


def word_diff(before: str, after: str) -> dict[str, Any]:
    """Return the word diff of two texts: ``ops`` (runs of ``equal``, ``delete`` and
    ``insert`` text that rebuild both), and the ``removed`` and ``added`` words."""
    old, new = WORDS.findall(before or ""), WORDS.findall(after or "")
    ops: list[dict[str, str]] = []
    removed: list[str] = []
    added: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append({"op": "equal", "text": "".join(old[i1:i2])})
            continue
        if i2 > i1:
            ops.append({"op": "delete", "text": "".join(old[i1:i2])})
            removed.extend(word for word in old[i1:i2] if not word.isspace())
        if j2 > j1:
            ops.append({"op": "insert", "text": "".join(new[j1:j2])})
            added.extend(word for word in new[j1:j2] if not word.isspace())
    return {"changed": before != after, "ops": ops, "removed": removed, "added": added}


def _messages(before: list[dict], after: list[dict]) -> list[dict[str, Any]]:
    """Return, per language present before or after, its title and body word diffs (changed only)."""
    old = {m.get("language"): m for m in before or []}
    new = {m.get("language"): m for m in after or []}
    languages = [lang for lang in new if lang in old] + [lang for lang in new if lang not in old]
    languages += [lang for lang in old if lang not in new]
    rows = []
    for language in languages:
        a, b = old.get(language), new.get(language)
        title = word_diff((a or {}).get("title", ""), (b or {}).get("title", ""))
        body = word_diff((a or {}).get("body", ""), (b or {}).get("body", ""))
        if not (title["changed"] or body["changed"]):
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        rows.append({"language": language, "change": change, "title": title, "body": body})
    return rows


def _fields(before: dict | None, after: dict | None, *, skip: set[str] = frozenset()) -> list[dict[str, Any]]:
    """Return ``{"field", "before", "after"}`` for each key whose value differs, in key order."""
    before, after = before or {}, after or {}
    keys = sorted((set(before) | set(after)) - set(skip))
    return [
        {"field": key, "before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    ]


def snapshot_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Return the field-by-field differences between two approval snapshots (reach aside)."""
    return {
        "messages": _messages(before.get("messages", []), after.get("messages", [])),
        "schedule": _fields(before.get("schedule"), after.get("schedule")),
        "audience": _fields(before.get("audience"), after.get("audience"), skip=AUDIENCE_NOT_COMPARED),
        "provider_options": _fields(before.get("provider_options"), after.get("provider_options")),
        "other": _fields(before, after, skip=NOT_COMPARED),
    }


def _ever_approved(campaign: Campaign) -> set[str]:
    """Return the ids (as text) of the campaign's reviews that were approved at some point
    (a review voided by an edit after its approval keeps its approval in the audit trail)."""
    events = AuditEvent.objects.filter(
        campaign=campaign, object_type="review", to_state=ReviewStatus.APPROVED
    ).values_list("object_id", flat=True)
    return set(events)


def _under_review(campaign: Campaign) -> Review | None:
    """Return the review whose snapshot is the content now under review (None: a draft)."""
    if campaign.status == CampaignStatus.IN_REVIEW:
        wanted = ReviewStatus.PENDING
    elif campaign.status in SENT_STATES:
        wanted = ReviewStatus.APPROVED
    else:
        return None
    return campaign.reviews.filter(status=wanted).order_by("-submitted_at", "-id").first()


def diff_base(*, campaign: Campaign, exclude: Review | None = None) -> tuple[Review, str] | None:
    """Return the review to compare with and how it ended (``"approved"`` or ``"reviewed"``):
    the last approved review, else the last one a reviewer decided on; None if none."""
    earlier = campaign.reviews.order_by("-submitted_at", "-id").select_related("submitted_by")
    if exclude is not None:
        earlier = earlier.exclude(pk=exclude.pk).filter(submitted_at__lte=exclude.submitted_at)
    approved = _ever_approved(campaign)
    reviews = list(earlier)
    found = next((r for r in reviews if str(r.pk) in approved), None)
    if found is not None:
        return found, "approved"
    decided = next((r for r in reviews if r.decisions.exists()), None)
    return (decided, "reviewed") if decided is not None else None


def campaign_review_diff(*, campaign: Campaign) -> dict[str, Any] | None:
    """Return what changed in ``campaign`` since its last approved (else last reviewed)
    snapshot, or None when it was never approved nor decided on before.

    ``base`` and ``current`` say what is compared (``current.review`` is None for a draft
    compared as it stands); ``errors`` holds the field errors of a draft whose message
    cannot be built (nothing else is compared then); ``changed`` is False when nothing
    differs, reach included.
    """
    current = _under_review(campaign)
    base = diff_base(campaign=campaign, exclude=current)
    if base is None:
        return None
    review, ended = base
    errors: dict[str, list[str]] = {}
    if current is not None:
        snapshot, reach = current.snapshot, current.reach
    else:
        try:
            snapshot = campaign_snapshot(campaign)
        except ValidationError as exc:
            snapshot = {}
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"campaign": exc.messages}
        reach = audience_size(campaign.audience, provider_kind=campaign.provider_account.kind)
    parts = snapshot_diff(review.snapshot, snapshot) if not errors else snapshot_diff({}, {})
    reach_part = {"before": review.reach, "after": reach, "changed": review.reach != reach}
    changed = any(parts[name] for name in parts) or reach_part["changed"]
    return {
        "base": {
            "review": review.pk,
            "ended": ended,
            "status": review.status,
            "submitted_by": review.submitted_by.get_username(),
            "submitted_at": review.submitted_at.isoformat(),
        },
        "current": {
            "review": current.pk if current is not None else None,
            "status": campaign.status,
        },
        "changed": changed,
        "errors": errors,
        **parts,
        "reach": reach_part,
    }
