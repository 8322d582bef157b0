"""Snapshot format 3: carry the live approvals of format 2 over, deliberately and audited.

Format 3 (``campaigns.snapshot``) binds a list of user ids by its kept multiset digest
(``campaigns.audiences.digest``) instead of sha256 of the sorted ids, so every hash of format 2
stops matching. Left alone, every approved campaign would be voided at its next occurrence;
re-hashing blindly would re-approve lists nobody approved. So, for each campaign whose hash is
live (approved or sending: ``approved_hash``; in review: ``submitted_hash``) and whose review
snapshot is of format 2:

* the stored snapshot must still hash to the review's hash (it is what was approved), and for
  a ``users`` audience the list's format-2 digest, recomputed here as format 2 computed it,
  must equal the approved one (the list did not change since);
* then the review's snapshot becomes format 3 (the list's count and kept digest instead of its
  sorted sha256), its hash, the campaign's hash and the previews of that content move to the
  new hash, and an audit event ``snapshot_upgraded`` records both hashes.

Anything else (a list changed since approval, a snapshot that no longer hashes to its hash) is
left as it is: the send engine refuses it and returns it to draft with the reason, as before.
Nothing else of the snapshot is re-derived: the engine still compares everything at every
occurrence. README, "What an approval binds".
"""

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import migrations

MASK = (1 << 62) - 1


def _canonical_hash(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


def _format2_members(connection, member, audience_id: int) -> dict:
    """The list's count and digest as format 2 computed them (campaigns.snapshot before 0013)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(member._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), encode(sha256(convert_to(coalesce(string_agg(external_id, "
                f"E'\\n' ORDER BY external_id), ''), 'UTF8')), 'hex') FROM {table} "
                "WHERE audience_id = %s AND suppressed = %s",
                [audience_id, False],
            )
            count, digest = cursor.fetchone()
        return {"count": count, "sha256": digest}
    ids = (
        member.objects.filter(audience_id=audience_id, suppressed=False)
        .order_by("external_id")
        .values_list("external_id", flat=True)
    )
    digest, count = hashlib.sha256(), 0
    for value in ids.iterator(chunk_size=5000):
        if count:
            digest.update(b"\n")
        digest.update(value.encode())
        count += 1
    return {"count": count, "sha256": digest.hexdigest()}


def _format3_members(digest_model, audience_id: int) -> dict:
    row = digest_model.objects.filter(audience_id=audience_id).first()
    lanes = (row.lane0, row.lane1, row.lane2, row.lane3) if row else (0, 0, 0, 0)
    return {"count": row.count if row else 0, "sum62x4": "".join(f"{lane:016x}" for lane in lanes)}


def carry_over(apps, schema_editor):
    from audit.services import record_event
    from campaigns.models import Campaign as LiveCampaign

    connection = schema_editor.connection
    campaign_model = apps.get_model("campaigns", "Campaign")
    review_model = apps.get_model("approvals", "Review")
    member = apps.get_model("campaigns", "AudienceMember")
    digest_model = apps.get_model("campaigns", "AudienceDigest")
    dispatch = apps.get_model("campaigns", "Dispatch")
    live = {"approved": ("approved", "approved_hash"), "sending": ("approved", "approved_hash"),
            "in_review": ("pending", "submitted_hash")}
    for campaign in campaign_model.objects.filter(status__in=list(live)).order_by("pk"):
        review_status, hash_field = live[campaign.status]
        old_hash = getattr(campaign, hash_field)
        review = (
            review_model.objects.filter(campaign_id=campaign.pk, status=review_status, content_hash=old_hash)
            .order_by("-pk")
            .first()
        )
        if review is None or not old_hash or (review.snapshot or {}).get("format") != 2:
            continue
        snapshot = review.snapshot
        if _canonical_hash(snapshot) != old_hash:
            continue  # not what was approved: left for the engine to refuse
        audience = snapshot.get("audience") or {}
        upgraded = {**snapshot, "format": 3}
        if "members" in audience:
            if _format2_members(connection, member, audience["id"]) != audience["members"]:
                continue  # the list changed since approval: left for the engine to refuse
            upgraded["audience"] = {**audience, "members": _format3_members(digest_model, audience["id"])}
        new_hash = _canonical_hash(upgraded)
        review_model.objects.filter(pk=review.pk).update(snapshot=upgraded, content_hash=new_hash)
        campaign_model.objects.filter(pk=campaign.pk, **{hash_field: old_hash}).update(**{hash_field: new_hash})
        dispatch.objects.filter(campaign_id=campaign.pk, content_hash=old_hash).update(content_hash=new_hash)
        record_event(
            campaign=LiveCampaign.objects.only("pk").get(pk=campaign.pk),
            object_type="review",
            object_id=review.pk,
            action="snapshot_upgraded",
            reason="snapshot format 2 -> 3: the list of user ids is bound by its kept digest; "
            "the approved content was verified unchanged and carried over",
            data={"from_format": 2, "to_format": 3, "old_hash": old_hash, "new_hash": new_hash},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0012_audience_member_digest"),
        ("approvals", "0009_translatable_names"),
        ("audit", "0004_translatable_names"),
    ]

    # Reversing keeps format 3: the audit trail says what was carried over, and format 2's
    # code is gone.
    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop)]
