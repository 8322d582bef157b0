"""Per-user delivery receipts reported by providers after they accepted a request.

A provider that declares ``receives_callbacks`` (Jiguang UMS, VIP) posts status batches to
``/callbacks/<kind>/<account id>/`` (``campaigns.sending.callbacks``); the provider reads
them into :class:`providers.base.Receipt` records (``Provider.parse_callback``: message
id, the provider's user id, one of :class:`~campaigns.models.ReceiptStatus`, time).

:func:`receipts_record` matches each receipt to the delivery that sent it (message id →
``Delivery.provider_message_id``, of that account's campaigns) and to the recipient (the
provider's user id → the delivery's target whose address there, or external id, it is)
and stores a :class:`~campaigns.models.DeliveryReceipt`. Receipts are unique on
(delivery, user, status) and inserted with ``ignore_conflicts``: providers retry a batch
that did not get a 200 (Jiguang every 50 s, up to three times), so the same batch
arriving again changes nothing. Receipts for messages Crier did not send (or another
account's) are counted as unmatched and dropped; receipts naming a user the delivery never
targeted (a request to a list of user ids, and a user id not among them, by address or
external id) are counted as ignored and dropped: they would put users into the report who
were never sent anything. A record without a user id (Jiguang's custom channel registration
ids carry none) and receipts of a provider-side broadcast (a delivery without targets) are
kept.

The selectors feed the campaign report: :func:`campaign_receipt_counts` (users per
status) and :func:`campaign_receipts_by_user` (delivered / clicked / failed per user).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryReceipt, ReceiptStatus, Recipient
from providers.base import CallbackBatch
from providers.models import ProviderAccount

FAILED_STATUSES = frozenset(
    {ReceiptStatus.TARGET_INVALID, ReceiptStatus.SUBMIT_FAILED, ReceiptStatus.DELIVERY_FAILED}
)


@dataclass
class ReceiptReport:
    """What one callback batch did: records received, stored, already known, unmatched,
    ignored (a user the delivery never targeted), invalid."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    ignored: int = 0
    invalid: int = 0
    deliveries: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        """Return the counts (the answer Crier gives the provider)."""
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "unmatched": self.unmatched,
            "ignored": self.ignored,
            "invalid": self.invalid,
        }


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


def receipts_record(*, account: ProviderAccount, batch: CallbackBatch) -> ReceiptReport:
    """Store the per-user outcomes of one callback batch of ``account``; return what it did.

    Idempotent: a batch posted again (providers retry) stores nothing new. Records the
    provider could not read, or with a status Crier does not know, are counted ``invalid``;
    those whose message id is not a delivery of ``account`` are ``unmatched``; those naming a
    user the delivery never targeted are ``ignored``.
    """
    report = ReceiptReport(received=batch.received, invalid=batch.invalid)
    known_statuses = set(ReceiptStatus.values)
    parsed = [r for r in batch.receipts if r.status in known_statuses]
    report.invalid += len(batch.receipts) - len(parsed)
    if not parsed:
        return report
    deliveries: dict[str, Delivery] = {}
    for delivery in (
        Delivery.objects.filter(
            provider_message_id__in={r.message_id for r in parsed},
            dispatch__campaign__provider_account=account,
        )
        .only("id", "targets", "provider_message_id")
        .order_by("id")
    ):
        deliveries.setdefault(delivery.provider_message_id, delivery)
    lookup = _user_lookup(deliveries.values(), account.kind)
    wanted: dict[tuple[int, str, str], DeliveryReceipt] = {}
    for receipt in parsed:
        delivery = deliveries.get(receipt.message_id)
        if delivery is None:
            report.unmatched += 1
            continue
        targeted = lookup[delivery.pk]
        if receipt.user and delivery.targets and receipt.user not in targeted:
            report.ignored += 1
            continue
        user = targeted.get(receipt.user, receipt.user)
        key = (delivery.pk, user, receipt.status)
        if key in wanted:
            report.duplicates += 1
            continue
        wanted[key] = DeliveryReceipt(
            delivery_id=delivery.pk,
            user_id=user,
            provider_user_id=receipt.user,
            status=receipt.status,
            at=receipt.at or timezone.now(),
            detail=dict(receipt.detail),
        )
    if wanted:
        _store(report, wanted)
    return report


def _store(report: ReceiptReport, wanted: dict[tuple[int, str, str], DeliveryReceipt]) -> None:
    """Insert the receipts not stored yet and touch their deliveries; count what was new."""
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
