"""Per-user delivery receipts reported by providers after they accepted a request.

Jiguang UMS (VIP) posts status callbacks in batches (every 100 records or 10 s) to a URL
registered in its console — Crier's is ``/callbacks/jiguang/<account id>/``
(``campaigns.sending.callbacks``). Each record says what happened to one user of one message:
``type`` 0 target valid, 1 target invalid, 2 submitted, 3 submit failed, 4 delivered,
5 delivery failed, 6 clicked, 7 retracted, 8 retract failed (PROVIDERS.md §4.8).

:func:`receipts_record_jiguang` matches each record to the delivery that sent it
(``msgid`` → ``Delivery.provider_message_id``, of that account's campaigns) and to the
recipient (``userid`` → the delivery's target whose Jiguang address, or external id, it
is) and stores a :class:`~campaigns.models.DeliveryReceipt`. Receipts are unique on
(delivery, user, status) and inserted with ``ignore_conflicts``: Jiguang retries a batch
every 50 s up to three times when it did not get a 200, so the same batch arriving again
changes nothing. Records for messages Crier did not send (or another account's) are
counted as unmatched and dropped.

The selectors feed the campaign report: :func:`campaign_receipt_counts` (users per
status) and :func:`campaign_receipts_by_user` (delivered / clicked / failed per user).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryReceipt, ReceiptStatus, Recipient
from providers.models import ProviderAccount

JIGUANG_TYPES: dict[int, str] = {
    0: ReceiptStatus.TARGET_VALID,
    1: ReceiptStatus.TARGET_INVALID,
    2: ReceiptStatus.SUBMITTED,
    3: ReceiptStatus.SUBMIT_FAILED,
    4: ReceiptStatus.DELIVERED,
    5: ReceiptStatus.DELIVERY_FAILED,
    6: ReceiptStatus.CLICKED,
    7: ReceiptStatus.RETRACTED,
    8: ReceiptStatus.RETRACT_FAILED,
}
FAILED_STATUSES = frozenset(
    {ReceiptStatus.TARGET_INVALID, ReceiptStatus.SUBMIT_FAILED, ReceiptStatus.DELIVERY_FAILED}
)
# Record fields kept on the receipt besides those it is keyed by.
DETAIL_FIELDS = ("channel", "sender_id", "error", "code", "message", "params")


@dataclass
class ReceiptReport:
    """What one callback batch did: records received, stored, already known, unmatched, invalid."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    invalid: int = 0
    deliveries: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        """Return the counts (the answer Crier gives the provider)."""
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "unmatched": self.unmatched,
            "invalid": self.invalid,
        }


def _moment(value: Any) -> datetime:
    """Return the record's time (Unix ms or s, or ISO 8601); now when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return timezone.now()
    if isinstance(value, str) and value:
        if value.isdigit():
            return _moment(int(value))
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return timezone.now()
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return timezone.now()


def _user_lookup(deliveries: Iterable[Delivery], kind: str) -> dict[int, dict[str, str]]:
    """Return, per delivery, the provider's user id → our external id of its targets."""
    deliveries = list(deliveries)
    wanted = {target for d in deliveries for target in d.targets}
    addresses = {
        r.external_id: (r.addresses or {}).get(kind, "")
        for r in Recipient.objects.filter(external_id__in=wanted).only("external_id", "addresses")
    }
    lookup: dict[int, dict[str, str]] = {}
    for delivery in deliveries:
        mapping = {}
        for external_id in delivery.targets:
            mapping[external_id] = external_id
            if addresses.get(external_id):
                mapping[addresses[external_id]] = external_id
        lookup[delivery.pk] = mapping
    return lookup


def receipts_record_jiguang(*, account: ProviderAccount, records: Iterable[Any]) -> ReceiptReport:
    """Store the per-user outcomes of one Jiguang status-callback batch; return what it did.

    Idempotent: a batch posted again (Jiguang retries) stores nothing new. Records naming
    another channel key, an unknown type or no msgid are counted ``invalid``; those whose
    msgid is not a delivery of ``account`` are ``unmatched``.
    """
    report = ReceiptReport()
    channel_key = account.get_credentials().get("channel_key", "")
    parsed: list[tuple[str, str, str, datetime, dict[str, Any]]] = []
    for record in records:
        report.received += 1
        if not isinstance(record, Mapping):
            report.invalid += 1
            continue
        kind = record.get("type")
        msgid = record.get("msgid")
        sender = record.get("channelkey")
        if (
            isinstance(kind, bool)
            or kind not in JIGUANG_TYPES
            or not isinstance(msgid, str)
            or not msgid
            or (sender not in (None, "") and sender != channel_key)
        ):
            report.invalid += 1
            continue
        userid = record.get("userid")
        userid = str(userid) if userid not in (None, "") else ""
        detail = {name: record[name] for name in DETAIL_FIELDS if name in record}
        parsed.append((msgid, userid[:128], JIGUANG_TYPES[kind], _moment(record.get("time")), detail))
    if not parsed:
        return report
    deliveries: dict[str, Delivery] = {}
    for delivery in (
        Delivery.objects.filter(
            provider_message_id__in={msgid for msgid, *_ in parsed},
            dispatch__campaign__provider_account=account,
        )
        .only("id", "targets", "provider_message_id")
        .order_by("id")
    ):
        deliveries.setdefault(delivery.provider_message_id, delivery)
    lookup = _user_lookup(deliveries.values(), account.kind)
    wanted: dict[tuple[int, str, str], DeliveryReceipt] = {}
    for msgid, userid, status, at, detail in parsed:
        delivery = deliveries.get(msgid)
        if delivery is None:
            report.unmatched += 1
            continue
        user = lookup[delivery.pk].get(userid, userid)
        key = (delivery.pk, user, status)
        if key in wanted:
            report.duplicates += 1
            continue
        wanted[key] = DeliveryReceipt(
            delivery_id=delivery.pk,
            user_id=user,
            provider_user_id=userid,
            status=status,
            at=at,
            detail=detail,
        )
    if not wanted:
        return report
    with transaction.atomic():
        known = set(
            DeliveryReceipt.objects.filter(delivery_id__in={k[0] for k in wanted})
            .filter(user_id__in={k[1] for k in wanted})
            .values_list("delivery_id", "user_id", "status")
        )
        new = [receipt for key, receipt in wanted.items() if key not in known]
        report.duplicates += len(wanted) - len(new)
        # ignore_conflicts: a concurrent retry of the same batch stores nothing twice.
        DeliveryReceipt.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
        report.stored = len(new)
        report.deliveries = {receipt.delivery_id for receipt in new}
        if report.deliveries:
            Delivery.objects.filter(pk__in=report.deliveries).update(updated_at=timezone.now())
    return report


# --- selectors for the campaign report --------------------------------------------------


def campaign_receipt_counts(*, campaign: Campaign) -> dict[str, int]:
    """Return how many distinct users of ``campaign`` (previews excluded) reached each status."""
    rows = (
        DeliveryReceipt.objects.filter(
            delivery__dispatch__campaign=campaign, delivery__dispatch__is_preview=False
        )
        .values("status")
        .annotate(users=Count("user_id", distinct=True))
    )
    counts = {status: 0 for status in ReceiptStatus.values}
    counts.update({row["status"]: row["users"] for row in rows})
    return counts


@dataclass(frozen=True)
class UserReceipts:
    """One user's outcome in a campaign: first time delivered and clicked, failures."""

    user_id: str
    delivered_at: datetime | None
    clicked_at: datetime | None
    failed: tuple[str, ...]
    statuses: Mapping[str, datetime]


def campaign_receipts_by_user(
    *, campaign: Campaign, dispatch_id: int | None = None, limit: int | None = None
) -> list[UserReceipts]:
    """Return each user's receipts in ``campaign`` (or one of its dispatches), by user id.

    ``delivered_at`` / ``clicked_at`` are the first such report; ``failed`` lists the
    failure statuses reported (target invalid, submit or delivery failed).
    """
    receipts = DeliveryReceipt.objects.filter(
        delivery__dispatch__campaign=campaign, delivery__dispatch__is_preview=False
    )
    if dispatch_id is not None:
        receipts = receipts.filter(delivery__dispatch_id=dispatch_id)
    rows = receipts.values("user_id", "status").annotate(at=Min("at")).order_by("user_id", "at")
    users: dict[str, dict[str, datetime]] = {}
    for row in rows:
        if limit is not None and row["user_id"] not in users and len(users) >= limit:
            break
        users.setdefault(row["user_id"], {})[row["status"]] = row["at"]
    return [
        UserReceipts(
            user_id=user,
            delivered_at=statuses.get(ReceiptStatus.DELIVERED),
            clicked_at=statuses.get(ReceiptStatus.CLICKED),
            failed=tuple(s for s in statuses if s in FAILED_STATUSES),
            statuses=statuses,
        )
        for user, statuses in users.items()
    ]
