"""The recipient CSV header check is linear and capped: a huge header is a 400, never a stall."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from campaigns.audiences.parsing import MAX_CSV_COLUMNS, parse_csv
from campaigns.models import Recipient

pytestmark = pytest.mark.django_db

HUGE = 200_000
# 1.4 MB: the header of the report in issue 15, then one row.
REFUSAL = f"the header has 200,000 columns; at most {MAX_CSV_COLUMNS} are accepted"
HUGE_CSV = ",".join(["external_id", *(f"c{i}" for i in range(HUGE - 1))]) + "\nu1\n"


def test_a_header_over_the_column_cap_is_refused_with_the_count_and_the_rule():
    with pytest.raises(ValidationError) as exc:
        next(parse_csv(io.StringIO(HUGE_CSV)))
    assert exc.value.message_dict == {"file": [REFUSAL]}


def test_a_header_at_the_cap_is_checked_column_by_column():
    header = ["external_id", *(f"x{i}" for i in range(MAX_CSV_COLUMNS - 1))]
    with pytest.raises(ValidationError) as exc:
        next(parse_csv(io.StringIO(",".join(header) + "\n")))
    messages = exc.value.message_dict["file"]
    assert len(messages) == MAX_CSV_COLUMNS - 1 and "column 'x0' is not known" in messages[0]


def test_duplicate_columns_are_named_once_each():
    with pytest.raises(ValidationError) as exc:
        next(parse_csv(io.StringIO("external_id,tags,TAGS,language, language,language\n")))
    assert exc.value.message_dict["file"] == ["column(s) language, tags appear more than once in the header"]


def test_long_column_names_are_quoted_shortened_in_the_errors():
    with pytest.raises(ValidationError) as exc:
        next(parse_csv(io.StringIO("y" * 100_000 + "\n")))
    messages = exc.value.message_dict["file"]
    assert all(len(message) < 300 for message in messages)
    assert "'" + "y" * 39 + "…'" in messages[0]


def test_the_api_answers_400_for_a_huge_header_and_stores_nothing(marketer):
    api = APIClient()
    api.force_authenticate(marketer)
    response = api.post("/api/v1/recipients/bulk/", HUGE_CSV, content_type="text/csv")
    assert response.status_code == 400
    assert response.data == {"file": [REFUSAL]}
    assert not Recipient.objects.exists()
    assert api.get("/api/v1/recipients/").status_code == 200


@pytest.mark.parametrize("button", ["_preview", "_import"])
def test_the_admin_upload_refuses_a_huge_header_with_the_reason_and_stores_nothing(marketer, button):
    client = Client()
    client.force_login(marketer)
    upload = SimpleUploadedFile("people.csv", HUGE_CSV.encode(), content_type="text/csv")
    response = client.post("/admin/campaigns/recipient/upload/", {"file": upload, button: "x"})
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert not Recipient.objects.exists()
    assert client.get("/admin/campaigns/recipient/").status_code == 200
