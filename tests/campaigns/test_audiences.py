"""Audiences: validation, sizes, member/suppression imports and the engine's target stream."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.audiences.demo import seed_audiences
from campaigns.audiences.parsing import parse_member_lines
from campaigns.audiences.recipients import recipient_opt_out, recipients_bulk_upsert
from campaigns.audiences.services import (
    audience_create,
    audience_import_members,
    audience_size,
    audience_update,
    audience_validate,
)
from campaigns.audiences.stream import AudienceStream, SkipReason, TargetRow, iter_audience_targets
from campaigns.models import Audience, AudienceMember, Recipient

pytestmark = pytest.mark.django_db


def seed(*rows):
    report = recipients_bulk_upsert(actor=None, rows=list(rows))
    assert report.invalid == 0, report.errors


def members(audience, *, suppressed=False):
    return set(
        AudienceMember.objects.filter(audience=audience, suppressed=suppressed).values_list(
            "external_id", flat=True
        )
    )


def stream_all(audience, provider_kind="jiguang", template_key="promo", chunk_size=1000):
    stream = iter_audience_targets(
        audience, provider_kind=provider_kind, template_key=template_key, chunk_size=chunk_size
    )
    chunks = list(stream.chunks())
    return chunks, stream


# --- validation ----------------------------------------------------------------------


def test_validate_cleans_tags_and_checks_each_against_the_jiguang_rules():
    assert audience_validate(kind="tags", tags=[" vip", "vip", "new"])["tags"] == ["vip", "new"]
    with pytest.raises(ValidationError) as exc:
        audience_validate(kind="tags", tags=["has space"])
    assert "has space" in exc.value.message_dict["tags"][0]
    with pytest.raises(ValidationError) as exc:
        audience_validate(kind="tags", tags=[])
    assert "at least one tag" in exc.value.message_dict["tags"][0]


def test_jiguang_takes_at_most_twenty_tags_and_alipayplus_resolves_any_number_locally():
    tags = [f"t{i}" for i in range(21)]
    with pytest.raises(ValidationError) as exc:
        audience_validate(kind="tags", tags=tags, provider_kind="jiguang")
    assert "21 tags" in exc.value.message_dict["tags"][0] and "20" in exc.value.message_dict["tags"][0]
    audience_validate(kind="tags", tags=tags[:20], provider_kind="jiguang")
    audience_validate(kind="tags", tags=tags, provider_kind="alipayplus")


def test_a_segment_audience_needs_exactly_one_segment_id():
    assert audience_validate(kind="segment", segment=["seg-1"])["segment"] == "seg-1"
    for bad in ("", ["a", "b"], "a,b", "a b"):
        with pytest.raises(ValidationError) as exc:
            audience_validate(kind="segment", segment=bad)
        assert "segment" in exc.value.message_dict


def test_fields_of_another_kind_are_refused_by_field():
    with pytest.raises(ValidationError) as exc:
        audience_validate(kind="users", tags=["vip"], segment="s")
    assert set(exc.value.message_dict) == {"tags", "segment"}
    with pytest.raises(ValidationError) as exc:
        audience_validate(kind="everyone")
    assert "'everyone'" in exc.value.message_dict["kind"][0]


def test_broadcast_only_providers_refuse_user_and_tag_audiences_and_segments_need_support():
    for kind, extra in (("users", {}), ("tags", {"tags": ["vip"]})):
        with pytest.raises(ValidationError) as exc:
            audience_validate(kind=kind, provider_kind="binance", **extra)
        assert "only broadcasts" in exc.value.message_dict["kind"][0]
    with pytest.raises(ValidationError) as exc:
        audience_validate(kind="segment", segment="s1", provider_kind="alipayplus")
    assert "segment" in exc.value.message_dict["kind"][0]
    audience_validate(kind="segment", segment="s1", provider_kind="jiguang")
    audience_validate(kind="all", provider_kind="mpaas")


# --- create / update -------------------------------------------------------------------


def test_create_with_user_and_suppressed_ids_is_all_or_nothing():
    audience = audience_create(
        actor=None, name="Beta", kind="users", user_ids=["u1", "u2"], suppressed_ids=["u2"]
    )
    assert members(audience) == {"u1", "u2"} and members(audience, suppressed=True) == {"u2"}
    with pytest.raises(ValidationError) as exc:
        audience_create(actor=None, name="Beta 2", kind="users", user_ids=["ok", "not ok"])
    assert exc.value.message_dict["user_ids"][0].startswith("row 2:")
    assert not Audience.objects.filter(name="Beta 2").exists()
    assert not AudienceMember.objects.filter(external_id="ok").exists()


def test_create_refuses_a_taken_name_and_user_ids_on_another_kind():
    audience_create(actor=None, name="VIP", kind="tags", tags=["vip"])
    with pytest.raises(ValidationError) as exc:
        audience_create(actor=None, name="VIP", kind="all")
    assert "already used" in exc.value.message_dict["name"][0]
    with pytest.raises(ValidationError) as exc:
        audience_create(actor=None, name="Other", kind="all", user_ids=["u1"])
    assert "user_ids" in exc.value.message_dict


def test_update_replaces_lists_given_and_keeps_the_rest():
    audience = audience_create(
        actor=None, name="Beta", kind="users", user_ids=["u1", "u2"], suppressed_ids=["x"]
    )
    audience_update(actor=None, audience=audience, user_ids=["u2", "u3"])
    assert members(audience) == {"u2", "u3"} and members(audience, suppressed=True) == {"x"}
    audience = audience_update(actor=None, audience=audience, kind="tags", tags=["vip"], name="Now tags")
    assert (audience.kind, audience.tags, audience.name) == ("tags", ["vip"], "Now tags")
    with pytest.raises(ValidationError):
        audience_update(actor=None, audience=audience, kind="segment")
    audience.refresh_from_db()
    assert audience.kind == "tags"


# --- member imports ----------------------------------------------------------------------


def test_importing_members_adds_reports_known_ids_and_refuses_bad_ones_by_row():
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=["u1"])
    report = audience_import_members(
        actor=None, audience=audience, external_ids=["u1", "u2", "bad id", "u2", "u3"]
    )
    assert (report.created, report.updated, report.invalid) == (2, 2, 1)
    assert report.errors[0].row == 3 and report.errors[0].field == "external_id"
    assert members(audience) == {"u1", "u2", "u3"}


def test_replacing_a_list_drops_what_is_not_in_the_new_one_across_batches():
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=[f"old{i}" for i in range(5)])
    new = ["old1", "old3", "new1", "new2", "old1", "new3"]
    report = audience_import_members(
        actor=None, audience=audience, external_ids=new, replace=True, batch_size=2
    )
    assert members(audience) == {"old1", "old3", "new1", "new2", "new3"}
    assert (report.created, report.updated, report.removed) == (3, 3, 3)


def test_a_dry_run_replacement_counts_removals_without_writing():
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=["a", "b", "c"])
    report = audience_import_members(actor=None,
        audience=audience, external_ids=["a", "d", "a"], replace=True, dry_run=True
    )
    assert (report.created, report.updated, report.removed) == (1, 2, 2)
    assert members(audience) == {"a", "b", "c"}


def test_the_suppression_list_is_imported_separately_from_the_member_list():
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=["u1", "u2"])
    audience_import_members(actor=None, audience=audience, external_ids=["u2"], suppressed=True, replace=True)
    assert members(audience) == {"u1", "u2"} and members(audience, suppressed=True) == {"u2"}


def test_member_files_take_the_first_column_and_skip_a_header():
    data = b"external_id,name\nu1,Ann\n\nu2\n"
    assert [r.value for r in parse_member_lines(io.BytesIO(data))] == ["u1", "u2"]
    assert [r.value for r in parse_member_lines(io.StringIO("u9\nu8\n"))] == ["u9", "u8"]


# --- sizes ------------------------------------------------------------------------------


def test_sizes_follow_kind_suppression_and_provider_addresses():
    seed(
        {"external_id": "a", "tags": ["vip"], "addresses": {"alipayplus": "ta"}},
        {"external_id": "b", "tags": ["vip", "new"]},
        {"external_id": "c", "tags": ["new"], "addresses": {"alipayplus": "tc"}},
    )
    everyone = audience_create(actor=None, name="All", kind="all", suppressed_ids=["c"])
    assert audience_size(everyone) == 2
    assert audience_size(everyone, provider_kind="jiguang") is None  # provider-side broadcast
    assert audience_size(everyone, provider_kind="alipayplus") == 1  # a (c is suppressed)

    tagged = audience_create(
        actor=None, name="Tagged", kind="tags", tags=["vip", "new"], suppressed_ids=["a"]
    )
    assert audience_size(tagged) == 2
    assert audience_size(tagged, provider_kind="alipayplus") == 1

    listed = audience_create(
        actor=None, name="Listed", kind="users", user_ids=["a", "b", "ghost"], suppressed_ids=["b"]
    )
    assert audience_size(listed) == 2  # a and ghost: Jiguang addresses ghost by id
    assert audience_size(listed, provider_kind="alipayplus") == 1

    segment = audience_create(actor=None, name="Seg", kind="segment", segment="s1")
    assert audience_size(segment) is None


# --- the target stream --------------------------------------------------------------------


def test_a_users_audience_streams_members_with_addresses_and_counts_what_it_skipped():
    seed(
        {"external_id": "u1", "language": "zh-CN", "addresses": {"jiguang": "jg_1", "alipayplus": "t1"}},
        {"external_id": "u2"},
        {"external_id": "u3", "addresses": {"alipayplus": "t3"}},
        {"external_id": "u4", "addresses": {"alipayplus": "t4"}},
    )
    recipient_opt_out(external_id="u3", provider_kind="alipayplus")
    recipient_opt_out(external_id="u4", provider_kind="alipayplus", template_key="promo")
    audience = audience_create(actor=None,
        name="Beta", kind="users", user_ids=["u1", "u2", "u3", "u4", "ghost", "gone"], suppressed_ids=["gone"]
    )

    chunks, stream = stream_all(audience, provider_kind="jiguang")
    assert [t for c in chunks for t in c] == [
        TargetRow("u1", "jg_1", "zh-CN"),
        TargetRow("u2", "u2", "en"),
        TargetRow("u3", "u3", "en"),  # opted out of Alipay+ only
        TargetRow("ghost", "ghost", ""),
    ]
    assert stream.skipped == {SkipReason.SUPPRESSED: 1, SkipReason.OPTED_OUT_TEMPLATE: 1}

    chunks, stream = stream_all(audience, provider_kind="alipayplus")
    assert [t for c in chunks for t in c] == [TargetRow("u1", "t1", "zh-CN")]
    assert stream.skipped == {
        SkipReason.SUPPRESSED: 1,
        SkipReason.NO_ADDRESS: 1,
        SkipReason.OPTED_OUT_PROVIDER: 1,
        SkipReason.OPTED_OUT_TEMPLATE: 1,
        SkipReason.UNKNOWN_RECIPIENT: 1,
    }
    assert stream.targets == 1


def test_a_template_opt_out_only_skips_that_template():
    seed({"external_id": "u1"})
    recipient_opt_out(external_id="u1", provider_kind="binance", template_key="promo")
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=["u1"])
    assert stream_all(audience, template_key="promo")[1].skipped == {SkipReason.OPTED_OUT_TEMPLATE: 1}
    assert stream_all(audience, template_key="welcome")[1].targets == 1


def test_a_tags_audience_streams_recipients_with_any_tag_once_in_id_order():
    seed(
        {"external_id": "c", "tags": ["vip", "new"]},
        {"external_id": "a", "tags": ["other"]},
        {"external_id": "b", "tags": ["new"]},
    )
    audience = audience_create(actor=None, name="T", kind="tags", tags=["vip", "new"])
    chunks, _ = stream_all(audience)
    assert [t.external_id for c in chunks for t in c] == ["c", "b"]


def test_everyone_on_alipayplus_is_every_recipient_with_a_token_and_others_are_not_skips():
    seed(
        {"external_id": "a", "addresses": {"alipayplus": "ta"}},
        {"external_id": "b"},
        {"external_id": "c", "addresses": {"alipayplus": "tc"}},
    )
    audience = audience_create(actor=None, name="All", kind="all", suppressed_ids=["c"])
    chunks, stream = stream_all(audience, provider_kind="alipayplus")
    assert [t for c in chunks for t in c] == [TargetRow("a", "ta", "en")]
    assert stream.skipped == {SkipReason.SUPPRESSED: 1}


def test_chunks_are_full_except_the_last_even_when_a_page_had_skips():
    seed(*({"external_id": f"u{i:03d}"} for i in range(25)))
    audience = audience_create(actor=None,
        name="Beta", kind="users", user_ids=[f"u{i:03d}" for i in range(25)], suppressed_ids=["u003", "u004"]
    )
    chunks, stream = stream_all(audience, chunk_size=10)
    assert [len(c) for c in chunks] == [10, 10, 3]
    assert [t.external_id for c in chunks for t in c] == [f"u{i:03d}" for i in range(25) if i not in (3, 4)]


def test_a_segment_audience_cannot_be_streamed_and_says_why():
    audience = audience_create(actor=None, name="Seg", kind="segment", segment="s1")
    with pytest.raises(ValidationError) as exc:
        iter_audience_targets(audience, provider_kind="jiguang", template_key="t")
    assert "send the segment id to the provider" in exc.value.message_dict["kind"][0]


def test_a_stream_is_iterated_once():
    audience = audience_create(actor=None, name="All", kind="all")
    stream = AudienceStream(audience, provider_kind="jiguang", template_key="t")
    list(stream)
    with pytest.raises(RuntimeError):
        list(stream.chunks())


def test_streaming_pages_with_keyset_queries_never_offset():
    seed(*({"external_id": f"u{i:03d}", "tags": ["vip"]} for i in range(30)))
    audience = audience_create(actor=None, name="T", kind="tags", tags=["vip"])
    with CaptureQueriesContext(connection) as queries:
        chunks, _ = stream_all(audience, chunk_size=10)
    assert sum(len(c) for c in chunks) == 30
    selects = [q["sql"] for q in queries.captured_queries if '"campaigns_recipient"."id" >' in q["sql"]]
    assert len(selects) == 4  # three full pages and an empty one
    assert not any("OFFSET" in q["sql"] for q in queries.captured_queries)


def test_memory_stays_flat_in_audience_size():
    def peak_for(count: int) -> int:
        Recipient.objects.all().delete()
        seed(*({"external_id": f"u{i:06d}", "tags": ["vip"]} for i in range(count)))
        audience, _ = Audience.objects.get_or_create(name="T", kind="tags", tags=["vip"])
        tracemalloc.start()
        total = 0
        for chunk in iter_audience_targets(
            audience, provider_kind="jiguang", template_key="t", chunk_size=500
        ):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert total == count
        return peak

    small, large = peak_for(2_000), peak_for(20_000)
    assert large < small * 1.5


# --- demo ---------------------------------------------------------------------------------


def test_the_demo_seed_is_idempotent_and_its_audiences_have_the_expected_sizes():
    seed_audiences(io.StringIO())
    out = io.StringIO()
    seed_audiences(out)
    assert "200 already there" in out.getvalue()
    assert Recipient.objects.count() == 200 and Audience.objects.count() == 3
    assert audience_size(Audience.objects.get(name="Beta testers")) == 19
    assert audience_size(Audience.objects.get(name="VIP users")) == 20
    assert audience_size(Audience.objects.get(name="Everyone"), provider_kind="alipayplus") == 200 - 200 // 7


def test_an_id_jiguang_would_refuse_is_skipped_for_jiguang_unless_it_has_a_jiguang_address():
    seed({"external_id": "with-hyphen", "addresses": {"jiguang": "with_underscore", "alipayplus": "t"}})
    audience = audience_create(actor=None, name="Beta", kind="users", user_ids=["with-hyphen", "ghost-id"])
    chunks, stream = stream_all(audience, provider_kind="jiguang")
    assert [t for c in chunks for t in c] == [TargetRow("with-hyphen", "with_underscore", "en")]
    assert stream.skipped == {SkipReason.INVALID_ADDRESS: 1}
    chunks, stream = stream_all(audience, provider_kind="alipayplus")
    assert [t.external_id for c in chunks for t in c] == ["with-hyphen"]
