"""The membership digest of a ``users`` audience: its count and an order-independent hash of
its listed ids, kept by the database on every write, so nothing rescans a list to hash it.

The approval snapshot (``campaigns.snapshot``) binds a list of user ids by this digest. It is
a multiset hash: every listed id (``AudienceMember`` with ``suppressed=False``) contributes
``member_lanes(id)`` — sha256 of its UTF-8 bytes, cut into four 64-bit big-endian words, each
kept to its low 62 bits — and the digest is the lane-wise sum of those words modulo 2**62,
with the count. Adding an id adds its words, removing one subtracts them; the order of rows
and of writes does not matter, and an id listed, removed and listed again counts once (the
unique constraint makes a list a set; a sum, unlike an XOR, would not cancel a repeat anyway).

**One place keeps it: triggers** (migration ``campaigns.0012``), not the services. Every
``INSERT``, ``DELETE`` and ``UPDATE`` of ``campaigns_audiencemember`` — the import services, the
API, the admin, ``QuerySet.delete``, the cascade of an audience's deletion, raw SQL, ``COPY`` —
changes ``AudienceDigest`` in the same statement's transaction:

* PostgreSQL: statement-level triggers with transition tables, one aggregate upsert per
  statement (a 1,000,000-row ``COPY`` is one update of the row); ``sha256()`` is built in.
  ``INSERT … ON CONFLICT DO UPDATE`` and ``UPDATE … SET x = x + d`` are atomic, so two
  concurrent imports into one list never lose an update.
* SQLite: row-level triggers calling ``crier_member_lane(id, lane)``, a function this module
  registers on every connection Django opens (``register_sqlite_functions``). A connection
  without it (the ``sqlite3`` shell) cannot write members at all, rather than write them
  without their digest.

``TRUNCATE`` (PostgreSQL) bypasses row triggers; only a test flush uses it, and it empties the
digest table with the members. ``digest_drift`` recomputes every digest from the rows and
reports any difference (``manage.py check_audience_digests``; the tests run it after every
kind of write).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.backends.signals import connection_created

from campaigns.models import AudienceDigest, AudienceMember

LANES = 4
LANE_BITS = 62
LANE_MASK = (1 << LANE_BITS) - 1
SQLITE_FUNCTION = "crier_member_lane"


def member_lanes(external_id: str) -> tuple[int, ...]:
    """Return the four words ``external_id`` adds to its list's digest (see the module docstring)."""
    digest = hashlib.sha256(external_id.encode()).digest()
    return tuple(int.from_bytes(digest[8 * i : 8 * i + 8], "big") & LANE_MASK for i in range(LANES))


@dataclass(frozen=True)
class MemberDigest:
    """The count of an audience's listed ids and the hex of their lane sums."""

    count: int
    lanes: tuple[int, ...] = (0,) * LANES

    @property
    def hexdigest(self) -> str:
        return "".join(f"{lane:016x}" for lane in self.lanes)

    def as_data(self) -> dict[str, object]:
        """What the approval snapshot records (``campaigns.snapshot``)."""
        return {"count": self.count, "sum62x4": self.hexdigest}


def digest_of(external_ids: Iterable[str]) -> MemberDigest:
    """Return the digest of ``external_ids`` computed here, in Python (a recomputation)."""
    count, sums = 0, [0] * LANES
    for external_id in external_ids:
        count += 1
        for i, word in enumerate(member_lanes(external_id)):
            sums[i] = (sums[i] + word) & LANE_MASK
    return MemberDigest(count, tuple(sums))


def member_digest(audience_id: int) -> MemberDigest:
    """Return the maintained digest of an audience's listed ids: one row read by primary key."""
    row = (
        AudienceDigest.objects.filter(audience_id=audience_id)
        .values_list("count", "lane0", "lane1", "lane2", "lane3")
        .first()
    )
    if row is None:  # no id was ever listed
        return MemberDigest(0)
    return MemberDigest(row[0], tuple(row[1:]))


def member_digest_recomputed(audience_id: int) -> MemberDigest:
    """Return the digest of an audience's listed ids recomputed from the rows (streamed)."""
    ids = AudienceMember.objects.filter(audience_id=audience_id, suppressed=False).values_list(
        "external_id", flat=True
    )
    return digest_of(ids.iterator(chunk_size=5000))


def digest_drift(
    audience_ids: Iterable[int] | None = None,
) -> Iterator[tuple[int, MemberDigest, MemberDigest]]:
    """Yield ``(audience id, maintained, recomputed)`` for every audience whose maintained
    digest differs from its rows (all audiences with members or a digest row, or those given)."""
    if audience_ids is None:
        listed = set(AudienceMember.objects.values_list("audience_id", flat=True).distinct())
        audience_ids = sorted(listed | set(AudienceDigest.objects.values_list("audience_id", flat=True)))
    for audience_id in audience_ids:
        kept, recomputed = member_digest(audience_id), member_digest_recomputed(audience_id)
        if kept != recomputed:
            yield audience_id, kept, recomputed


def digest_lock(audience_id: int) -> None:
    """Lock the audience's digest row (creating it if needed) for the rest of the transaction.

    Member writes that run several statements in one transaction (a replacing import: delete,
    then insert) take this first, so two of them queue on the row instead of one holding it
    while waiting for an id the other inserted (a deadlock on PostgreSQL). Correctness does
    not depend on it: the triggers' updates are atomic either way.
    """
    AudienceDigest.objects.bulk_create([AudienceDigest(audience_id=audience_id)], ignore_conflicts=True)
    list(AudienceDigest.objects.select_for_update().filter(audience_id=audience_id).values_list("pk"))


# --- SQLite: the function the triggers call ----------------------------------------------------

_last: tuple[str, tuple[int, ...]] = ("", member_lanes(""))


def _sqlite_lane(external_id: str, lane: int) -> int:
    """``crier_member_lane(id, lane)``: a trigger asks for the four lanes of one id in a row."""
    global _last
    last = _last  # one read: another thread's call may replace it meanwhile
    if last[0] != external_id:
        last = _last = (external_id, member_lanes(external_id))
    return last[1][lane]


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """Give every SQLite connection Django opens the function the member triggers call."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 2, _sqlite_lane, deterministic=True)


def connect_signals() -> None:
    """Register the SQLite function on new connections, and on one already open (the app
    registry can be ready after the first connection, e.g. in a migration's process)."""
    connection_created.connect(register_sqlite_functions, dispatch_uid="campaigns.audience_digest_sqlite")
    if connection.vendor == "sqlite" and connection.connection is not None:
        register_sqlite_functions(None, connection)
