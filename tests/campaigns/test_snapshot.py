"""The approval snapshot binds the audience's definition: a list by its kept digest (the same
on every database, read from one row), a listed member changes it, a living size does not."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.audiences.digest import digest_of
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.models import AudienceMember
from campaigns.snapshot import SNAPSHOT_FORMAT, campaign_hash, campaign_snapshot
from tests.approvals.factories import make_account, make_campaign, make_template
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db

IDS = ["u-10", "U_2", "a.b", "u1", "Zed", "000", "u-1", "x_y-z.1"]


def test_a_users_audience_is_bound_by_the_kept_count_and_multiset_digest_of_its_listed_ids(marketer):
    campaign = make_campaign(
        marketer,
        template=make_template(),
        audience=make_audience("users", user_ids=IDS, suppressed=["u1", "zz"]),
    )

    members = campaign_snapshot(campaign)["audience"]["members"]
    assert campaign_snapshot(campaign)["format"] == SNAPSHOT_FORMAT == 3
    assert members == {"count": len(IDS), "sum62x4": digest_of(reversed(IDS)).hexdigest}


def test_hashing_a_list_reads_its_digest_row_not_its_members(marketer):
    campaign = make_campaign(
        marketer, template=make_template(), audience=make_audience("users", user_ids=IDS)
    )
    with CaptureQueriesContext(connection) as queries:
        campaign_snapshot(campaign)
    member_table = AudienceMember._meta.db_table
    assert not [q["sql"] for q in queries.captured_queries if member_table in q["sql"]]


def test_an_empty_list_has_the_zero_digest(marketer):
    campaign = make_campaign(marketer, template=make_template(), audience=make_audience("users"))

    assert campaign_snapshot(campaign)["audience"]["members"] == {"count": 0, "sum62x4": "0" * 64}


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
