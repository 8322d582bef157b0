"""Admin pages for recipients and audiences: edit forms, CSV uploads with preview, counts."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.services import audience_create
from campaigns.models import Audience, AudienceMember, Recipient, RecipientTag

pytestmark = pytest.mark.django_db

RECIPIENT_UPLOAD = "/admin/campaigns/recipient/upload/"


@pytest.fixture
def browser(marketer):
    client = Client()
    client.force_login(marketer)
    return client


def token_of(response) -> str:
    return re.search(r'name="token" value="([0-9a-f]{32})"', response.content.decode()).group(1)


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")


# --- recipients ------------------------------------------------------------------------------


def test_the_recipient_list_links_to_the_csv_upload(browser):
    recipients_bulk_upsert(
        actor=None, rows=[{"external_id": "u1", "tags": ["vip"], "addresses": {"jiguang": "j"}}]
    )
    response = browser.get("/admin/campaigns/recipient/")
    assert response.status_code == 200
    assert RECIPIENT_UPLOAD in response.content.decode()
    assert browser.get("/admin/campaigns/recipient/", {"tag": "vip"}).context["cl"].result_count == 1


def test_a_recipient_csv_is_previewed_with_its_errors_then_the_same_file_imported(browser):
    data = (
        "external_id,language,tags,address_alipayplus\n"
        "u1,en,vip,token-abcd\nbad id,xx!,,\nu2,zh-cn,new;vip,\n"
    )
    response = browser.post(RECIPIENT_UPLOAD, {"file": csv_file(data), "_preview": "Preview"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "nothing written yet" in page
    assert "…abcd" in page and "token-abcd" not in page  # tokens are masked in the preview
    assert "&#x27;bad id&#x27;" in page or "'bad id'" in page
    assert response.context["report"].created == 2 and response.context["report"].invalid == 1
    assert not Recipient.objects.exists()

    response = browser.post(RECIPIENT_UPLOAD, {"token": token_of(response), "_import": "Import"})
    assert response.status_code == 200
    assert response.context["imported"] is True
    assert set(Recipient.objects.values_list("external_id", flat=True)) == {"u1", "u2"}
    assert Recipient.objects.get(external_id="u2").language == "zh-CN"
    assert RecipientTag.objects.filter(tag="vip").count() == 2


def test_a_staged_file_of_another_session_cannot_be_imported(browser, make_user):
    response = browser.post(RECIPIENT_UPLOAD, {"file": csv_file("external_id\nu1\n"), "_preview": "Preview"})
    token = token_of(response)
    other = Client()
    other.force_login(make_user("marketer2", "Marketing"))
    response = other.post(RECIPIENT_UPLOAD, {"token": token, "_import": "Import"})
    assert "no longer available" in response.content.decode()
    assert not Recipient.objects.exists()


def test_a_csv_with_a_bad_header_is_refused_with_the_reason(browser):
    response = browser.post(RECIPIENT_UPLOAD, {"file": csv_file("email\nx@y\n"), "_import": "Import"})
    assert "no external_id column" in response.content.decode()
    assert not Recipient.objects.exists()


def test_reviewers_cannot_upload_recipients(reviewer):
    client = Client()
    client.force_login(reviewer)
    assert client.get(RECIPIENT_UPLOAD).status_code == 403


def test_the_recipient_form_saves_through_the_services_and_checks_the_rules(browser):
    response = browser.post(
        "/admin/campaigns/recipient/add/",
        {"external_id": "u1", "language": "en", "tags_text": "vip, new", "address_jiguang": "jg1"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    recipient = Recipient.objects.get(external_id="u1")
    assert recipient.addresses == {"jiguang": "jg1"}
    assert set(recipient.tag_rows.values_list("tag", flat=True)) == {"vip", "new"}

    response = browser.post(
        f"/admin/campaigns/recipient/{recipient.pk}/change/",
        {"language": "es", "tags_text": "vip, not ok", "address_jiguang": "jg1"},
    )
    assert response.status_code == 200
    assert "not ok" in str(response.context["adminform"].form.errors["tags_text"])

    response = browser.post(
        f"/admin/campaigns/recipient/{recipient.pk}/change/",
        {
            "language": "es",
            "tags_text": "vip",
            "address_alipayplus": "secret-token-wxyz",
            "remove_addresses": ["jiguang"],
        },
    )
    assert response.status_code == 302
    recipient.refresh_from_db()
    assert recipient.addresses == {"alipayplus": "secret-token-wxyz"}
    assert (recipient.language, recipient.tags) == ("es", ["vip"])
    page = browser.get(f"/admin/campaigns/recipient/{recipient.pk}/change/").content.decode()
    assert "…wxyz" in page and "secret-token" not in page


# --- audiences --------------------------------------------------------------------------------


def test_the_audience_list_counts_members_in_one_query_whatever_the_number_of_audiences(
    browser, django_assert_max_num_queries
):
    audience_create(actor=None, name="A0", kind="users", user_ids=["u1", "u2"], suppressed_ids=["u2"])
    browser.get("/admin/campaigns/audience/")  # warm the session and content types
    with django_assert_max_num_queries(12) as one:
        response = browser.get("/admin/campaigns/audience/")
    assert "A0" in response.content.decode()
    for i in range(1, 6):
        audience_create(actor=None, name=f"A{i}", kind="users", user_ids=[f"x{i}"])
    with django_assert_max_num_queries(len(one.captured_queries)):
        browser.get("/admin/campaigns/audience/")


def test_the_audience_change_page_shows_the_size_and_first_ids(browser):
    recipients_bulk_upsert(actor=None,
        rows=[{"external_id": "u1", "addresses": {"alipayplus": "t"}}, {"external_id": "u2"}]
    )
    audience = audience_create(
        actor=None, name="Beta", kind="users", user_ids=["u1", "u2", "u3"], suppressed_ids=["u3"]
    )
    page = browser.get(f"/admin/campaigns/audience/{audience.pk}/change/").content.decode()
    assert "2 (after suppression)" in page
    assert "1 with an address" in page
    assert "u1, u2, u3" in page
    assert f"/admin/campaigns/audience/{audience.pk}/upload/" in page


def test_the_audience_form_checks_kind_tags_and_segment_by_field(browser):
    response = browser.post(
        "/admin/campaigns/audience/add/", {"name": "Seg", "kind": "segment", "segment": "a,b"}
    )
    assert response.status_code == 200
    assert "segment" in response.context["adminform"].form.errors
    response = browser.post(
        "/admin/campaigns/audience/add/", {"name": "VIP", "kind": "tags", "tags_text": "vip, gold"}
    )
    assert response.status_code == 302
    assert Audience.objects.get(name="VIP").tags == ["vip", "gold"]


def test_member_ids_are_previewed_then_imported_into_the_chosen_list(browser):
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=["old"])
    url = f"/admin/campaigns/audience/{audience.pk}/upload/"
    response = browser.post(
        url,
        {
            "file": csv_file("user_id\nu1\nbad id\nu2\n"),
            "target": "members",
            "replace": "on",
            "_preview": "Preview",
        },
    )
    report = response.context["report"]
    assert (report.created, report.removed, report.invalid) == (2, 1, 1)
    assert set(AudienceMember.objects.values_list("external_id", flat=True)) == {"old"}

    response = browser.post(
        url, {"token": token_of(response), "target": "members", "replace": "on", "_import": "Import"}
    )
    assert response.context["imported"] is True
    assert set(AudienceMember.objects.filter(suppressed=False).values_list("external_id", flat=True)) == {
        "u1",
        "u2",
    }

    browser.post(url, {"file": csv_file("u2\n"), "target": "suppressed", "_import": "Import"})
    assert list(AudienceMember.objects.filter(suppressed=True).values_list("external_id", flat=True)) == [
        "u2"
    ]


# --- view-only staff -------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["Reviewers", "Operators"])
def test_view_only_staff_see_a_recipient_and_an_audience_read_only(make_user, group):
    recipients_bulk_upsert(
        actor=None,
        rows=[{"external_id": "u1", "tags": ["vip"], "addresses": {"alipayplus": "t", "jiguang": "j"}}],
    )
    audience = audience_create(actor=None, name="Beta", kind="tags", tags=["vip"])
    client = Client()
    client.force_login(make_user("viewer", group))
    recipient = Recipient.objects.get(external_id="u1")
    for url in (
        f"/admin/campaigns/recipient/{recipient.pk}/change/",
        f"/admin/campaigns/audience/{audience.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert 'name="_save"' not in page, url
        assert "<input" not in re.sub(r'<input type="hidden"[^>]*>', "", page.split('id="content"')[1]), url
    recipient_page = client.get(f"/admin/campaigns/recipient/{recipient.pk}/change/").content.decode()
    assert "vip" in recipient_page
    assert "jiguang: j" in recipient_page
    assert "alipayplus: t" not in recipient_page  # an address that is a credential stays hidden
    assert "vip" in client.get(f"/admin/campaigns/audience/{audience.pk}/change/").content.decode()


# --- the upload report tells the truth ------------------------------------------------------


def test_the_preview_shows_broken_rows_as_written_and_repeated_ids_as_rows_to_check(browser):
    data = (
        "external_id,tags\n"
        "u1,vip\n"
        'u2,"new\n'  # the quote is never closed: it takes the rest of the file
        "<b>u3</b>,gold\n"
    )
    response = browser.post(RECIPIENT_UPLOAD, {"file": csv_file(data), "_preview": "Preview"})
    page = response.content.decode()
    report = response.context["report"]
    assert (report.created, report.invalid) == (1, 1)
    assert [item["number"] for item in response.context["preview_rows"]] == [2, 3]
    broken = response.context["preview_rows"][1]
    assert broken["raw"] == 'u2,"new\n<b>u3</b>,gold' and broken["lines"] == (3, 4)
    assert "the quote opened on line 3 is never closed" in broken["errors"][0]
    assert "&lt;b&gt;u3&lt;/b&gt;,gold" in page and "<b>u3</b>" not in page  # escaped, shown
    assert "lines 3–4" in page
    assert not Recipient.objects.exists()

    data = "external_id,tags\nu1,vip\nu1,gold\n"
    response = browser.post(RECIPIENT_UPLOAD, {"file": csv_file(data), "_preview": "Preview"})
    rows = response.context["preview_rows"]
    assert rows[0]["warnings"] == [] and rows[1]["warnings"] == [
        "'u1' is also on row 2; this row applies on top of the earlier one"
    ]
    page = response.content.decode()
    assert 'id="upload-warnings"' in page and "Rows to check" in page
    assert not Recipient.objects.exists()
    response = browser.post(RECIPIENT_UPLOAD, {"token": token_of(response), "_import": "Import"})
    assert Recipient.objects.get(external_id="u1").tags == ["gold"]
    messages = [str(m) for m in response.context["messages"]]
    assert (
        "Imported recipients. Created: 1; updated: 1; rows refused: 0; rows to check: 1." in messages
    )


def test_the_member_preview_reports_a_repeated_id_instead_of_ok_twice(browser):
    audience = audience_create(actor=None, name="Beta", kind="users")
    url = f"/admin/campaigns/audience/{audience.pk}/upload/"
    response = browser.post(
        url, {"file": csv_file("user_id\nu1\nu2\nu1\n"), "target": "members", "_preview": "Preview"}
    )
    rows = response.context["preview_rows"]
    assert [(r["number"], r["cells"], r["warnings"]) for r in rows] == [
        (2, ["u1"], []),
        (3, ["u2"], []),
        (4, ["u1"], ["'u1' is also on row 2; the id is listed once"]),
    ]
    report = response.context["report"]
    assert (report.created, report.updated, report.warning_count) == (2, 1, 1)
    assert not AudienceMember.objects.exists()
