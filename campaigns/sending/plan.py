"""Planning: the provider requests one dispatch consists of, as ``Delivery`` rows.

Planning is done in committed steps (:class:`Planner`), each sendable as soon as it is
committed: the send loop sends what is planned while the rest is planned. Each step writes
its rows and moves the dispatch's planning cursor in one transaction (``total_requests``:
the last ``batch_no``; ``plan_after``: the audience's keyset position; skipped so far),
guarded by a compare-and-swap on the cursor, so a planner resuming after a crash or on
another worker neither plans a target twice nor skips one (docs/architecture.md,
*Execution model*). ``planned_at`` is set by the step that completes it. The audience is
streamed in keyset order, so memory stays flat in audience size. Each row carries a
deterministic idempotency key derived from campaign, occurrence and batch, which the
provider sees on every attempt (requestId, Msgkey, sendno: docs/providers.md).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns import stored_text
from campaigns.audiences.stream import SkipReason, TargetRow, iter_audience_targets
from campaigns.models import AudienceKind, Delivery, Dispatch
from campaigns.sending.inserts import insert_deliveries
from campaigns.sending.sqlplan import plan_window, sql_plannable
from campaigns.sending.transitions import OPEN_DELIVERY
from providers.base import Provider

PLAN_CHUNK = 1000
# A step commits at most this many requests…
BULK_SIZE = 2000
# …and at most this many targets: 2,000 Jiguang requests of 1,000 ids would otherwise hold
# two million ids in memory (memory flat in audience size)…
BULK_TARGETS = 20_000
# …and reads at most this many audience pages that yield no request (all skipped).
BULK_PAGES = 20
# A planning thread that is ``lead`` requests ahead of sending recounts when the send loop
# takes a chunk (``PlanThread.nudge``), and at the latest after this many seconds. Recounting
# every 50 ms instead was 6.7 % of the worker's GIL time while an Alipay+ dispatch was sent,
# all of it taken from the sending threads (BENCHMARKS.md, "Third session").
LEAD_WAIT = 0.5


class DispatchRefused(Exception):
    """The dispatch must not be sent (stale approval, impossible audience, …)."""


class PlanConflict(Exception):
    """Another planner moved this dispatch's planning cursor first, or the claim was lost."""


def _key_prefix(dispatch: Dispatch) -> str:
    kind = "p" if dispatch.is_preview else "d"
    # To the microsecond, like the (campaign, due_at) uniqueness of the dispatch itself:
    # two occurrences in one second (a quick re-approval of a "now" campaign) differ.
    return f"crier-{dispatch.campaign_id}-{kind}{dispatch.due_at:%Y%m%d%H%M%S%f}-"


def idempotency_key(dispatch: Dispatch, batch_no: int) -> str:
    """Return the deterministic key of one request: campaign, occurrence and batch (<= 64 chars)."""
    return f"{_key_prefix(dispatch)}{batch_no}"


@dataclass(frozen=True)
class PlannedRequest:
    targets: tuple[str, ...] = ()
    selector: dict | None = None
    # The address of each target, when planning may keep them (see Delivery.routes).
    routes: tuple[str, ...] = ()


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


def _id_requests(
    dispatch: Dispatch, provider: Provider, after: int, skip_log: list
) -> Iterator[tuple[PlannedRequest | None, int]]:
    """Requests that list their recipients' ids, streaming the audience after ``after``.

    Yields (request, position of its last target), and (None, position) after a page that
    left no target waiting: everything up to ``position`` is planned or skipped. The
    stream's skipped recipients are appended to ``skip_log`` as (position, reason).
    """
    campaign = dispatch.campaign
    audience = campaign.audience
    size = provider.limits.ids_per_request
    if size < 1:
        raise DispatchRefused(
            f"provider {provider.kind!r} only broadcasts to everyone; audience {audience.name!r} "
            f"is of kind {audience.kind!r}"
        )
    # An address that is a credential (an Alipay+ access token) is not copied into
    # Delivery.routes: sending reads the current one from Recipient. So planning only asks
    # whether there is one, without decrypting it (BENCHMARKS.md, "This round").
    keep_routes = not provider.address_is_credential
    stream = iter_audience_targets(
        audience,
        provider_kind=provider.kind,
        template_key=campaign.template.key,
        chunk_size=PLAN_CHUNK,
        after=after,
        log_skips=True,
        decrypt=keep_routes,
    )
    stream.skip_log = skip_log

    def planned(rows: list[TargetRow]) -> tuple[PlannedRequest, int]:
        routes = tuple(row.address for row in rows) if keep_routes else ()
        request = PlannedRequest(targets=tuple(row.external_id for row in rows), routes=routes)
        return request, rows[-1].position

    pending: list[TargetRow] = []
    for page in stream.pages():
        pending.extend(page)
        while len(pending) >= size:
            yield planned(pending[:size])
            del pending[:size]
        if not pending:
            yield None, stream.position
    if pending:
        yield planned(pending)


def _listed_requests(dispatch: Dispatch, provider: Provider) -> list[PlannedRequest] | None:
    """The few requests planned as a list (a preview, a provider-side selection); None when
    the audience is sent as ids."""
    if dispatch.is_preview:
        return list(_preview_requests(dispatch, provider))
    return _selector_requests(dispatch, provider)


def _skipped_detail(skipped: Counter) -> str:
    return stored_text.skipped(dict(skipped))


def _drain(log: list[tuple[int, str]], up_to: int | None) -> Counter:
    """Remove and count the skips at positions up to ``up_to`` (all of them: None)."""
    if up_to is None:
        n = len(log)
    else:
        n = 0
        while n < len(log) and log[n][0] <= up_to:
            n += 1
    counted = Counter(reason for _position, reason in log[:n])
    del log[:n]
    return counted


@contextmanager
def _conflicts_refused(dispatch: Dispatch) -> Iterator[None]:
    """A step writes its rows first and moves the cursor last (the compare-and-swap), so the
    dispatch row is locked only from that ``UPDATE`` to the commit, not for the whole step:
    locked for the step, it held up the send loop's heartbeat on the same row for as long
    (39 ms a chunk, a third of a 10-request Jiguang chunk; BENCHMARKS.md, *This round*). A
    planner whose cursor is stale either finds its first ``batch_no`` taken (the unique
    (dispatch, batch_no) refuses it) or its compare-and-swap matching nothing; both roll the
    step back and are a :class:`PlanConflict`."""
    try:
        yield
    except IntegrityError as exc:
        raise PlanConflict(f"dispatch {dispatch.pk}: another worker planned it meanwhile") from exc


class Planner:
    """Plan one dispatch step by step from its planning cursor (see the module's docstring).

    One planner lives in one send loop; a new one (another task, another worker) resumes
    from the cursor committed last. :meth:`step` raises :class:`DispatchRefused` when the
    dispatch cannot be planned at all (only on its first step) and :class:`PlanConflict`
    when another planner committed first.

    Once the send loop sees the occurrence's expiry it sets ``expired``: the remaining steps
    then plan no request, only count their targets as skipped (``SkipReason.EXPIRED``), so
    the rest of the audience is not written only to be marked expired; planning still
    completes step by step from the committed cursor (``finish.dispatch_finish`` counts
    them as requests that did not arrive).
    """

    def __init__(self, dispatch: Dispatch, provider: Provider, *, me: str = "", sql: bool = True) -> None:
        self.dispatch = dispatch
        self.provider = provider
        self.me = me  # the worker holding the dispatch: only its claim may plan (none: any)
        self.done = dispatch.planned_at is not None
        self._source: Iterator[tuple[PlannedRequest | None, int]] | None = None
        self._skip_log: list[tuple[int, str]] = []
        self._reasons = Counter(dispatch.skipped_reasons or {})
        self._sql = False  # planned in SQL (PostgreSQL, ids: campaigns.sending.sqlplan)
        self._sql_allowed = sql  # False: the Python path, as on SQLite (tests compare the two)
        self.expired = False

    def _requests(self, listed: list[PlannedRequest] | None) -> Iterator[tuple[PlannedRequest | None, int]]:
        if listed is None:
            return _id_requests(self.dispatch, self.provider, self.dispatch.plan_after, self._skip_log)
        # A short, deterministic list: resume after the requests already planned.
        return ((request, 0) for request in islice(listed, self.dispatch.total_requests, None))

    def step(self, max_requests: int = BULK_SIZE, max_targets: int = BULK_TARGETS) -> int:
        """Plan and commit the next requests (at most ``max_requests`` and ``max_targets``
        targets, at least one); return how many. Completes planning at the audience's end."""
        if self.done:
            return 0
        if self._source is None and not self._sql:
            listed = _listed_requests(self.dispatch, self.provider)
            if listed is None and self._sql_allowed and sql_plannable(self.provider):
                self._sql = True  # ids on PostgreSQL: the step is one statement (sqlplan.py)
            else:
                self._source = self._requests(listed)
        if self._sql:
            return self._sql_step(max_requests, max_targets)
        assert self._source is not None
        dispatch = self.dispatch
        requests: list[PlannedRequest] = []
        targets = pages = 0
        position = dispatch.plan_after
        finished = False
        while len(requests) < max_requests and targets < max_targets and pages < BULK_PAGES:
            item = next(self._source, None)
            if item is None:
                finished = True
                break
            request, position = item
            if request is None:
                pages += 1
                continue
            requests.append(request)
            targets += len(request.targets)
        expired = Counter()
        if self.expired:  # counted, not planned (a request of a provider-side selection: one)
            expired[SkipReason.EXPIRED] = sum(len(r.targets) or 1 for r in requests)
            requests = []
        self._commit(requests, position, finished, +expired)
        return len(requests)

    def _cas(self):
        """The dispatch row as this planner last saw it: what the compare-and-swap matches."""
        dispatch = self.dispatch
        claim = {"claimed_by": self.me} if self.me else {}
        return Dispatch.objects.filter(
            pk=dispatch.pk,
            total_requests=dispatch.total_requests,
            plan_after=dispatch.plan_after,
            planned_at__isnull=True,
            **claim,
        )

    def _changes(self, requests: int, targets: int, skipped: Counter, position: int, finished: bool) -> dict:
        changes = {
            "total_requests": self.dispatch.total_requests + requests,
            "total_recipients": F("total_recipients") + targets,
            "skipped": F("skipped") + sum(skipped.values()),
            "plan_after": position,
            "skipped_reasons": dict(self._reasons + skipped),
        }
        if finished:
            changes.update(planned_at=timezone.now(), detail=_skipped_detail(self._reasons + skipped))
        return changes

    def _advance(self, changes: dict, targets: int, skipped: Counter, finished: bool) -> None:
        """The committed step, in memory (the next compare-and-swap expects it)."""
        dispatch = self.dispatch
        dispatch.total_requests = changes["total_requests"]
        dispatch.total_recipients += targets
        dispatch.skipped += sum(skipped.values())
        dispatch.plan_after = changes["plan_after"]
        dispatch.skipped_reasons = changes["skipped_reasons"]
        self._reasons = Counter(changes["skipped_reasons"])
        if finished:
            dispatch.planned_at = changes["planned_at"]
            dispatch.detail = changes["detail"]
            self.done = True

    def _commit(
        self, requests: list[PlannedRequest], position: int, finished: bool, expired: Counter | None = None
    ) -> None:
        """Write the step's rows and move the cursor in one transaction (compare-and-swap)."""
        dispatch = self.dispatch
        skipped = _drain(self._skip_log, None if finished else position) + (expired or Counter())
        targets = sum(len(r.targets) for r in requests)
        changes = self._changes(len(requests), targets, skipped, position, finished)
        first = dispatch.total_requests + 1
        prefix = _key_prefix(dispatch)  # idempotency_key's, formatted once a step
        with _conflicts_refused(dispatch), transaction.atomic():
            insert_deliveries(
                [
                    (
                        dispatch.pk,
                        batch_no,
                        f"{prefix}{batch_no}",
                        list(request.targets),
                        list(request.routes),
                        len(request.targets),
                        request.selector or {},
                    )
                    for batch_no, request in enumerate(requests, start=first)
                ]
            )
            if not self._cas().update(**changes):
                raise PlanConflict(f"dispatch {dispatch.pk}: another worker planned it meanwhile")
        self._advance(changes, targets, skipped, finished)

    def _sql_step(self, max_requests: int, max_targets: int) -> int:
        """One step planned by one statement (``sqlplan.plan_window``), then the cursor moved by
        the compare-and-swap, in the same transaction (docs/architecture.md, *Planning*; see
        :func:`_conflicts_refused` for why the rows go first)."""
        dispatch = self.dispatch
        with _conflicts_refused(dispatch), transaction.atomic():
            window = plan_window(
                dispatch, self.provider, prefix=_key_prefix(dispatch), max_requests=max_requests,
                max_targets=max_targets, expired=self.expired,
            )
            skipped = Counter(window.skipped)
            targets = window.targets
            if self.expired:  # counted, not planned, as in step()
                skipped[SkipReason.EXPIRED] += targets
                targets = 0
            skipped = +skipped
            changes = self._changes(window.requests, targets, skipped, window.position, window.finished)
            if not self._cas().update(**changes):
                raise PlanConflict(f"dispatch {dispatch.pk}: another worker planned it meanwhile")
        self._advance(changes, targets, skipped, window.finished)
        return window.requests


class PlanThread(threading.Thread):
    """Plan a dispatch step after step on a thread (and database connection) of its own,
    beside its send loop, until planning is done, a conflict, or :meth:`stop`.

    Planned on the loop's own thread, each step waited for the chunk on the wire and each
    chunk for the step: a 10,000,000-id dispatch took the sum of both (BENCHMARKS.md,
    *This round*). Nothing about exactly once changes: every step is still the planner's
    compare-and-swap on the cursor and the claim (docs/architecture.md, *Execution model*).
    It keeps at most ``lead`` requests planned and not yet sent: enough that sending never
    waits, few enough that an emergency stop, an expiry or a cancellation leaves little
    planned in vain (and the first requests of a resumed dispatch are not queued behind
    millions of rows). ``lost`` is set on :class:`PlanConflict`, ``error`` holds any other
    exception for the loop to raise; ``stepped`` is set after every step and at the end.
    The loop calls :meth:`nudge` whenever it takes planned requests, so a thread that is far
    enough ahead waits for that instead of polling the database.
    """

    def __init__(self, planner: Planner, max_requests: int, *, lead: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.planner = planner
        self.max_requests = max_requests
        self.lead = lead
        self.stopped = threading.Event()
        self.stepped = threading.Event()
        self.nudged = threading.Event()
        self.lost = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopped.is_set() and not self.planner.done:
                self.nudged.clear()  # before counting: a nudge from now on ends the wait below
                if self._unsent() >= self.lead:
                    self.nudged.wait(LEAD_WAIT)  # far enough ahead: until sending takes a chunk
                    continue
                # Past the expiry a step only counts (Planner.expired): its largest steps will do.
                self.planner.step(max_requests=BULK_SIZE if self.planner.expired else self.max_requests)
                self.stepped.set()
        except PlanConflict:
            self.lost = True
        except BaseException as exc:  # raised again on the loop's thread
            self.error = exc
        finally:
            self.stepped.set()
            connection.close()

    def _unsent(self) -> int:
        """How many of the dispatch's requests are planned and still open (at most ``lead``)."""
        unsent = Delivery.objects.filter(dispatch_id=self.planner.dispatch.pk, status__in=OPEN_DELIVERY)
        return unsent[: self.lead].count()

    def nudge(self) -> None:
        """Tell the thread that sending took planned requests: it counts again at once."""
        self.nudged.set()

    def wait_step(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the next step (or the end)."""
        self.stepped.wait(timeout)
        self.stepped.clear()

    def stop(self) -> None:
        """Plan no further step; wait for the one being committed, if any."""
        self.stopped.set()
        self.nudged.set()  # a thread waiting to recount ends now
        self.join(timeout=60)


def dispatch_plan(dispatch: Dispatch, provider: Provider) -> None:
    """Plan every remaining Delivery of ``dispatch`` (committed step by step; see Planner)."""
    planner = Planner(dispatch, provider)
    while not planner.done:
        planner.step()
