"""The membership digest of a users audience is never stale: after every kind of write — the
services, the API, the admin upload, Django deletes and cascades, queryset updates, raw SQL —
the digest the triggers kept equals a full recomputation from the rows
(campaigns/audiences/digest.py)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from campaigns.audiences.digest import (
    MemberDigest,
    digest_drift,
    digest_of,
    member_digest,
    member_digest_recomputed,
    member_lanes,
)
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.services import (
    audience_create,
    audience_import_members,
    audience_size,
    audience_update,
)
from campaigns.models import Audience, AudienceDigest, AudienceMember

pytestmark = pytest.mark.django_db


def listed(audience: Audience) -> set[str]:
    return set(
        AudienceMember.objects.filter(audience=audience, suppressed=False).values_list(
            "external_id", flat=True
        )
    )


def assert_fresh(audience: Audience, expected: set[str]) -> None:
    """The kept digest is the recomputed one, and both are the digest of ``expected``."""
    assert listed(audience) == expected
    assert member_digest(audience.pk) == member_digest_recomputed(audience.pk) == digest_of(expected)
    assert list(digest_drift()) == []


def test_the_digest_is_the_lane_sum_of_sha256_words_and_ignores_order():
    words = member_lanes("u1")
    assert all(0 <= w < 2**62 for w in words) and len(words) == 4
    assert digest_of(["a", "b", "c"]) == digest_of(["c", "a", "b"])
    assert digest_of(["a", "b"]) != digest_of(["a", "c"])
    assert digest_of([]) == MemberDigest(0)
    assert len(digest_of(["a"]).hexdigest) == 64


def test_every_service_write_keeps_the_digest(marketer):
    audience = audience_create(actor=marketer, name="A", kind="users", user_ids=["u1", "u2", "u3"])
    assert_fresh(audience, {"u1", "u2", "u3"})

    audience_import_members(audience=audience, external_ids=["u3", "u4", "u4", "u5"], actor=marketer)
    assert_fresh(audience, {"u1", "u2", "u3", "u4", "u5"})

    # A dry run writes nothing; suppressions are not listed ids.
    audience_import_members(audience=audience, external_ids=["z1"], actor=marketer, dry_run=True)
    audience_import_members(audience=audience, external_ids=["u1", "s9"], actor=marketer, suppressed=True)
    assert_fresh(audience, {"u1", "u2", "u3", "u4", "u5"})

    # A replacing import, in batches smaller than the list (rows kept move, others go).
    audience_import_members(
        audience=audience, external_ids=["u5", "u6", "u2", "u7"], actor=marketer, replace=True, batch_size=2
    )
    assert_fresh(audience, {"u5", "u6", "u2", "u7"})

    audience_update(audience=audience, user_ids=["u7", "u8"], suppressed_ids=["u8"], actor=marketer)
    assert_fresh(audience, {"u7", "u8"})

    audience_update(audience=audience, user_ids=[], actor=marketer)
    assert_fresh(audience, set())
    assert member_digest(audience.pk) == MemberDigest(0)


def test_orm_and_raw_sql_writes_keep_the_digest():
    audience = Audience.objects.create(name="B", kind="users")
    other = Audience.objects.create(name="C", kind="users")
    AudienceMember.objects.bulk_create(
        [AudienceMember(audience=audience, external_id=f"id{i}") for i in range(10)]
        + [AudienceMember(audience=other, external_id=f"id{i}") for i in range(3)]
    )
    assert_fresh(audience, {f"id{i}" for i in range(10)})

    AudienceMember.objects.create(audience=audience, external_id="single")
    AudienceMember.objects.filter(audience=audience, external_id__in=["id0", "id1"]).delete()
    AudienceMember.objects.get(audience=audience, external_id="id2").delete()
    expected = {f"id{i}" for i in range(3, 10)} | {"single"}
    assert_fresh(audience, expected)

    # Updates: listed -> suppressed, renamed, moved to another audience (both digests change).
    AudienceMember.objects.filter(audience=audience, external_id="id3").update(suppressed=True)
    AudienceMember.objects.filter(audience=audience, external_id="id4").update(external_id="id4b")
    AudienceMember.objects.filter(audience=audience, external_id="id5").update(audience=other)
    AudienceMember.objects.filter(audience=audience, external_id="id3").update(suppressed=False)
    expected = (expected - {"id4", "id5"}) | {"id4b"}
    assert_fresh(audience, expected)
    assert_fresh(other, {"id0", "id1", "id2", "id5"})

    table = AudienceMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (audience_id, external_id, suppressed) VALUES (%s, %s, %s), (%s, %s, %s)",
            [audience.pk, "raw1", False, audience.pk, "raw2", True],
        )
        cursor.execute(
            f"DELETE FROM {table} WHERE audience_id = %s AND external_id = %s", [audience.pk, "id6"]
        )
        cursor.execute(
            f"UPDATE {table} SET external_id = external_id || 'x' WHERE audience_id = %s", [other.pk]
        )
    assert_fresh(audience, (expected - {"id6"}) | {"raw1"})
    assert_fresh(other, {"id0x", "id1x", "id2x", "id5x"})

    # Deleting an audience deletes its members and its digest; the other list is untouched.
    audience.delete()
    assert not AudienceDigest.objects.filter(audience_id=audience.pk).exists()
    assert_fresh(other, {"id0x", "id1x", "id2x", "id5x"})


def test_api_and_admin_writes_keep_the_digest(marketer):
    api = APIClient()
    api.force_authenticate(marketer)
    response = api.post(
        "/api/v1/audiences/", {"name": "D", "kind": "users", "user_ids": ["a1", "a2"]}, format="json"
    )
    assert response.status_code == 201, response.data
    audience = Audience.objects.get(pk=response.data["id"])
    assert_fresh(audience, {"a1", "a2"})

    url = f"/api/v1/audiences/{audience.pk}/members/"
    assert api.post(url, "user_id\na3\n", content_type="text/csv").status_code == 200
    assert_fresh(audience, {"a1", "a2", "a3"})
    response = api.post(f"{url}?replace=true", json.dumps(["a3", "a4"]), content_type="application/json")
    assert response.status_code == 200
    assert_fresh(audience, {"a3", "a4"})
    response = api.patch(f"/api/v1/audiences/{audience.pk}/", {"user_ids": ["a9"]}, format="json")
    assert response.status_code == 200, response.data
    assert_fresh(audience, {"a9"})

    browser = Client()
    browser.force_login(marketer)
    upload = f"/admin/campaigns/audience/{audience.pk}/upload/"
    csv = SimpleUploadedFile("ids.csv", b"user_id\nb1\nb2\n", content_type="text/csv")
    response = browser.post(upload, {"file": csv, "target": "members", "_import": "Import"})
    assert response.status_code == 200
    assert_fresh(audience, {"a9", "b1", "b2"})
    csv = SimpleUploadedFile("ids.csv", b"b2\n", content_type="text/csv")
    browser.post(upload, {"file": csv, "target": "members", "replace": "on", "_import": "Import"})
    assert_fresh(audience, {"b2"})


def test_the_check_command_reports_drift_and_repairs_it_when_asked(capsys):
    audience = Audience.objects.create(name="E", kind="users")
    AudienceMember.objects.bulk_create([AudienceMember(audience=audience, external_id=x) for x in "xyz"])
    call_command("check_audience_digests")
    assert "0 audiences drifted" in capsys.readouterr().out

    AudienceDigest.objects.filter(audience=audience).update(count=7)  # as a bypassed trigger would
    with pytest.raises(SystemExit):
        call_command("check_audience_digests")
    assert f"audience {audience.pk}" in capsys.readouterr().err

    call_command("check_audience_digests", "--repair")
    assert member_digest(audience.pk) == digest_of("xyz")
    assert list(digest_drift()) == []


def test_the_check_command_reports_stale_address_kinds_and_repairs_them(capsys):
    from campaigns.audiences.address_kinds import kinds_drift
    from campaigns.models import Recipient, RecipientTag

    recipient = Recipient.objects.create(external_id="k1", addresses={"alipayplus": "tok"})
    RecipientTag.objects.create(recipient=recipient, tag="vip")
    call_command("check_audience_digests")
    assert "0 tag rows with stale address kinds" in capsys.readouterr().out

    RecipientTag.objects.update(address_kinds=",jiguang,")  # as a bypassed trigger would
    with pytest.raises(SystemExit):
        call_command("check_audience_digests")
    assert "kept address kinds ',jiguang,'" in capsys.readouterr().err

    call_command("check_audience_digests", "--repair")
    assert "1 tag rows with stale address kinds (repaired)" in capsys.readouterr().out
    assert list(kinds_drift()) == []
    assert RecipientTag.objects.get().address_kinds == ",alipayplus,"


def test_reach_counts_equal_a_count_of_the_rows_with_suppressions_and_several_tags(marketer):
    rows = [
        {"external_id": f"r{i}", "language": "en", "tags": tags, "addresses": {"alipayplus": f"tok{i}"}}
        for i, tags in enumerate([["vip"], ["vip"], ["vip", "gold"], ["gold"], ["other"]], start=1)
    ]
    assert not recipients_bulk_upsert(rows=rows, actor=marketer).errors
    users = audience_create(
        actor=marketer, name="U", kind="users", user_ids=["u1", "u2", "u3", "r1"],
        suppressed_ids=["u2", "r1", "zz"],
    )
    one = audience_create(actor=marketer, name="T1", kind="tags", tags=["vip"], suppressed_ids=["r2", "zz"])
    two = audience_create(actor=marketer, name="T2", kind="tags", tags=["vip", "gold"], suppressed_ids=["r1"])

    assert audience_size(users, provider_kind="jiguang") == 2  # u1, u3
    assert audience_size(users, provider_kind="alipayplus") == 0  # only r1 has a token, and it is suppressed
    assert audience_size(one, provider_kind="jiguang") == 2  # r1, r3
    assert audience_size(two, provider_kind="jiguang") == 3  # r2, r3 (once), r4
    assert audience_size(two, provider_kind="alipayplus") == 3


def test_the_reach_of_a_list_is_read_from_its_kept_count_not_by_counting_its_rows(marketer):
    audience = audience_create(
        actor=marketer, name="K", kind="users", user_ids=["a", "b"], suppressed_ids=["b"]
    )
    AudienceDigest.objects.filter(audience=audience).update(count=1000)  # what the triggers would keep

    assert audience_size(audience, provider_kind="jiguang") == 999
