"""Which providers a tagged recipient has an address at, on each of its tag rows.

The reach of a tag audience at a provider whose addresses are credentials (Alipay+: a
recipient without a token cannot be sent to) counts the tagged recipients holding that
address (``campaigns.audiences.services.audience_size``). Read from ``Recipient.addresses``
that is one JSON document per tagged recipient: 394–471 ms for a tag of 1,000,000 on SQLite,
against the 200 ms of issue #21 (BENCHMARKS.md, "This round"). So every ``RecipientTag`` row
also carries ``address_kinds``, the keys of its recipient's addresses as ``,kind,kind,``
(empty: none), and the count reads the ``(tag, address_kinds, recipient)`` index alone
(82–97 ms measured on SQLite, a tag of 1,000,000).

**One place keeps it: triggers** (migration ``campaigns.0016``), the way the audience digest
is kept (``campaigns.audiences.digest``), so no writer can forget it — the import services,
the admin, a raw ``INSERT … SELECT``:

* a tag row takes its recipient's kinds when it is inserted (or moved to another recipient);
* a recipient's tag rows take the new kinds when its ``addresses`` change.

Unlike a count kept per tag, nothing here is a row shared by many writers: a recipient's
tag rows are written only with that recipient. On PostgreSQL the insert trigger reads the
recipient ``FOR SHARE``, so an insert and a concurrent address change of the same recipient
are serialised: whichever commits second sees the other (without the lock, a tag row
inserted beside an uncommitted address change would keep the old kinds; the race test in
``tests/campaigns/test_address_kinds.py`` shows both orders). SQLite has one writer.

``kinds_drift`` recomputes every row's kinds from the addresses and reports the rows that
differ; the tests run it after every kind of write.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from campaigns.models import RecipientTag


def kinds_text(addresses: Mapping[str, str] | None) -> str:
    """What ``address_kinds`` holds for a recipient with ``addresses`` (order aside)."""
    kinds = sorted(addresses or {})
    return f",{','.join(kinds)}," if kinds else ""


def holds(kind: str) -> str:
    """The substring of ``address_kinds`` that says the recipient has an address at ``kind``."""
    return f",{kind},"


def _kinds(text: str) -> frozenset[str]:
    return frozenset(k for k in text.split(",") if k)


def kinds_drift() -> Iterator[tuple[int, str, str]]:
    """Yield every tag row whose ``address_kinds`` are not its recipient's address kinds, as
    (tag row id, stored, expected), in one pass over the rows (as ``digest.digest_drift``)."""
    rows = RecipientTag.objects.values_list("pk", "address_kinds", "recipient__addresses").order_by("pk")
    for pk, stored, addresses in rows.iterator(chunk_size=2000):
        if _kinds(stored) != frozenset(addresses or {}):
            yield pk, stored, kinds_text(addresses)
