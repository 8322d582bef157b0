"""``GET /metrics``: Prometheus metrics for operators (docs/metrics.md lists every family).

Two sources make one answer:

* what processes observed while working (provider request latency, delivery outcomes,
  schedule lateness: ``observability.metrics``), summed over every process's files in
  ``PROMETHEUS_MULTIPROC_DIR`` by prometheus-client's ``MultiProcessCollector``, so a
  value a qcluster worker observed shows in whichever web process answers;
* the state of the ledger, read from the database at scrape time by
  :class:`LedgerCollector` (dispatches by status, what waits for people, the ticker's last
  round, the emergency stop) and the queue's depth from django-q2's broker. Read at scrape
  time, these are right however many processes there are and need no bookkeeping.

Only ``Authorization: Bearer <CRIER_METRICS_TOKEN>`` is answered (compared in constant
time); a wrong or missing token is 401, and with no token configured the endpoint is off
(403). A source that fails (database or broker unreachable) is left out and reported by
``crier_metrics_source_up``, so the scrape still answers.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus, Lease, SendSwitch
from campaigns.tasks import TICKER_LEASE
from observability.metrics import series_declared
from providers.registry import PROVIDERS

logger = logging.getLogger(__name__)


def ticker_lease_seconds() -> float:
    """How far ahead each ticker round renews its lease: the ``ttl`` of
    ``campaigns.tasks.dispatcher_loop`` (five ticks and 5 s)."""
    return settings.CRIER_DISPATCH_TICK_SECONDS * 5 + 5


def ticker_last_round_age(now=None) -> float:
    """Seconds since the dispatcher ticker's last round, from its lease row (+inf: never ran).

    Each round renews the lease to ``now + ttl``, so the round was at ``expires_at - ttl``.
    A lease handed over (at the end of each ticker task) or released on a clean stop ends at
    the moment of release, so just then the age reads up to ``ttl`` too high: never too low,
    which is the safe side for an alert on a stopped ticker.
    """
    now = now or timezone.now()
    expires_at = Lease.objects.filter(name=TICKER_LEASE).values_list("expires_at", flat=True).first()
    if expires_at is None:
        return math.inf
    return max(0.0, (now - expires_at).total_seconds() + ticker_lease_seconds())


def _queue_depth() -> int:
    """Tasks waiting in django-q2's queue (ORM broker: due rows; Redis: the list's length)."""
    from django_q.brokers import get_broker

    broker = get_broker()
    try:
        return int(broker.queue_size())
    finally:
        close = getattr(getattr(broker, "connection", None), "close", None)
        if settings.REDIS_URL and callable(close):
            close()  # one Redis client per scrape: do not leave its connections behind


class LedgerCollector:
    """Gauges read from the database and the broker when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "crier_metrics_source_up",
            "1 when this scrape could read the source (database, broker), 0 when it could not.",
            labels=["source"],
        )
        try:
            families = list(self._ledger())
        except Exception:
            logger.exception("metrics: the database could not be read")
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
            yield from families
        try:
            depth = _queue_depth()
        except Exception:
            logger.exception("metrics: the queue's broker could not be read")
            up.add_metric(["broker"], 0)
        else:
            up.add_metric(["broker"], 1)
            yield GaugeMetricFamily(
                "crier_queue_depth", "Tasks waiting in the django-q2 queue for a worker.", value=depth
            )
        yield up

    def _ledger(self) -> Iterator[Metric]:
        occurrences = Dispatch.objects.filter(is_preview=False)
        by_status = dict(occurrences.values_list("status").annotate(n=Count("pk")).order_by())
        dispatches = GaugeMetricFamily(
            "crier_dispatches", "Occurrences (dispatches, previews aside) by status.", labels=["status"]
        )
        for status in DispatchStatus.values:  # every status, zeros too: a series never vanishes
            dispatches.add_metric([status], by_status.get(status, 0))
        yield dispatches

        awaiting = GaugeMetricFamily(
            "crier_deliveries_awaiting_people",
            "What waits for a person: held occurrences (a reviewer confirms or cancels) and "
            "unknown deliveries (an operator resends or closes).",
            labels=["state"],
        )
        awaiting.add_metric(["held"], by_status.get(DispatchStatus.HELD, 0))
        awaiting.add_metric(["unknown"], Delivery.objects.filter(status=DeliveryStatus.UNKNOWN).count())
        yield awaiting

        yield GaugeMetricFamily(
            "crier_ticker_last_round_age_seconds",
            "Seconds since the dispatcher ticker's last round (+Inf: it never ran).",
            value=ticker_last_round_age(),
        )
        yield GaugeMetricFamily(
            "crier_emergency_stop",
            "1 while the emergency stop halts all sending, else 0.",
            value=int(SendSwitch.objects.filter(pk=1, stopped=True).exists()),
        )


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


# The outcomes a provider's answer gives a delivery (campaigns/sending/outcomes.py).
ANSWER_OUTCOMES = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.OPTED_OUT,
    DeliveryStatus.RETRY,
    DeliveryStatus.UNKNOWN,
)


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's observed values and the ledger's state."""
    series_declared(PROVIDERS, [str(outcome) for outcome in ANSWER_OUTCOMES])
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    registry.register(LedgerCollector())
    return registry


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.CRIER_METRICS_TOKEN
    if not token:
        return HttpResponse(
            _("Metrics are off: set CRIER_METRICS_TOKEN to turn them on."),
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    if not _authorized(request, token):
        response = HttpResponse(
            _("The Authorization header must be 'Bearer <CRIER_METRICS_TOKEN>'."),
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(scrape_registry()), content_type=content_type)


# Included by config/urls.py at "metrics": the path Prometheus scrapes by default.
urlpatterns = [path("", metrics_view, name="metrics")]
