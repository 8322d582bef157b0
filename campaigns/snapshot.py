"""The approval snapshot: everything that decides what users receive, and its hash.

A review approves a hash, not a row: :func:`campaign_hash` is sha256 over the canonical
JSON of :func:`campaign_snapshot`, computed on submit, stored on the review, recorded on
approval (``Campaign.approved_hash``) and recomputed by the send engine before every
occurrence. Any change to an input below gives another hash, so the approval no longer
matches and nothing is sent until the campaign is approved again.

The snapshot covers:

* the pinned template version, its provider reference and the rendered text per language;
* the language and the parameters;
* the provider account (id, kind, base URL, app id, settings; never credentials) and the
  business fields of the provider requests we will send (``Provider.payload`` of
  ``campaigns.provider_options.send_message`` with a placeholder idempotency key, since
  keys differ per request and occurrence, and a placeholder for the approving reviewer
  where a Jiguang channel with API review names them as ``option.owner``), one per
  request variant (mPaaS: one per DeliveryType);
* the audience *definition*: kind, tags, segment and, for a ``users`` audience, the count
  and digest of its listed member ids (the list is authored content, so changing it needs a
  new approval). The digest is kept by the database on every member write
  (``campaigns.audiences.digest``): hashing a list of a million ids reads one row. Not the
  audience's living size, its suppression list, nor who carries a tag today: the reach
  (recipients the campaign can reach through its provider) is approved as a bound instead
  (``Campaign.reach_limit``), counted at every occurrence by the send engine, which holds
  an occurrence above the bound for a reviewer (README, "What an approval binds");
* the schedule and its time zone, the expiry, priority, path, provider options and the
  test uids.

Names (of the campaign, audience and account) are left out: renaming changes nothing a
user receives unless a provider sends it, in which case it is in the request body.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from campaigns.audiences.digest import member_digest
from campaigns.models import AudienceKind, Campaign
from campaigns.provider_options import send_message
from providers.base import Batch, Message, Provider, ProviderError, Target

# 2: the audience is hashed by its definition, not its size (docs/architecture.md).
# 3: a list of user ids is hashed by its maintained multiset digest, not a sorted rescan
#    (campaigns/audiences/digest.py; approvals of format 2 are carried over by migration
#    campaigns.0013 when their list is unchanged, README "What an approval binds").
SNAPSHOT_FORMAT = 3
# Stands in for requestId / Msgkey / sendno, which differ per request and occurrence.
KEY_PLACEHOLDER = "<per-request>"
RECIPIENT_PLACEHOLDER = Target(external_id="<recipient>", address="<address>")


def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    )


def _audience(campaign: Campaign) -> dict[str, Any]:
    """The audience's definition (see the module docstring): what a reviewer decides, not
    how many it reaches today."""
    audience = campaign.audience
    definition: dict[str, Any] = {
        "id": audience.pk,
        "kind": audience.kind,
        "tags": sorted(str(tag) for tag in audience.tags or []),
        "segment": audience.segment,
    }
    if audience.kind == AudienceKind.USERS:
        definition["members"] = member_digest(audience.pk).as_data()
    return definition


def _request_batches(campaign: Campaign, provider: Provider) -> list[Batch]:
    """Return one batch per distinct request body an occurrence sends (as the engine plans)."""
    audience = campaign.audience
    limits = provider.limits
    if audience.kind == AudienceKind.ALL and limits.broadcast:
        # One request per variant (mPaaS: one per DeliveryType), as the engine plans them.
        options = campaign.provider_options if isinstance(campaign.provider_options, dict) else {}
        return [Batch(key=KEY_PLACEHOLDER, params=params) for params in provider.request_variants(options)]
    if audience.kind == AudienceKind.SEGMENT:
        if limits.segments_per_request < 1:
            raise ValidationError(
                {"audience": [_("audience %(name)r is a provider segment; provider %(kind)r "
                                "cannot send to segments") % {"name": audience.name, "kind": provider.kind}]}
            )
        return [Batch(key=KEY_PLACEHOLDER, segment=audience.segment)]
    if audience.kind == AudienceKind.TAGS and limits.tags_per_request > 0:
        tags = list(audience.tags or [])
        step = limits.tags_per_request
        return [
            Batch(key=KEY_PLACEHOLDER, tags=tuple(tags[start : start + step]))
            for start in range(0, len(tags), step)
        ]
    if limits.ids_per_request < 1:
        raise ValidationError(
            {"audience": [_("audience %(name)r is of kind %(audience_kind)r; provider %(kind)r "
                            "only broadcasts to everyone")
                          % {"name": audience.name, "audience_kind": audience.kind, "kind": provider.kind}]}
        )
    target = Target(RECIPIENT_PLACEHOLDER.external_id, RECIPIENT_PLACEHOLDER.address, campaign.language)
    return [Batch(key=KEY_PLACEHOLDER, targets=(target,))]


def _schedule(campaign: Campaign) -> dict[str, Any]:
    return {
        "kind": campaign.schedule_kind,
        "fixed_time": campaign.fixed_time.astimezone(UTC).isoformat() if campaign.fixed_time else None,
        "circle_type": campaign.circle_type,
        "circle_value": list(campaign.circle_value or []),
        "time": campaign.time.isoformat() if campaign.time else None,
        "start_date": campaign.start_date.isoformat() if campaign.start_date else None,
        "end_date": campaign.end_date.isoformat() if campaign.end_date else None,
        "cron": campaign.cron,
        "timezone": campaign.timezone,
    }


def campaign_snapshot(campaign: Campaign, *, message: Message | None = None) -> dict[str, Any]:
    """Return everything that decides what the campaign's users receive, as plain JSON data.

    ``message`` is the campaign's ``send_message`` when the caller built it already (a
    submission renders the message once, for the snapshot and the provider's checks).
    Raises ``ValidationError`` (with field errors) when the message cannot be built: no
    pinned template version, a missing parameter, a template not registered with the
    provider, or an audience the provider cannot address.
    """
    version = campaign.template_version
    message = message or send_message(campaign)
    provider = campaign.provider_account.provider()
    requests = []
    for batch in _request_batches(campaign, provider):
        try:
            requests.append(provider.payload(message, batch))
        except ProviderError as exc:
            raise ValidationError({exc.field or "provider_options": [str(exc)]}) from exc
    account = campaign.provider_account
    return {
        "format": SNAPSHOT_FORMAT,
        "campaign": campaign.pk,
        "template": {
            "id": campaign.template_id,
            "key": campaign.template.key,
            "version_id": version.pk,
            "version": version.number,
            "provider_ref": message.template_ref,
            "default_language": version.default_language,
        },
        "messages": [
            {"language": v.language, "title": v.title, "body": v.body} for v in message.variants
        ],
        "language": campaign.language,
        "parameters": dict(message.parameters),
        "provider_account": {
            "id": account.pk,
            "kind": account.kind,
            "base_url": account.base_url.rstrip("/"),
            "app_id": account.app_id,
            "settings": dict(account.settings or {}),
        },
        "requests": requests,
        "audience": _audience(campaign),
        "schedule": _schedule(campaign),
        "expired_seconds": campaign.expired_seconds,
        "priority": campaign.priority,
        "path": campaign.path,
        "provider_options": dict(campaign.provider_options or {}),
        "test_uids": [str(uid) for uid in campaign.test_uids or []],
    }


def snapshot_hash(snapshot: dict[str, Any]) -> str:
    """Return the sha256 (hex) of a snapshot's canonical JSON."""
    return hashlib.sha256(canonical_json(snapshot).encode()).hexdigest()


def campaign_hash(campaign: Campaign) -> str:
    """Return the content hash of the campaign as it would be sent now (see module docstring).

    When the message can no longer be built (say a parameter the pinned version needs is
    gone), return the hash of the errors instead: a value no approval can hold, so a
    dispatch comparing it with ``approved_hash`` refuses instead of crashing. Call
    :func:`campaign_snapshot` to get the errors themselves.
    """
    try:
        return snapshot_hash(campaign_snapshot(campaign))
    except ValidationError as exc:
        problems = exc.message_dict if hasattr(exc, "error_dict") else {"campaign": exc.messages}
        return snapshot_hash({"unbuildable": problems})


def snapshot_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Return the top-level parts that differ between two snapshots (for audit reasons)."""
    keys = sorted(set(before) | set(after))
    return [key for key in keys if canonical_json(before.get(key)) != canonical_json(after.get(key))]
