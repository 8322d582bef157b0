"""From planned ``Delivery`` rows to provider requests: read the next open chunk with its
recipients' addresses, build each request's :class:`~providers.base.Batch`, and send one."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from django.db import connection
from django.db.models import Q, QuerySet, TextField
from django.db.models.expressions import RawSQL

from campaigns.audiences.stream import address_sql
from campaigns.models import Delivery, Recipient
from campaigns.sending.collector import collector_paused
from campaigns.sending.ratelimit import TokenBucket
from campaigns.sending.stopflag import StopFlag
from campaigns.sending.transitions import OPEN_DELIVERY
from providers.base import Batch, Message, Outcome, Provider, Result, Target
from providers.fields import decrypt_address

logger = logging.getLogger(__name__)


class OpenDelivery:
    """A planned request as the send loop holds it: the columns it reads, and the outcome
    ``campaigns.sending.outcomes`` sets on it and writes back by primary key.

    Not a ``Delivery`` instance: building 200 model objects (and loading every column) a
    chunk was a third of reading it, on the loop's thread beside the sending threads
    (BENCHMARKS.md, "Third session"). ``provider_message_id`` is read because an outcome
    without one keeps the last; every other written column is set by each outcome.
    """

    __slots__ = (
        "pk",
        "idempotency_key",
        "targets",
        "routes",
        "selector",
        "status",
        "attempts",
        "provider_message_id",
        "provider_code",
        "provider_message",
        "next_attempt_at",
        "updated_at",
    )
    COLUMNS = __slots__[:8]

    def __init__(self, *values) -> None:
        (
            self.pk,
            self.idempotency_key,
            self.targets,
            self.routes,
            self.selector,
            self.status,
            self.attempts,
            self.provider_message_id,
        ) = values
        self.provider_code = self.provider_message = ""
        self.next_attempt_at = self.updated_at = None

    def __repr__(self) -> str:
        return f"<OpenDelivery {self.pk} {self.idempotency_key} {self.status}>"


@dataclass
class Chunk:
    """Open deliveries read together, and what their requests are built from.

    A request's :class:`~providers.base.Batch` is built by :meth:`batch` on the thread that
    sends it, right before it leaves, not when the chunk is read: built at the read, the
    200,000 targets of a chunk of Jiguang requests lived as long as the chunk did (it is
    read ahead of the one on the wire), and the garbage collector walked them again and
    again, on the two cores the PostgreSQL backend planning beside it needs (BENCHMARKS.md,
    "Fifth session")."""

    deliveries: list[OpenDelivery] = field(default_factory=list)
    provider: Provider | None = None
    # (address, language) of the targets whose addresses planning did not keep (_addresses).
    recipients: dict[str, tuple[str, str]] = field(default_factory=dict)

    def batch(self, delivery: OpenDelivery) -> Batch:
        """The request ``delivery`` sends."""
        assert self.provider is not None
        return batch_for(delivery, self.provider, self.recipients)

    def only(self, pks: set[int]) -> Chunk:
        """Return the part of this chunk whose deliveries have one of ``pks``."""
        return Chunk([d for d in self.deliveries if d.pk in pks], self.provider, self.recipients)


def _addresses(provider_kind: str, external_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(address at ``provider_kind``, language) of each recipient among ``external_ids``.

    The current address is read now: an Alipay+ access token is a credential, and a retry
    must use a refreshed one (docs/providers.md). Only that address is extracted, by the
    database (as the audience stream does), and only it decrypted: building a Recipient and
    decoding its whole address map per target was most of reading a chunk (BENCHMARKS.md,
    "This round"; before, decoding every column of 10,000 recipients: profile-jiguang.txt).
    """
    ids = list(external_ids)
    if not ids:
        return {}
    table = connection.ops.quote_name(Recipient._meta.db_table)
    column = connection.ops.quote_name(Recipient._meta.get_field("addresses").column)
    address = RawSQL(*address_sql(f"{table}.{column}", provider_kind), output_field=TextField())
    rows = (
        Recipient.objects.filter(external_id__in=ids)
        .annotate(_address=address)
        .values_list("external_id", "_address", "language")
    )
    return {external_id: (decrypt_address(stored or ""), language) for external_id, stored, language in rows}


def routed(delivery: Delivery | OpenDelivery) -> bool:
    """True when planning kept this delivery's addresses (so sending need not read them)."""
    return bool(delivery.routes) and len(delivery.routes) == len(delivery.targets)


def _looked_up(
    delivery: Delivery | OpenDelivery, provider: Provider, recipients: dict[str, tuple[str, str]]
) -> list[Target]:
    """Targets whose address and language are read from Recipient now (not kept by planning)."""
    targets = []
    for external_id in delivery.targets:
        address, language = recipients.get(external_id, ("", ""))
        if not address and not provider.address_is_credential:
            address = external_id
        targets.append(Target(external_id=external_id, address=address, language=language or ""))
    return targets


def batch_for(
    delivery: Delivery | OpenDelivery, provider: Provider, recipients: dict[str, tuple[str, str]]
) -> Batch:
    """Return the request ``delivery`` sends (``recipients``: addresses of unrouted targets)."""
    selector = delivery.selector or {}
    if routed(delivery):
        routes = delivery.routes
        if not isinstance(routes[0], str):  # [address, language] pairs: planned before 2026-12-07
            routes = [address for address, _language in routes]
        # Positional: 1,000 targets a Jiguang request (providers.base.Target).
        targets = [Target(i, address) for i, address in zip(delivery.targets, routes, strict=True)]
    else:
        targets = _looked_up(delivery, provider, recipients)
    if selector.get("preview"):
        return Batch(
            key=delivery.idempotency_key,
            targets=tuple(targets) if provider.limits.ids_per_request else (),
            preview=True,
            test_uids=tuple(delivery.targets),
        )
    return Batch(
        key=delivery.idempotency_key,
        targets=tuple(targets),
        tags=tuple(selector.get("tags", ())),
        segment=selector.get("segment", ""),
        params=selector.get("params") or {},
    )


def open_due(dispatch_id: int, now: datetime) -> QuerySet[Delivery]:
    """The dispatch's requests that are open (pending, retry) and due by ``now``: what the next
    chunk is read from, and what a dispatch may not finish past (``SendLoop._idle``)."""
    return Delivery.objects.filter(dispatch_id=dispatch_id, status__in=OPEN_DELIVERY).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def read_chunk(dispatch_id: int, provider: Provider, now: datetime, size: int) -> Chunk:
    """Read up to ``size`` open deliveries due by ``now``, in batch order, with the addresses
    of the targets planning did not route (their requests are built when sent: ``Chunk``).

    The garbage collector is paused meanwhile (``campaigns.sending.collector``): a chunk of
    Jiguang requests is 400 lists of 200,000 ids and addresses, decoded at once."""
    with collector_paused():
        rows = open_due(dispatch_id, now).order_by("batch_no").values_list(*OpenDelivery.COLUMNS)[:size]
        deliveries = [OpenDelivery(*row) for row in rows]
        recipients = _addresses(provider.kind, (t for d in deliveries if not routed(d) for t in d.targets))
        return Chunk(deliveries, provider, recipients)


def send_planned(
    provider: Provider,
    client: httpx.Client,
    bucket: TokenBucket,
    message: Message,
    chunk: Chunk,
    delivery: OpenDelivery,
    stop: StopFlag | None = None,
) -> Result | None:
    """Build ``delivery``'s request (``Chunk.batch``) and send it (``send_one``); a request
    that cannot be built fails like one the provider refused to build."""
    try:
        batch = chunk.batch(delivery)
    except Exception as exc:  # bad planned rows must not leave the delivery in flight
        logger.exception("building %s failed", delivery.idempotency_key)
        return Result(Outcome.FAILED, code="CLIENT_ERROR", message=f"{type(exc).__name__}: {exc}")
    return send_one(provider, client, bucket, message, batch, stop)


def send_one(
    provider: Provider,
    client: httpx.Client,
    bucket: TokenBucket,
    message: Message,
    batch: Batch,
    stop: StopFlag | None = None,
) -> Result | None:
    """Send one request within the rate limit; every failure becomes a Result, never an exception.

    Returns None when the request was *not issued* because sending halted (``stop``: the
    emergency stop or the cluster's shutdown), checked during the rate-limit wait and
    again right before the request leaves (issue #15 point 6); the caller puts it back.
    """
    if provider.limits.per_user and batch.targets and not batch.targets[0].address:
        return Result(
            Outcome.FAILED,
            code="NO_ADDRESS",
            message=f"recipient {batch.targets[0].external_id} has no {provider.kind} address",
        )
    if bucket.take(stop) is not None:
        return None
    if stop is not None and stop.halted() is not None:
        return None  # the token is spent; it is only rate budget, and sending has halted
    try:
        return provider.send(client, message, batch)
    except Exception as exc:  # a bug or bad input must not leave the delivery in flight
        logger.exception("building or sending %s failed", batch.key)
        return Result(Outcome.FAILED, code="CLIENT_ERROR", message=f"{type(exc).__name__}: {exc}")
