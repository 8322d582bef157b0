"""CSV uploads tell the truth: broken quoting, wrong cell counts, repeated ids and cells that
span lines are each reported with the row as a spreadsheet numbers it, the file lines and
the raw text, in bounded memory (campaigns/audiences/parsing.py, seen.py)."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest
from rest_framework.test import APIClient

from campaigns.audiences.parsing import (
    MAX_LINE_CHARS,
    RAW_LIMIT,
    MalformedRow,
    Record,
    parse_csv,
    parse_member_lines,
    raw_excerpt,
)
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.seen import FirstSeen
from campaigns.audiences.services import audience_create, audience_import_members
from campaigns.models import AudienceMember, Recipient

pytestmark = pytest.mark.django_db


def csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def ids() -> set[str]:
    return set(Recipient.objects.values_list("external_id", flat=True))


# --- broken quoting ------------------------------------------------------------------------


UNCLOSED = "external_id,tags\nu1,vip\nu2,\"new\nu3,vip\nu4,gold\n"


def test_a_quote_never_closed_refuses_its_row_with_every_line_it_took_instead_of_swallowing_them():
    rows = list(parse_csv(csv(UNCLOSED)))
    assert rows[0].value == {"external_id": "u1", "tags": ["vip"]}
    broken = rows[1]
    assert isinstance(broken, MalformedRow) and len(rows) == 2
    assert (broken.source.row, broken.source.first_line, broken.source.last_line) == (3, 3, 5)
    assert broken.source.raw == 'u2,"new\nu3,vip\nu4,gold'
    assert "the quote opened on line 3 is never closed" in broken.message
    assert "lines 3–5" in broken.message

    report = recipients_bulk_upsert(actor=None, rows=parse_csv(csv(UNCLOSED)))
    assert (report.created, report.invalid) == (1, 1)
    error = report.errors[0]
    assert (error.row, error.field, error.lines) == (3, "row", (3, 5))
    assert "u3,vip" in error.raw and "u4,gold" in error.raw
    assert ids() == {"u1"}  # u3 and u4 were not imported as part of u2's tags, nor silently


def test_text_after_a_closing_quote_refuses_that_row_and_reading_goes_on():
    data = 'external_id,tags\nu1,"vip"gold\nu2,"a ""quoted"" tag"\nu3,new\n'
    rows = list(parse_csv(csv(data)))
    assert isinstance(rows[0], MalformedRow)
    assert rows[0].source.raw == 'u1,"vip"gold' and rows[0].source.row == 2
    assert 'write a quote as two quotes ("")' in rows[0].message
    assert rows[1].value["tags"] == ['a "quoted" tag']  # a doubled quote is a quote
    assert rows[2].value == {"external_id": "u3", "tags": ["new"]}


def test_a_row_with_the_wrong_number_of_cells_is_reported_with_its_content():
    report = recipients_bulk_upsert(
        actor=None, rows=parse_csv(csv("external_id,language,tags\nu1,en,vip\nu2,en\nu3,en,a,b\n"))
    )
    assert [(e.row, e.raw) for e in report.errors] == [(3, "u2,en"), (4, "u3,en,a,b")]
    assert report.errors[0].message == "the row has 2 cells; the header has 3"
    assert report.errors[1].message == "the row has 4 cells; the header has 3"
    assert ids() == {"u1"}


def test_a_row_whose_quoted_cell_spans_lines_and_has_the_wrong_count_says_both():
    rows = list(parse_csv(csv('external_id,tags\nu1,"vip\nu2",extra\n')))
    assert rows[0].message == (
        "the row has 3 cells; the header has 2 (a quoted cell spans lines 2–3; check for a missing quote)"
    )
    assert rows[0].source.raw == 'u1,"vip\nu2",extra'


# --- cells spanning lines: legal CSV, so a warning --------------------------------------------


def test_a_quoted_cell_spanning_lines_is_a_warning_with_the_raw_lines():
    data = 'external_id,tags\nu1,"vip\nu2;gold"\nu3,new\n'
    rows = list(parse_csv(csv(data)))
    assert isinstance(rows[0], Record)
    assert [n.message for n in rows[0].notices] == [
        "a quoted cell spans lines 2–3; check for a missing quote"
    ]
    report = recipients_bulk_upsert(actor=None, rows=parse_csv(csv(data)), dry_run=True)
    warning = report.warnings[0]
    assert (warning.row, warning.lines, warning.raw) == (2, (2, 3), 'u1,"vip\nu2;gold"')
    # No recipient column holds a line break, so the row is also refused by its rule.
    assert [e.row for e in report.errors] == [2] and report.errors[0].field == "tags"
    assert (report.created, report.invalid, report.warning_count) == (1, 1, 1)
    assert report.as_dict()["warnings"][0]["lines"] == [2, 3]


def test_an_address_holding_a_line_break_is_refused():
    report = recipients_bulk_upsert(
        actor=None, rows=parse_csv(csv('external_id,address_alipayplus\nu1,"tok\nen"\n'))
    )
    assert report.invalid == 1 and "line break" in report.errors[0].message
    assert not Recipient.objects.exists()


def test_a_member_list_row_spanning_lines_is_imported_with_a_warning_when_its_id_is_fine():
    audience = audience_create(actor=None, name="Beta", kind="users")
    data = 'user_id,note\nu1,"called\ntwice"\nu2,ok\n'
    report = audience_import_members(
        actor=None, audience=audience, external_ids=parse_member_lines(csv(data))
    )
    assert report.created == 2 and report.invalid == 0
    assert [(w.row, w.lines) for w in report.warnings] == [(2, (2, 3))]
    # The second row is row 3 of a spreadsheet although it is line 4 of the file.
    data = 'user_id\n"u1\nu2\nu3\n'
    report = audience_import_members(
        actor=None, audience=audience, external_ids=parse_member_lines(csv(data)), dry_run=True
    )
    assert (report.invalid, report.errors[0].row, report.errors[0].lines) == (1, 2, (2, 4))


def test_a_member_row_with_more_cells_than_the_first_line_is_a_warning():
    rows = list(parse_member_lines(csv("user_id,name\nu1,Ann\nu2,Bob,extra\n")))
    assert rows[1].value == "u2"
    assert rows[1].notices[0].message == "the row has 3 cells, the first line 2; only the first cell is read"


# --- repeated ids ------------------------------------------------------------------------------


def test_a_repeated_id_in_a_recipient_file_is_a_warning_naming_both_rows_and_counted_as_the_import_will():
    data = "external_id,tags\nu1,vip\nu2,new\nu3,x\nu1,gold\n"
    # Batches of 2 put the repeat in another batch than the first row: a dry run writes
    # nothing, yet counts it as the update the import will make.
    dry = recipients_bulk_upsert(actor=None, rows=parse_csv(csv(data)), batch_size=2, dry_run=True)
    assert (dry.created, dry.updated, dry.invalid) == (3, 1, 0)
    assert [(w.row, w.field, w.raw) for w in dry.warnings] == [(5, "external_id", "u1,gold")]
    assert dry.warnings[0].message == "'u1' is also on row 2; this row applies on top of the earlier one"
    done = recipients_bulk_upsert(actor=None, rows=parse_csv(csv(data)), batch_size=2)
    assert (done.created, done.updated, done.warning_count) == (3, 1, 1)
    assert Recipient.objects.get(external_id="u1").tags == ["gold"]


def test_a_repeated_id_in_a_member_file_is_listed_once_and_reported_in_dry_runs_too():
    audience = audience_create(actor=None, name="Beta", kind="users")
    data = "user_id\nu1\nu2\nu3\nu1\nu2\n"
    for dry_run in (True, False):
        report = audience_import_members(
            actor=None,
            audience=audience,
            external_ids=parse_member_lines(csv(data)),
            batch_size=2,
            dry_run=dry_run,
        )
        assert (report.created, report.updated, report.invalid) == (3, 2, 0), dry_run
        assert [(w.row, w.message) for w in report.warnings] == [
            (5, "'u1' is also on row 2; the id is listed once"),
            (6, "'u2' is also on row 3; the id is listed once"),
        ]
    assert AudienceMember.objects.filter(audience=audience).count() == 3


def test_first_seen_answers_the_first_row_of_a_repeat_across_many_keys():
    with FirstSeen() as seen:
        assert all(seen.first_row(f"user{i}", i + 2) is None for i in range(50_000))
        assert seen.first_row("user7", 60_000) == 9
        assert seen.first_row("user7", 60_001) == 9
        assert seen.first_row("new", 60_002) is None


# --- raw text: shortened, escaped, bounded ------------------------------------------------------


def test_raw_text_is_shortened_and_control_characters_escaped():
    assert raw_excerpt("a\tb\x00c\r\n") == "a\\tb\\x00c"
    assert raw_excerpt("l1\r\nl2\n") == "l1\nl2"
    long = raw_excerpt("x" * 5000)
    assert len(long) == RAW_LIMIT and long.endswith("…")


def test_an_open_quote_before_a_huge_remainder_stops_at_the_csv_cell_limit_with_a_short_quote():
    data = 'external_id,tags\nu1,"vip\n' + "u2,new\n" * 40_000
    rows = list(parse_csv(csv(data)))
    assert len(rows) == 1 and isinstance(rows[0], MalformedRow)
    assert "longer than 131,072 characters" in rows[0].message
    assert len(rows[0].source.raw) <= RAW_LIMIT and rows[0].source.raw.startswith('u1,"vip\nu2,new')


def test_a_line_longer_than_the_limit_ends_reading_with_its_number():
    data = "external_id\nu1\n" + "u" * (MAX_LINE_CHARS + 1) + "\nu3\n"
    rows = list(parse_csv(csv(data)))
    assert rows[0].value == {"external_id": "u1"}
    assert isinstance(rows[1], MalformedRow) and len(rows) == 2
    assert rows[1].message.startswith("line 3 is longer than 4,194,304 characters")


# --- the API reports the same ------------------------------------------------------------------


def test_the_bulk_api_reports_rows_lines_raw_text_and_warnings_as_json(marketer):
    api = APIClient()
    api.force_authenticate(marketer)
    body = 'external_id,tags\nu1,vip\nu1,new\nu2,"a\nu3,b\n'
    response = api.post("/api/v1/recipients/bulk/?dry_run=true", body, content_type="text/csv")
    assert response.status_code == 200, response.data
    data = json.loads(json.dumps(response.data))
    assert data["errors"] == [
        {
            "row": 4,
            "field": "row",
            "message": data["errors"][0]["message"],
            "lines": [4, 5],
            "raw": 'u2,"a\nu3,b',
        }
    ]
    assert "never closed" in data["errors"][0]["message"]
    assert data["warnings"] == [
        {
            "row": 3,
            "field": "external_id",
            "message": "'u1' is also on row 2; this row applies on top of the earlier one",
            "lines": [3, 3],
            "raw": "u1,new",
        }
    ]
    assert (data["warning_count"], data["warnings_truncated"]) == (1, False)
    assert not Recipient.objects.exists()

    audience = audience_create(actor=None, name="Beta", kind="users")
    response = api.post(
        f"/api/v1/audiences/{audience.pk}/members/", "u1\nu1\n", content_type="text/csv"
    )
    assert response.status_code == 200, response.data
    assert response.data["warnings"][0]["row"] == 2 and response.data["created"] == 1


def _parse_peak(lines: int) -> int:
    data = "external_id,tags\n" + "".join(f'u{i},"vip;new"\n' for i in range(lines))
    stream = csv(data)
    tracemalloc.start()
    try:
        count = sum(1 for _ in parse_csv(stream))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == lines
    return peak


def test_parsing_keeps_flat_memory_however_many_rows_it_reads_with_their_sources():
    small, large = _parse_peak(5_000), _parse_peak(40_000)
    assert large < small * 1.5 + 64 * 1024, (small, large)
