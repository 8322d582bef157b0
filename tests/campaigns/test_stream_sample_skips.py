"""The review page's skip sample (``AudienceStream.sample_skips``): one SQL aggregate that must
count every reason exactly as streaming the same recipients row by row does."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.audiences.recipients import recipient_opt_out, recipients_bulk_upsert
from campaigns.audiences.services import audience_create
from campaigns.audiences.stream import SkipReason, iter_audience_targets
from campaigns.models import Recipient

pytestmark = pytest.mark.django_db

LISTED = [
    "ok1", "plain", "bad-id", "bad-id2", "optp", "optj", "optt", "supp", "ghost", "ghost-x", "tok", "ok2",
    "empty",
]


@pytest.fixture
def everyone_kind_of_skip():
    """Recipients and ids that hit every SkipReason on Jiguang (ids, a pattern) or on Alipay+
    (credentials, no pattern), in an order that mixes them."""
    rows = [
        {"external_id": "ok1", "tags": ["t1"], "addresses": {"jiguang": "jg_ok", "alipayplus": "tk1"}},
        {"external_id": "plain", "tags": ["t1", "t2"]},
        {"external_id": "bad-id", "tags": ["t2"]},
        {"external_id": "bad-id2", "tags": ["t1"], "addresses": {"jiguang": "good_addr"}},
        {"external_id": "optp", "tags": ["t1"], "addresses": {"alipayplus": "tkp"}},
        {"external_id": "optj", "tags": ["t2"], "addresses": {"alipayplus": "tkj"}},
        {"external_id": "optt", "tags": ["t1"], "addresses": {"alipayplus": "tkt"}},
        {"external_id": "supp", "tags": ["t1"], "addresses": {"alipayplus": "tks"}},
        {"external_id": "tok", "tags": ["t2"], "addresses": {"alipayplus": "tkk"}},
        {"external_id": "ok2", "tags": ["t1"]},
        {"external_id": "untagged", "addresses": {"alipayplus": "tku"}},
        {"external_id": "empty", "tags": ["t2"]},
    ]
    report = recipients_bulk_upsert(actor=None, rows=rows)
    assert report.invalid == 0, report.errors
    # Empty stored addresses: no import writes them, but the database can hold them.
    Recipient.objects.filter(external_id="empty").update(addresses={"jiguang": "", "alipayplus": ""})
    recipient_opt_out(external_id="optp", provider_kind="alipayplus")
    recipient_opt_out(external_id="optj", provider_kind="jiguang")
    recipient_opt_out(external_id="optt", provider_kind="binance", template_key="promo")
    return [
        audience_create(actor=None, name="Listed", kind="users", user_ids=LISTED, suppressed_ids=["supp"]),
        audience_create(actor=None, name="Tagged", kind="tags", tags=["t1", "t2"], suppressed_ids=["supp"]),
        audience_create(actor=None, name="All", kind="all", suppressed_ids=["supp"]),
    ]


def streamed(audience, kind, limit):
    """Skips and rows read of the first page of ``limit`` recipients, decided row by row."""
    stream = iter_audience_targets(audience, provider_kind=kind, template_key="promo", chunk_size=limit)
    first = next(iter(stream.pages()), [])
    return dict(stream.skipped), len(first) + sum(stream.skipped.values())


def sampled(audience, kind, limit):
    stream = iter_audience_targets(audience, provider_kind=kind, template_key="promo")
    skipped, read = stream.sample_skips(limit)
    return dict(skipped), read


@pytest.mark.parametrize("kind", ["jiguang", "alipayplus"])
def test_the_aggregate_counts_every_reason_as_the_stream_decides_each_row(everyone_kind_of_skip, kind):
    for audience in everyone_kind_of_skip:
        for limit in range(1, len(LISTED) + 3):  # every prefix, and past the end
            assert sampled(audience, kind, limit) == streamed(audience, kind, limit), (audience.kind, limit)


def test_each_reason_is_there_to_be_counted(everyone_kind_of_skip):
    """The fixture must keep hitting every reason, or the agreement above proves little."""
    listed = everyone_kind_of_skip[0]
    jiguang, read = sampled(listed, "jiguang", 100)
    assert read == len(LISTED)
    assert jiguang == {
        SkipReason.SUPPRESSED: 1,
        SkipReason.OPTED_OUT_PROVIDER: 1,  # optj
        SkipReason.OPTED_OUT_TEMPLATE: 1,  # optt
        SkipReason.INVALID_ADDRESS: 2,  # bad-id, ghost-x (bad-id2 has a Jiguang address)
    }
    alipay, _ = sampled(listed, "alipayplus", 100)
    assert alipay == {
        SkipReason.SUPPRESSED: 1,
        SkipReason.OPTED_OUT_PROVIDER: 1,  # optp
        SkipReason.OPTED_OUT_TEMPLATE: 1,  # optt
        SkipReason.NO_ADDRESS: 5,  # plain, bad-id, bad-id2, ok2, empty
        SkipReason.UNKNOWN_RECIPIENT: 2,  # ghost, ghost-x
    }
    tagged, read = sampled(everyone_kind_of_skip[1], "alipayplus", 100)
    assert read == 11 and tagged[SkipReason.NO_ADDRESS] == 5  # untagged is not in it
    everyone, read = sampled(everyone_kind_of_skip[2], "alipayplus", 100)
    assert read == 8 and everyone[SkipReason.NO_ADDRESS] == 1  # all: those with the key (empty)


def test_the_sample_is_one_aggregate_and_reads_no_more_than_its_limit(everyone_kind_of_skip):
    listed = everyone_kind_of_skip[0]
    with CaptureQueriesContext(connection) as captured:
        _, read = sampled(listed, "jiguang", 5)
    assert read == 5
    # Whether the audience suppresses anyone, then the aggregate (on PostgreSQL also the
    # statements that turn parallel workers off for it).
    reads = [q["sql"] for q in captured.captured_queries if "campaigns_" in q["sql"]]
    assert len(reads) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_the_sample_puts_the_parallel_setting_back_in_a_callers_transaction(everyone_kind_of_skip):
    def workers():
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            return cursor.fetchone()[0]

    before = workers()
    sampled(everyone_kind_of_skip[0], "jiguang", 5)  # the test runs in a transaction
    assert workers() == before != "0"


def test_a_stream_sampled_cannot_be_iterated_too(everyone_kind_of_skip):
    stream = iter_audience_targets(everyone_kind_of_skip[0], provider_kind="jiguang", template_key="promo")
    stream.sample_skips(3)
    with pytest.raises(RuntimeError):
        list(stream)
