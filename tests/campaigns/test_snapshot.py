"""The approval snapshot binds the audience's definition: the same digest bytes on every
database, a listed member changes it, a living size does not."""

from __future__ import annotations

import hashlib

import pytest

from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.models import AudienceMember
from campaigns.snapshot import _digest, _member_digest, campaign_hash, campaign_snapshot
from tests.approvals.factories import make_account, make_campaign, make_template
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db

IDS = ["u-10", "U_2", "a.b", "u1", "Zed", "000", "u-1", "x_y-z.1"]


def test_the_member_digest_is_sha256_of_the_listed_ids_in_database_order_joined_by_newlines():
    audience = make_audience("users", user_ids=IDS, suppressed=["u1", "zz"])

    ordered = list(
        AudienceMember.objects.filter(audience=audience, suppressed=False)
        .order_by("external_id")
        .values_list("external_id", flat=True)
    )
    expected = (len(ordered), hashlib.sha256("\n".join(ordered).encode()).hexdigest())
    assert _member_digest(audience.pk) == expected
    assert _digest(iter(ordered)) == expected


def test_an_empty_list_digests_as_the_empty_string():
    audience = make_audience("users")

    assert _member_digest(audience.pk) == (0, hashlib.sha256(b"").hexdigest())


def _tagged(ids, actor, tag="vip"):
    rows = [
        {"external_id": x, "language": "en", "tags": [tag], "addresses": {"jiguang": f"j_{x}"}} for x in ids
    ]
    assert not recipients_bulk_upsert(rows=rows, actor=actor).errors


@pytest.fixture
def tag_campaign(marketer):
    _tagged(["a", "b", "c"], marketer)
    return make_campaign(
        marketer,
        template=make_template(),
        provider_account=make_account("jiguang"),
        audience=make_audience("tags", tags=["vip"]),
    )


def test_a_tag_audience_is_hashed_by_its_definition_not_by_who_carries_the_tag(tag_campaign, marketer):
    before = campaign_hash(tag_campaign)
    snapshot = campaign_snapshot(tag_campaign)["audience"]
    assert snapshot == {"id": tag_campaign.audience_id, "kind": "tags", "tags": ["vip"], "segment": ""}

    _tagged(["d", "e"], marketer)  # two more recipients carry the tag: the reach grew, the definition did not

    assert campaign_hash(tag_campaign) == before


def test_a_suppression_does_not_change_the_hash_but_a_listed_member_does(marketer):
    campaign = make_campaign(
        marketer, template=make_template(), audience=make_audience("users", user_ids=IDS)
    )
    before = campaign_hash(campaign)

    AudienceMember.objects.create(audience=campaign.audience, external_id="opted-out", suppressed=True)
    assert campaign_hash(campaign) == before

    AudienceMember.objects.create(audience=campaign.audience, external_id="newly-listed")
    assert campaign_hash(campaign) != before
    assert campaign_snapshot(campaign)["audience"]["members"]["count"] == len(IDS) + 1


def test_a_changed_tag_list_changes_the_hash(tag_campaign):
    before = campaign_hash(tag_campaign)
    type(tag_campaign.audience).objects.filter(pk=tag_campaign.audience_id).update(tags=["vip", "gold"])
    tag_campaign.audience.refresh_from_db()

    assert campaign_hash(tag_campaign) != before
