"""The provider kinds on each tag row (campaigns/audiences/address_kinds.py) are never stale:
after every kind of write — imports that add, change and remove addresses and tags, a raw
``INSERT … SELECT`` of tag rows, a raw address update — every tag row holds its recipient's
kinds, and the reach of a tag audience at Alipay+ (which counts them) equals the count made
from the recipients themselves. On PostgreSQL, a tag row inserted beside an uncommitted
address change of the same recipient, in either order, still ends right."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from campaigns.audiences.address_kinds import kinds_drift, kinds_text
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.services import audience_create, audience_size
from campaigns.models import AudienceMember, Recipient, RecipientTag


def _upsert(rows) -> None:
    report = recipients_bulk_upsert(actor=None, rows=rows, batch_size=7)
    assert not report.errors, report.errors[:3]


def _counted_from_recipients(tags: list[str], kind: str, suppressed: set[str]) -> int:
    return sum(
        1
        for r in Recipient.objects.all()
        if set(r.tags) & set(tags) and kind in (r.addresses or {}) and r.external_id not in suppressed
    )


def _assert_right(audience, tags: list[str], suppressed: set[str] = frozenset()) -> None:
    """No stale row, and the Alipay+ reach (a credential: only holders count) is the truth."""
    assert list(kinds_drift()) == []
    assert audience_size(audience, provider_kind="alipayplus") == _counted_from_recipients(
        tags, "alipayplus", suppressed
    )


def test_kinds_text():
    assert kinds_text({}) == ""
    assert kinds_text({"jiguang": "u1", "alipayplus": "tok"}) == ",alipayplus,jiguang,"


@pytest.mark.django_db
def test_every_kind_of_write_leaves_each_tag_row_with_its_recipients_kinds(marketer):
    rows = [
        {"external_id": f"r{i:03d}", "tags": ["a"] if i % 2 else ["a", "b"],
         "addresses": {"alipayplus": f"tok{i}"} if i % 3 else {"jiguang": f"jg{i}"}}
        for i in range(60)
    ]
    _upsert(rows)
    audience = audience_create(actor=marketer, name="tagged", kind="tags", tags=["a", "b"])
    _assert_right(audience, ["a", "b"])

    # Addresses added, changed and removed; tags replaced (new rows take the current kinds).
    _upsert([{"external_id": f"r{i:03d}", "addresses": {"alipayplus": f"new{i}"}} for i in range(0, 60, 3)])
    _upsert([{"external_id": f"r{i:03d}", "addresses": {"alipayplus": None}} for i in range(1, 60, 5)])
    _upsert([{"external_id": f"r{i:03d}", "tags": ["b", "c"]} for i in range(0, 60, 4)])
    assert RecipientTag.objects.filter(address_kinds=",alipayplus,jiguang,").exists()
    assert RecipientTag.objects.filter(address_kinds="").exists()
    _assert_right(audience, ["a", "b"])

    # Writes that no service makes: a raw INSERT … SELECT of tag rows, a raw address update.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_recipienttag (recipient_id, tag, address_kinds) "
            "SELECT id, 'raw', 'stale' FROM campaigns_recipient WHERE external_id LIKE %s",
            ["r01%"],
        )
    Recipient.objects.filter(external_id="r010").update(addresses={"jiguang": "x", "binance": "y"})
    Recipient.objects.filter(external_id="r011").update(addresses={})
    raw = audience_create(actor=marketer, name="raw", kind="tags", tags=["raw"])
    assert list(kinds_drift()) == []
    assert audience_size(raw, provider_kind="alipayplus") == Recipient.objects.filter(
        external_id__startswith="r01", addresses__has_key="alipayplus"
    ).count()

    # The suppressed are left out of the count with their address.
    AudienceMember.objects.bulk_create(
        [AudienceMember(audience=audience, external_id=x, suppressed=True) for x in ("r002", "r005", "r009")]
    )
    _assert_right(audience, ["a", "b"], suppressed={"r002", "r005", "r009"})


def _race(first, second) -> None:
    """Run ``first`` in a transaction left open while ``second`` runs on another connection,
    then commit ``first``; ``second`` must then complete."""
    errors: list[BaseException] = []
    started, done = threading.Event(), threading.Event()

    def one() -> None:
        try:
            with transaction.atomic():
                first()
                started.set()
                done.wait(1.0)  # ``second`` waits for this commit (or, without the lock, does not)
        except BaseException as exc:
            errors.append(exc)
        finally:
            started.set()
            connections.close_all()

    def two() -> None:
        try:
            started.wait(10)
            second()
            done.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["address change", "tag insert"])
def test_a_tag_row_inserted_beside_an_address_change_ends_right_in_either_order(first):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot take concurrent writers")
    _upsert([{"external_id": "racer", "tags": ["a"], "addresses": {"jiguang": "jg"}}])
    recipient = Recipient.objects.get(external_id="racer")

    def change_address() -> None:
        Recipient.objects.filter(pk=recipient.pk).update(addresses={"jiguang": "jg", "alipayplus": "tok"})

    def insert_tag() -> None:
        # The foreign key check alone does not wait for the address change (FOR KEY SHARE).
        RecipientTag.objects.create(recipient_id=recipient.pk, tag="late")

    started = time.monotonic()
    if first == "address change":
        _race(change_address, insert_tag)
    else:
        _race(insert_tag, change_address)
    assert time.monotonic() - started < 20
    assert dict(RecipientTag.objects.filter(recipient=recipient).values_list("tag", "address_kinds")) == {
        "a": ",alipayplus,jiguang,",
        "late": ",alipayplus,jiguang,",
    }
    assert list(kinds_drift()) == []
