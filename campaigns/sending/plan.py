"""Planning: the provider requests one dispatch consists of, as ``Delivery`` rows.

Every :class:`~campaigns.models.Delivery` of a dispatch is created in one transaction (all
or nothing), streaming the audience in chunks so memory stays flat in audience size. Each
carries a deterministic idempotency key derived from campaign, occurrence and batch, which
the provider sees on every attempt (requestId, Msgkey, sendno: docs/providers.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from campaigns import stored_text
from campaigns.audiences.stream import TargetRow, iter_audience_targets
from campaigns.models import AudienceKind, Delivery, Dispatch
from providers.base import Provider

PLAN_CHUNK = 1000
BULK_SIZE = 2000
# Also flush planned deliveries after this many targets: 2,000 Jiguang requests of 1,000
# ids would otherwise hold two million ids in memory (memory flat in audience size).
BULK_TARGETS = 20_000


class DispatchRefused(Exception):
    """The dispatch must not be sent (stale approval, impossible audience, …)."""


def idempotency_key(dispatch: Dispatch, batch_no: int) -> str:
    """Return the deterministic key of one request: campaign, occurrence and batch (<= 64 chars)."""
    kind = "p" if dispatch.is_preview else "d"
    # To the microsecond, like the (campaign, due_at) uniqueness of the dispatch itself:
    # two occurrences in one second (a quick re-approval of a "now" campaign) differ.
    return f"crier-{dispatch.campaign_id}-{kind}{dispatch.due_at:%Y%m%d%H%M%S%f}-{batch_no}"


@dataclass(frozen=True)
class PlannedRequest:
    targets: tuple[str, ...] = ()
    selector: dict | None = None
    # (address, language) per target, when planning may keep them (see Delivery.routes).
    routes: tuple[tuple[str, str], ...] = ()


def _preview_requests(dispatch: Dispatch, provider: Provider) -> Iterator[PlannedRequest]:
    """A preview goes to the campaign's test uids: one request each, or one for all of them."""
    limits = provider.limits
    uids = tuple(str(u) for u in (dispatch.campaign.test_uids or []))[: limits.test_uids]
    if not uids:
        raise DispatchRefused("the campaign has no test uids to preview to")
    if limits.per_user:
        for uid in uids:
            yield PlannedRequest(targets=(uid,))
    else:
        yield PlannedRequest(targets=uids, selector={"preview": True})


def _selector_requests(dispatch: Dispatch, provider: Provider) -> list[PlannedRequest] | None:
    """Requests where the provider selects the recipients (everyone, a segment, tags); None
    when the audience must be sent as a list of ids."""
    campaign = dispatch.campaign
    audience = campaign.audience
    limits = provider.limits
    if audience.kind == AudienceKind.ALL and limits.broadcast:
        # One request per variant (mPaaS: one per DeliveryType when a campaign targets several).
        options = campaign.provider_options if isinstance(campaign.provider_options, dict) else {}
        return [
            PlannedRequest(selector={"params": params} if params else None)
            for params in provider.request_variants(options)
        ]
    if audience.kind == AudienceKind.SEGMENT:
        if limits.segments_per_request < 1:
            raise DispatchRefused(f"provider {provider.kind!r} cannot send to a provider segment")
        return [PlannedRequest(selector={"segment": audience.segment})]
    if audience.kind == AudienceKind.TAGS and limits.tags_per_request > 0:
        tags = list(audience.tags or [])
        step = limits.tags_per_request
        chunks = (tags[start : start + step] for start in range(0, len(tags), step))
        return [PlannedRequest(selector={"tags": chunk}) for chunk in chunks]
    return None


def _id_requests(dispatch: Dispatch, provider: Provider, skipped: Counter) -> Iterator[PlannedRequest]:
    """Requests that list their recipients' ids, streaming the audience in chunks."""
    campaign = dispatch.campaign
    audience = campaign.audience
    size = provider.limits.ids_per_request
    if size < 1:
        raise DispatchRefused(
            f"provider {provider.kind!r} only broadcasts to everyone; audience {audience.name!r} "
            f"is of kind {audience.kind!r}"
        )
    stream = iter_audience_targets(
        audience, provider_kind=provider.kind, template_key=campaign.template.key, chunk_size=PLAN_CHUNK
    )
    # An address that is a credential (an Alipay+ access token) is not copied into
    # Delivery.routes: sending reads the current one from Recipient.
    keep_routes = not provider.address_is_credential

    def planned(rows: list[TargetRow]) -> PlannedRequest:
        routes = tuple((row.address, row.language) for row in rows) if keep_routes else ()
        return PlannedRequest(targets=tuple(row.external_id for row in rows), routes=routes)

    pending: list[TargetRow] = []
    for chunk in stream.chunks():
        pending.extend(chunk)
        while len(pending) >= size:
            yield planned(pending[:size])
            del pending[:size]
    if pending:
        yield planned(pending)
    skipped.update(stream.skipped)


def _plan_requests(dispatch: Dispatch, provider: Provider, skipped: Counter) -> Iterator[PlannedRequest]:
    """Yield the provider requests a dispatch consists of, streaming the audience."""
    if dispatch.is_preview:
        yield from _preview_requests(dispatch, provider)
        return
    selected = _selector_requests(dispatch, provider)
    if selected is not None:
        yield from selected
        return
    yield from _id_requests(dispatch, provider, skipped)


def _skipped_detail(skipped: Counter) -> str:
    return stored_text.skipped(dict(skipped))


def dispatch_plan(dispatch: Dispatch, provider: Provider) -> None:
    """Create every Delivery of ``dispatch`` in one transaction (all or nothing)."""
    skipped: Counter = Counter()
    batch_no = 0
    recipients = 0
    with transaction.atomic():
        buffer: list[Delivery] = []
        buffered_targets = 0
        for planned in _plan_requests(dispatch, provider, skipped):
            batch_no += 1
            recipients += len(planned.targets)
            buffer.append(
                Delivery(
                    dispatch=dispatch,
                    batch_no=batch_no,
                    idempotency_key=idempotency_key(dispatch, batch_no),
                    targets=list(planned.targets),
                    routes=[list(route) for route in planned.routes],
                    target_count=len(planned.targets),
                    selector=planned.selector or {},
                )
            )
            buffered_targets += len(planned.targets)
            if len(buffer) >= BULK_SIZE or buffered_targets >= BULK_TARGETS:
                Delivery.objects.bulk_create(buffer)
                buffer = []
                buffered_targets = 0
        if buffer:
            Delivery.objects.bulk_create(buffer)
        Dispatch.objects.filter(pk=dispatch.pk).update(
            planned_at=timezone.now(),
            total_requests=batch_no,
            total_recipients=recipients,
            skipped=sum(skipped.values()),
            detail=_skipped_detail(skipped),
        )
