"""Uploading recipients in a real browser: the preview tells the truth about a broken file.

A marketer uploads a CSV whose third row opens a quote it never closes (a spreadsheet
export gone wrong) and whose fourth row repeats an id. The preview refuses the broken row
and shows it as written, with the lines it took; the repeat is a row to check naming both
rows; nothing is written until the previewed file is imported. Screenshots of the report in
light and dark mode land in tests/screenshots/ (csv_upload_report_light/dark).
"""

from __future__ import annotations

import pytest

from campaigns.models import Recipient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

FILE = (
    "external_id,language,tags\n"
    "ada,en,vip\n"
    "bob,en,new\n"
    "ada,es,gold\n"  # ada again: the later row applies on top, and the report says so
    'cy,en,"gold\n'  # the quote never closes: it takes every line after it
    "dan,zh-CN,new\n"
)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_report_of_a_file_with_a_broken_quote_and_a_repeated_id_shows_both_as_written(
    page, login, live_server, screenshot, make_user, scheme
):
    make_user("marketer", "Marketing")
    page.emulate_media(color_scheme=scheme)
    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/recipient/upload/")
    page.set_input_files(
        "input[name=file]", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": FILE.encode()}]
    )
    page.click("input[name=_preview]")
    page.locator("#upload-preview").wait_for()

    # The broken quote: row 5 is refused with every line it took, shown as written.
    refused = page.locator("#upload-errors tr[data-row='5']")
    assert "the quote opened on line 5 is never closed" in refused.inner_text()
    assert "lines 5–6" in refused.inner_text()
    assert refused.locator("pre.raw").inner_text() == 'cy,en,"gold\ndan,zh-CN,new'
    assert page.locator("#upload-preview tr[data-row='5'] .badge-error").count() == 1
    assert page.locator("#upload-preview tr[data-row='5'] pre.raw").inner_text().startswith("cy,en")
    assert page.locator("#upload-preview tr[data-row='2'] .badge-ok").count() == 1

    # The repeated id: it would be imported (on top of row 2) but is named as a row to check.
    check = page.locator("#upload-warnings tr[data-row='4']")
    assert "'ada' is also on row 2; this row applies on top of the earlier one" in check.inner_text()
    assert "ada,es,gold" in check.inner_text()
    assert page.locator("#upload-preview tr[data-row='4'] .badge-warning").count() == 1
    assert not Recipient.objects.exists()  # a preview writes nothing
    screenshot(page, f"csv_upload_report_{scheme}")

    page.click("input[name=_import]")
    page.get_by_text("rows to check: 1").first.wait_for()
    assert dict(Recipient.objects.values_list("external_id", "language")) == {"ada": "es", "bob": "en"}
    assert Recipient.objects.get(external_id="ada").tags == ["gold"]
    screenshot(page, f"csv_upload_imported_{scheme}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_member_list_with_a_repeated_id_and_a_broken_quote_is_reported_before_anything_is_listed(
    page, login, live_server, screenshot, make_user, scheme
):
    from campaigns.audiences.services import audience_create
    from campaigns.models import AudienceMember

    make_user("marketer", "Marketing")
    audience = audience_create(actor=None, name="Beta testers", kind="users")
    page.emulate_media(color_scheme=scheme)
    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/audience/{audience.pk}/upload/")
    members = 'user_id\nu1\nu2\nu1\n"u3\nu4\n'
    page.set_input_files(
        "input[name=file]", files=[{"name": "ids.csv", "mimeType": "text/csv", "buffer": members.encode()}]
    )
    page.click("input[name=_preview]")
    page.locator("#upload-preview").wait_for()
    assert "'u1' is also on row 2; the id is listed once" in page.locator(
        "#upload-warnings tr[data-row='4']"
    ).inner_text()
    refused = page.locator("#upload-errors tr[data-row='5']")
    assert "never closed" in refused.inner_text() and refused.locator("pre.raw").inner_text() == '"u3\nu4'
    assert not AudienceMember.objects.exists()
    screenshot(page, f"csv_upload_members_{scheme}")
