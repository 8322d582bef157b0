"""Recipients: row rules, streaming CSV/JSON parsers, bulk upsert with tag rows, opt-outs."""

from __future__ import annotations

import io
import json
import time
import tracemalloc

import pytest
from django.core.exceptions import ValidationError

from campaigns.audiences.parsing import MalformedRow, parse_csv, parse_json
from campaigns.audiences.recipients import (
    MAX_REPORTED_ERRORS,
    recipient_clean_row,
    recipient_create,
    recipient_opt_out,
    recipient_update,
    recipients_bulk_upsert,
)
from campaigns.models import Recipient, RecipientTag

pytestmark = pytest.mark.django_db


def tag_rows(external_id: str) -> set[str]:
    return set(RecipientTag.objects.filter(recipient__external_id=external_id).values_list("tag", flat=True))


# --- row rules ------------------------------------------------------------------------


@pytest.mark.parametrize("external_id", ["u1", "A_b@c!#$&*+=.|¥-9", "x" * 64, "user.42"])
def test_external_ids_of_the_jiguang_charset_are_accepted(external_id):
    clean, errors = recipient_clean_row({"external_id": external_id})
    assert errors == [] and clean.external_id == external_id


@pytest.mark.parametrize("external_id", ["", "x" * 65, "has space", "ümlaut", "a/b", "中文", 42])
def test_external_ids_outside_the_charset_or_length_are_refused_naming_the_value(external_id):
    clean, errors = recipient_clean_row({"external_id": external_id}, row_number=7)
    assert clean is None
    assert errors[0].row == 7 and errors[0].field == "external_id"
    if external_id != "":
        assert repr(external_id) in errors[0].message


def test_language_is_checked_as_bcp47_and_written_in_canonical_case():
    clean, _ = recipient_clean_row({"external_id": "u1", "language": "zh-cn"})
    assert clean.language == "zh-CN"
    clean, errors = recipient_clean_row({"external_id": "u1", "language": "english please"})
    assert clean is None and errors[0].field == "language" and "english please" in errors[0].message


def test_a_tag_longer_than_40_bytes_of_utf8_is_refused_even_when_short_in_characters():
    ok, _ = recipient_clean_row({"external_id": "u1", "tags": ["贵宾" * 6]})  # 36 bytes
    assert ok.tags == ("贵宾" * 6,)
    clean, errors = recipient_clean_row({"external_id": "u1", "tags": ["贵宾" * 7]})  # 42 bytes
    assert clean is None and "42 bytes" in errors[0].message


def test_tags_are_stripped_deduplicated_and_checked_against_the_charset():
    clean, _ = recipient_clean_row({"external_id": "u1", "tags": [" vip ", "vip", "new"]})
    assert clean.tags == ("vip", "new")
    clean, errors = recipient_clean_row({"external_id": "u1", "tags": ["no spaces"]})
    assert clean is None and errors[0].field == "tags"


def test_addresses_must_name_known_provider_kinds_and_hold_short_strings():
    clean, errors = recipient_clean_row(
        {"external_id": "u1", "addresses": {"fax": "1", "jiguang": 5, "alipayplus": "t" * 129}}
    )
    assert clean is None
    messages = " ".join(e.message for e in errors)
    assert "'fax' is not a provider kind" in messages
    assert "addresses.jiguang 5 must be a string" in messages
    assert "129 characters" in messages


def test_a_row_gets_every_error_at_once_and_unknown_fields_are_refused():
    clean, errors = recipient_clean_row({"external_id": "", "language": "??", "adresses": {}})
    assert clean is None
    assert {e.field for e in errors} == {"external_id", "language", "adresses"}


# --- bulk upsert -----------------------------------------------------------------------


def test_bulk_upsert_creates_then_updates_by_external_id_and_keeps_tag_rows_in_step():
    report = recipients_bulk_upsert(actor=None,
        rows=[
            {"external_id": "u1", "language": "en", "tags": ["vip", "new"], "addresses": {"jiguang": "j1"}},
            {"external_id": "u2", "tags": ["new"]},
        ]
    )
    assert (report.created, report.updated, report.invalid) == (2, 0, 0)
    assert tag_rows("u1") == {"vip", "new"}

    report = recipients_bulk_upsert(actor=None, rows=[{"external_id": "u1", "tags": ["vip", "churned"]}])
    assert (report.created, report.updated) == (0, 1)
    u1 = Recipient.objects.get(external_id="u1")
    assert u1.tags == ["vip", "churned"]
    assert tag_rows("u1") == {"vip", "churned"}
    assert u1.language == "en" and u1.addresses == {"jiguang": "j1"}  # absent fields are kept
    assert tag_rows("u2") == {"new"}


def test_bulk_upsert_merges_addresses_by_kind_and_an_empty_value_removes_one():
    recipients_bulk_upsert(
        actor=None, rows=[{"external_id": "u1", "addresses": {"alipayplus": "tok", "jiguang": "j1"}}]
    )
    recipients_bulk_upsert(actor=None, rows=[{"external_id": "u1", "addresses": {"jiguang": "j2"}}])
    assert Recipient.objects.get(external_id="u1").addresses == {"alipayplus": "tok", "jiguang": "j2"}
    recipients_bulk_upsert(actor=None, rows=[{"external_id": "u1", "addresses": {"alipayplus": ""}}])
    assert Recipient.objects.get(external_id="u1").addresses == {"jiguang": "j2"}


def test_bulk_upsert_imports_good_rows_and_reports_each_bad_row_by_number_and_field():
    report = recipients_bulk_upsert(actor=None,
        rows=[
            {"external_id": "good1"},
            {"external_id": "bad id", "tags": ["vip"]},
            {"external_id": "good2", "language": "xx-123456789"},
            MalformedRow("row", "the record has 3 cells; the header has 2"),
            {"external_id": "good3"},
        ]
    )
    assert (report.rows, report.created, report.invalid) == (5, 2, 3)
    assert [(e.row, e.field) for e in report.errors] == [(2, "external_id"), (3, "language"), (4, "row")]
    assert set(Recipient.objects.values_list("external_id", flat=True)) == {"good1", "good3"}
    assert not RecipientTag.objects.exists()  # the refused row left no tag behind


def test_a_later_row_for_the_same_id_applies_on_top_within_and_across_batches():
    rows = [
        {"external_id": "u1", "language": "es", "tags": ["a"]},
        {"external_id": "u1", "tags": ["b"]},
        {"external_id": "u2"},
        {"external_id": "u1", "addresses": {"jiguang": "j"}},
    ]
    report = recipients_bulk_upsert(actor=None, rows=rows, batch_size=2)
    u1 = Recipient.objects.get(external_id="u1")
    assert (u1.language, u1.tags, u1.addresses) == ("es", ["b"], {"jiguang": "j"})
    assert tag_rows("u1") == {"b"}
    assert (report.created, report.updated) == (2, 2)


def test_a_dry_run_counts_what_would_happen_and_writes_nothing():
    recipients_bulk_upsert(actor=None, rows=[{"external_id": "u1"}])
    report = recipients_bulk_upsert(
        actor=None, rows=[{"external_id": "u1"}, {"external_id": "u2"}, {}], dry_run=True
    )
    assert (report.created, report.updated, report.invalid, report.dry_run) == (1, 1, 1, True)
    assert Recipient.objects.count() == 1


def test_the_error_list_is_capped_but_every_error_is_counted():
    report = recipients_bulk_upsert(
        actor=None, rows=({"external_id": "bad id"} for _ in range(MAX_REPORTED_ERRORS + 5))
    )
    assert len(report.errors) == MAX_REPORTED_ERRORS
    assert report.error_count == report.invalid == MAX_REPORTED_ERRORS + 5
    assert report.as_dict()["errors_truncated"] is True


def test_bulk_upsert_never_touches_opt_outs():
    recipient_opt_out(external_id="u1", provider_kind="binance")
    recipients_bulk_upsert(actor=None, rows=[{"external_id": "u1", "tags": ["x"]}])
    assert Recipient.objects.get(external_id="u1").opted_out_providers == ["binance"]


def _generated_rows(count: int, prefix: str = "user"):
    for i in range(count):
        yield {
            "external_id": f"{prefix}{i:06d}",
            "language": ("en", "zh-CN", "es")[i % 3],
            "tags": ["vip"] if i % 10 == 0 else ["new", "beta"],
            "addresses": {"alipayplus": f"token-{i:06d}-" + "x" * 40, "jiguang": f"jg{i}"},
        }


def _traced_peak(count: int, prefix: str) -> int:
    tracemalloc.start()
    try:
        report = recipients_bulk_upsert(actor=None, rows=_generated_rows(count, prefix))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.created == count and report.invalid == 0
    return peak


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow  # runs long: its file is scheduled first (tests/conftest.py)
def test_one_hundred_thousand_rows_import_in_one_call_with_flat_memory():
    """Memory does not grow with the number of rows.

    tracemalloc makes the import ~5x slower, so the flatness is traced on 2,000 and
    8,000 rows (four times the rows, and batches, must not need more memory); the
    100,000-row call itself
    then runs untraced and its resident memory growth is bounded.
    """
    small = _traced_peak(2_000, "small")
    large = _traced_peak(8_000, "large")
    print(f"\ntraced peaks: 2,000 rows {small / 2**20:.1f} MiB, 8,000 rows {large / 2**20:.1f} MiB")
    assert large < 60 * 2**20
    assert large < small * 1.5, "peak memory grew with the number of rows"

    count = 100_000
    before = _rss_bytes()
    started = time.perf_counter()
    report = recipients_bulk_upsert(actor=None, rows=_generated_rows(count))
    elapsed = time.perf_counter() - started
    grown = _rss_bytes() - before
    print(f"100,000 rows: {elapsed:.1f} s, resident memory grew {grown / 2**20:.1f} MiB")
    assert report.created == count and report.invalid == 0
    assert Recipient.objects.filter(external_id__startswith="user").count() == count
    assert RecipientTag.objects.filter(recipient__external_id__startswith="user").count() == (
        count // 10 + (count - count // 10) * 2
    )
    assert grown < 100 * 2**20


# --- single recipients and opt-outs ----------------------------------------------------


def test_create_refuses_an_existing_external_id_and_invalid_fields_by_name():
    recipient_create(actor=None, external_id="u1", tags=["vip"])
    assert tag_rows("u1") == {"vip"}
    with pytest.raises(ValidationError) as exc:
        recipient_create(actor=None, external_id="u1")
    assert "already exists" in exc.value.message_dict["external_id"][0]
    with pytest.raises(ValidationError) as exc:
        recipient_create(actor=None, external_id="u2", language="nope!", tags=["a b"])
    assert set(exc.value.message_dict) == {"language", "tags"}
    assert not Recipient.objects.filter(external_id="u2").exists()


def test_update_replaces_tags_merges_addresses_and_leaves_nothing_on_error():
    recipient = recipient_create(actor=None, external_id="u1", tags=["a"], addresses={"jiguang": "j"})
    recipient_update(actor=None, recipient=recipient, tags=["b"], addresses={"alipayplus": "t"})
    recipient.refresh_from_db()
    assert recipient.tags == ["b"] and recipient.addresses == {"jiguang": "j", "alipayplus": "t"}
    assert tag_rows("u1") == {"b"}
    with pytest.raises(ValidationError):
        recipient_update(actor=None, recipient=recipient, language="en", tags=["ok", "not ok"])
    recipient.refresh_from_db()
    assert recipient.tags == ["b"]


def test_opt_out_of_a_provider_or_a_template_is_recorded_once():
    recipient_create(actor=None, external_id="u1")
    assert recipient_opt_out(external_id="u1", provider_kind="binance") is True
    assert recipient_opt_out(external_id="u1", provider_kind="binance") is False
    assert recipient_opt_out(external_id="u1", provider_kind="binance", template_key="promo") is True
    u1 = Recipient.objects.get(external_id="u1")
    assert u1.opted_out_providers == ["binance"] and u1.opted_out_templates == ["promo"]


def test_opt_out_of_an_unknown_id_creates_the_recipient_so_later_sends_skip_it():
    recipient_opt_out(external_id="stranger", provider_kind="jiguang")
    assert Recipient.objects.get(external_id="stranger").opted_out_providers == ["jiguang"]
    with pytest.raises(ValidationError):
        recipient_opt_out(external_id="stranger", provider_kind="fax")


# --- parsers ---------------------------------------------------------------------------


def test_csv_rows_split_tags_on_pipe_or_semicolon_and_read_address_columns():
    data = (
        "\ufeffexternal_id,language,tags,address_alipayplus,address_jiguang\r\n"
        "u1,en,vip|new,tok1,\r\n"
        "u2,,a;b,,j2\r\n"
        "\r\n"
        "u3,es\r\n"
    ).encode()
    rows = list(parse_csv(io.BytesIO(data)))
    assert rows[0].value == {
        "external_id": "u1",
        "language": "en",
        "tags": ["vip", "new"],
        "addresses": {"alipayplus": "tok1"},
    }
    assert rows[1].value == {"external_id": "u2", "tags": ["a", "b"], "addresses": {"jiguang": "j2"}}
    # Rows as a spreadsheet numbers them: the header is row 1 and the blank line is row 4.
    assert [row.source.row for row in rows] == [2, 3, 5]
    assert isinstance(rows[2], MalformedRow) and "2 cells" in rows[2].message
    assert rows[2].source.raw == "u3,es"


def test_csv_with_an_unknown_column_or_no_external_id_is_refused_before_any_row():
    with pytest.raises(ValidationError) as exc:
        next(parse_csv(io.StringIO("id,address_fax\nu1,1\n")))
    messages = exc.value.message_dict["file"]
    assert any("'address_fax'" in m for m in messages) and any("no external_id" in m for m in messages)


def test_csv_import_end_to_end_reports_rows_by_number():
    data = "external_id,tags\nu1,vip\nbad id,vip\nu2,\n"
    report = recipients_bulk_upsert(actor=None, rows=parse_csv(io.StringIO(data)))
    assert (report.created, report.invalid) == (2, 1)
    assert report.errors[0].row == 3  # the header is row 1, as in a spreadsheet
    assert (report.errors[0].lines, report.errors[0].raw) == ((3, 3), "bad id,vip")
    assert Recipient.objects.get(external_id="u2").tags == []


def test_json_array_is_streamed_element_by_element_across_read_boundaries(monkeypatch):
    monkeypatch.setattr("campaigns.audiences.parsing._READ_SIZE", 7)
    rows = [{"external_id": f"u{i}", "tags": ["t"], "addresses": {"jiguang": "j" * i}} for i in range(20)]
    rows.append(12345)
    assert list(parse_json(io.BytesIO(json.dumps(rows, indent=1).encode()))) == rows


def test_json_lines_are_read_one_object_per_line():
    data = b'{"external_id": "u1"}\n\n{"external_id": "u2", "tags": []}\n'
    assert list(parse_json(io.BytesIO(data))) == [{"external_id": "u1"}, {"external_id": "u2", "tags": []}]


def test_broken_json_yields_a_malformed_row_after_the_good_ones_and_stops():
    rows = list(
        parse_json(io.StringIO('[{"external_id": "u1"}, {"external_id": u2}, {"external_id": "u3"}]'))
    )
    assert rows[0] == {"external_id": "u1"}
    assert isinstance(rows[1], MalformedRow) and len(rows) == 2
    report = recipients_bulk_upsert(
        actor=None, rows=parse_json(io.StringIO('[{"external_id": "u1"} {"x": 1}]'))
    )
    assert report.created == 1 and report.errors[0].row == 2


def test_an_empty_json_body_yields_no_rows_and_an_unclosed_array_is_reported():
    assert list(parse_json(io.StringIO("  "))) == []
    assert list(parse_json(io.StringIO("[]"))) == []
    rows = list(parse_json(io.StringIO('[{"external_id": "u1"}')))
    assert rows[0] == {"external_id": "u1"} and isinstance(rows[1], MalformedRow)


def test_a_file_that_is_not_utf8_is_reported_not_crashed_on():
    with pytest.raises(ValidationError) as exc:
        list(parse_csv(io.BytesIO("external_id,tags\nu1,café\n".encode("latin-1"))))
    assert "UTF-8" in exc.value.message_dict["file"][0]
    long_file = b"external_id\n" + b"".join(b"u%d\n" % i for i in range(20_000)) + "café\n".encode("latin-1")
    rows = list(parse_csv(io.BytesIO(long_file)))
    assert isinstance(rows[-1], MalformedRow) and "UTF-8" in rows[-1].message
    rows = list(parse_json(io.BytesIO(b'[{"external_id": "caf\xe9"}]')))
    assert isinstance(rows[-1], MalformedRow) and "UTF-8" in rows[-1].message


def test_jiguang_addresses_and_tags_follow_the_jiguang_charset_which_has_no_hyphen():
    clean, _ = recipient_clean_row({"external_id": "a-uuid-like-id", "addresses": {"jiguang": "a_valid.id"}})
    assert clean is not None
    clean, errors = recipient_clean_row(
        {"external_id": "u1", "addresses": {"jiguang": "a-b"}, "tags": ["x-y"]}
    )
    assert clean is None
    assert {e.field for e in errors} == {"addresses", "tags"}
