"""The REST API under /api/v1/recipients/ and /api/v1/audiences/."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.services import audience_create
from campaigns.models import Audience, AudienceMember, Recipient, RecipientTag

pytestmark = pytest.mark.django_db

RECIPIENTS = "/api/v1/recipients/"
AUDIENCES = "/api/v1/audiences/"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_marketer(api, marketer):
    api.force_authenticate(marketer)
    return api


@pytest.fixture
def as_reviewer(api, reviewer):
    api.force_authenticate(reviewer)
    return api


def seed(*rows):
    assert recipients_bulk_upsert(actor=None, rows=list(rows)).invalid == 0


# --- recipients --------------------------------------------------------------------------


def test_marketer_creates_a_recipient_and_the_token_is_masked_in_the_answer(as_marketer):
    body = {
        "external_id": "u1",
        "language": "zh-cn",
        "tags": ["vip"],
        "addresses": {"alipayplus": "secret-token-abcd", "jiguang": "jg1"},
    }
    response = as_marketer.post(RECIPIENTS, body, format="json")
    assert response.status_code == 201, response.data
    assert response.data["language"] == "zh-CN"
    assert response.data["addresses"] == {"alipayplus": "…abcd", "jiguang": "jg1"}
    assert Recipient.objects.get(external_id="u1").addresses["alipayplus"] == "secret-token-abcd"
    assert RecipientTag.objects.filter(recipient__external_id="u1", tag="vip").exists()


def test_invalid_recipient_fields_answer_400_by_field(as_marketer):
    response = as_marketer.post(
        RECIPIENTS, {"external_id": "bad id", "tags": ["x y"], "addresses": {"fax": "1"}}, format="json"
    )
    assert response.status_code == 400
    assert set(response.data) == {"external_id", "tags", "addresses"}
    assert "'bad id'" in response.data["external_id"][0]


def test_recipients_are_filtered_by_tag_and_external_id(as_reviewer):
    seed(
        {"external_id": "u1", "tags": ["vip"]},
        {"external_id": "u2", "tags": ["new"]},
        {"external_id": "u3", "tags": ["vip", "new"]},
    )
    response = as_reviewer.get(RECIPIENTS, {"tag": "vip"})
    assert [r["external_id"] for r in response.data["results"]] == ["u1", "u3"]
    response = as_reviewer.get(RECIPIENTS, {"external_id": "u2"})
    assert [r["external_id"] for r in response.data["results"]] == ["u2"]


def test_patch_replaces_tags_merges_addresses_and_refuses_a_new_external_id(as_marketer):
    seed({"external_id": "u1", "tags": ["a"], "addresses": {"jiguang": "j"}})
    pk = Recipient.objects.get().pk
    response = as_marketer.patch(
        f"{RECIPIENTS}{pk}/", {"tags": ["b"], "addresses": {"alipayplus": "tok1"}}, format="json"
    )
    assert response.status_code == 200, response.data
    assert response.data["tags"] == ["b"]
    assert Recipient.objects.get().addresses == {"jiguang": "j", "alipayplus": "tok1"}
    response = as_marketer.patch(f"{RECIPIENTS}{pk}/", {"external_id": "u2"}, format="json")
    assert response.status_code == 400 and "cannot change" in response.data["external_id"][0]


def test_bulk_json_upserts_and_reports_bad_rows(as_marketer):
    seed({"external_id": "u1"})
    rows = [
        {"external_id": "u1", "language": "es"},
        {"external_id": "u2", "tags": ["vip"], "addresses": {"jiguang": "j2"}},
        {"external_id": "bad id"},
    ]
    response = as_marketer.post(f"{RECIPIENTS}bulk/", json.dumps(rows), content_type="application/json")
    assert response.status_code == 200, response.data
    assert (response.data["created"], response.data["updated"]) == (1, 1)
    assert response.data["errors"] == [
        {"row": 3, "field": "external_id", "message": response.data["errors"][0]["message"]}
    ]
    assert Recipient.objects.get(external_id="u1").language == "es"


def test_bulk_csv_and_json_lines_are_accepted(as_marketer):
    csv_body = "external_id,tags,address_alipayplus\nu1,vip;new,tok\nu2,,\n"
    response = as_marketer.post(f"{RECIPIENTS}bulk/", csv_body, content_type="text/csv; charset=utf-8")
    assert response.status_code == 200, response.data
    assert response.data["created"] == 2
    assert Recipient.objects.get(external_id="u1").tags == ["vip", "new"]
    lines = '{"external_id": "u3"}\n{"external_id": "u4"}\n'
    response = as_marketer.post(f"{RECIPIENTS}bulk/", lines, content_type="application/x-ndjson")
    assert response.data["created"] == 2


def test_bulk_with_a_bad_csv_header_or_content_type_is_a_400_and_writes_nothing(as_marketer):
    response = as_marketer.post(f"{RECIPIENTS}bulk/", "id,email\n1,x\n", content_type="text/csv")
    assert response.status_code == 400 and "file" in response.data
    response = as_marketer.post(f"{RECIPIENTS}bulk/", "<xml/>", content_type="application/xml")
    assert response.status_code == 400 and "content_type" in response.data
    assert not Recipient.objects.exists()


def test_bulk_dry_run_writes_nothing(as_marketer):
    response = as_marketer.post(
        f"{RECIPIENTS}bulk/?dry_run=true",
        json.dumps([{"external_id": "u1"}]),
        content_type="application/json",
    )
    assert response.data["created"] == 1 and response.data["dry_run"] is True
    assert not Recipient.objects.exists()


def test_staff_without_marketing_rights_read_but_cannot_write(as_reviewer):
    assert as_reviewer.get(RECIPIENTS).status_code == 200
    assert as_reviewer.post(RECIPIENTS, {"external_id": "u1"}, format="json").status_code == 403
    assert as_reviewer.post(f"{RECIPIENTS}bulk/", "[]", content_type="application/json").status_code == 403
    assert as_reviewer.post(AUDIENCES, {"name": "x", "kind": "all"}, format="json").status_code == 403


def test_anonymous_and_non_staff_users_are_refused(api, django_user_model):
    assert api.get(RECIPIENTS).status_code in (401, 403)
    api.force_authenticate(django_user_model.objects.create_user("outsider"))
    assert api.get(AUDIENCES).status_code == 403


# --- audiences ---------------------------------------------------------------------------


def test_marketer_creates_a_users_audience_and_sees_counts_and_size_not_the_ids(as_marketer):
    body = {"name": "Beta", "kind": "users", "user_ids": ["u1", "u2", "u3"], "suppressed_ids": ["u3"]}
    response = as_marketer.post(AUDIENCES, body, format="json")
    assert response.status_code == 201, response.data
    data = response.data
    assert (data["member_count"], data["suppressed_count"], data["size"]) == (3, 1, 2)
    assert "user_ids" not in data
    listing = as_marketer.get(AUDIENCES).data["results"]
    assert listing[0]["member_count"] == 3 and "size" not in listing[0]


def test_audience_size_for_a_provider_and_unknown_sizes_are_null(as_marketer):
    seed({"external_id": "u1", "addresses": {"alipayplus": "t"}}, {"external_id": "u2"})
    everyone = audience_create(actor=None, name="All", kind="all")
    segment = audience_create(actor=None, name="Seg", kind="segment", segment="s-1")
    assert as_marketer.get(f"{AUDIENCES}{everyone.pk}/").data["size"] == 2
    response = as_marketer.get(f"{AUDIENCES}{everyone.pk}/", {"provider_kind": "alipayplus"})
    assert response.data["size"] == 1
    assert as_marketer.get(f"{AUDIENCES}{segment.pk}/").data["size"] is None
    assert as_marketer.get(f"{AUDIENCES}{everyone.pk}/", {"provider_kind": "fax"}).status_code == 400


def test_invalid_audiences_answer_400_by_field_and_write_nothing(as_marketer):
    response = as_marketer.post(
        AUDIENCES, {"name": "Seg", "kind": "segment", "segment": ["a", "b"], "tags": ["vip"]}, format="json"
    )
    assert response.status_code == 400
    assert set(response.data) == {"segment", "tags"}
    response = as_marketer.post(
        AUDIENCES, {"name": "Beta", "kind": "users", "user_ids": ["ok", "bad id"]}, format="json"
    )
    assert response.status_code == 400 and response.data["user_ids"][0].startswith("row 2:")
    assert not Audience.objects.exists()


def test_patch_changes_tags_and_replaces_the_suppression_list(as_marketer):
    audience = audience_create(actor=None, name="VIP", kind="tags", tags=["vip"], suppressed_ids=["x"])
    response = as_marketer.patch(
        f"{AUDIENCES}{audience.pk}/", {"tags": ["vip", "gold"], "suppressed_ids": ["y", "z"]}, format="json"
    )
    assert response.status_code == 200, response.data
    assert response.data["tags"] == ["vip", "gold"] and response.data["suppressed_count"] == 2


def test_members_are_listed_page_by_page_and_streamed_in_as_csv_or_json(as_marketer):
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=["u1"])
    url = f"{AUDIENCES}{audience.pk}/members/"
    response = as_marketer.post(url, "user_id\nu2\nbad id\nu3\n", content_type="text/csv")
    assert response.status_code == 200, response.data
    assert (response.data["created"], response.data["invalid"]) == (2, 1)
    # The row as a spreadsheet numbers it (the header is row 1), with its lines and raw text.
    assert response.data["errors"][0] == {
        "row": 3,
        "field": "external_id",
        "message": response.data["errors"][0]["message"],
        "lines": [3, 3],
        "raw": "bad id",
    }
    response = as_marketer.post(
        f"{url}?replace=true", json.dumps(["u3", "u4"]), content_type="application/json"
    )
    assert (response.data["created"], response.data["updated"], response.data["removed"]) == (1, 1, 2)
    response = as_marketer.post(f"{url}?suppressed=true", json.dumps(["u4"]), content_type="application/json")
    assert response.data["created"] == 1
    listed = as_marketer.get(url).data
    assert [m["external_id"] for m in listed["results"]] == ["u3", "u4"] and listed["count"] == 2
    suppressed = as_marketer.get(url, {"suppressed": "true"}).data["results"]
    assert suppressed == [{"external_id": "u4", "suppressed": True}]
    assert AudienceMember.objects.filter(audience=audience).count() == 3


def test_the_schema_describes_the_recipient_and_audience_endpoints(as_reviewer):
    response = as_reviewer.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert {"/api/v1/recipients/", "/api/v1/recipients/bulk/", "/api/v1/audiences/{id}/members/"} <= set(
        paths
    )


def test_a_method_the_api_does_not_offer_is_405_not_403(as_marketer):
    seed({"external_id": "u1"})
    recipient = Recipient.objects.get()
    audience = as_marketer.post(AUDIENCES, {"name": "x", "kind": "all"}, format="json").data

    assert as_marketer.delete(f"{RECIPIENTS}{recipient.pk}/").status_code == 405
    assert as_marketer.delete(f"{AUDIENCES}{audience['id']}/").status_code == 405
    assert as_marketer.put(f"{RECIPIENTS}bulk/", [], format="json").status_code == 405
    assert Recipient.objects.filter(external_id="u1").exists()
