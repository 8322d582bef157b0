"""The metric families recorded in-process: provider request latency, delivery outcomes
and schedule lateness (docs/metrics.md has every family, its labels and meaning).

prometheus-client is the library Prometheus maintains for Python; its multi-process mode
is what makes values observed in a qcluster worker or one of several gunicorn workers
visible to whichever web process answers the scrape: each process writes its values to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and the scrape sums them
(config/settings.py sets the directory before this module is imported; docs/metrics.md,
"Several processes"). A value's file is opened for the process that observes it, also
after a fork, so django-q2's forked workers need nothing of their own.

Recording a value must never change what is sent: every helper here swallows and logs its
own failure (a full disk, a removed directory), because the callers are in the middle of a
provider request whose real outcome has to be stored.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator

from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

# Seconds. Provider answers take tens of milliseconds when healthy; an account's timeout is
# 10 s by default, and the top buckets show requests that waited for it.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Seconds from an occurrence's due time to its first request: about a tick when healthy
# (CRIER_DISPATCH_TICK_SECONDS, 1 s), up to a campaign's expiry (a day by default) when an
# occurrence waited for a worker, the emergency stop or a reviewer's confirmation.
LATENESS_BUCKETS = (
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0
)

# registry=None: nothing is registered in prometheus-client's global registry; the scrape
# (config.metrics) reads the multi-process files, which hold every process's values.
PROVIDER_REQUEST_SECONDS = Histogram(
    "crier_provider_request_seconds",
    "Seconds one provider HTTP request took, from sending it to its answer or transport error.",
    ["provider_kind"],
    buckets=REQUEST_BUCKETS,
    registry=None,
)
DELIVERIES = Counter(
    "crier_deliveries",
    "Provider answers stored for deliveries, by provider kind and the outcome they gave the delivery.",
    ["provider_kind", "outcome"],
    registry=None,
)


@functools.cache
def schedule_lateness_seconds() -> Histogram:
    """The lateness histogram, made on first use: a metric without labels writes its file
    when it is made, and every ``manage.py`` command imports this module."""
    return Histogram(
        "crier_schedule_lateness_seconds",
        "Seconds from an occurrence's due time to its first provider request.",
        buckets=LATENESS_BUCKETS,
        registry=None,
    )


# A metric that cannot be written fails on every request: say so once a minute, not per request.
LOG_EVERY_SECONDS = 60.0
_last_logged: dict[str, float] = {}


@contextlib.contextmanager
def _recording(what: str) -> Iterator[None]:
    """Run the block; log (at most once a minute per ``what``) and swallow its failure."""
    try:
        yield
    except Exception:  # never let a metric change what is sent or stored (module docstring)
        now = time.monotonic()
        if now - _last_logged.get(what, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
            _last_logged[what] = now
            logger.warning("could not record %s (said at most once a minute)", what, exc_info=True)


def provider_request_observed(provider_kind: str, seconds: float) -> None:
    """Record how long one request to a provider of ``provider_kind`` took."""
    with _recording("a provider request's latency"):
        PROVIDER_REQUEST_SECONDS.labels(provider_kind=provider_kind).observe(max(0.0, seconds))


def outcomes_recorded(provider_kind: str, outcomes: Iterable[str]) -> None:
    """Count stored outcomes (delivery statuses such as ``delivered``) of one provider kind."""
    with _recording("delivery outcomes"):
        for outcome, n in Tally(str(o) for o in outcomes).items():
            DELIVERIES.labels(provider_kind=provider_kind, outcome=outcome).inc(n)


def occurrence_started(lateness_seconds: float) -> None:
    """Record how late an occurrence's first request leaves (negative: early, counted as 0)."""
    with _recording("an occurrence's lateness"):
        schedule_lateness_seconds().observe(max(0.0, lateness_seconds))


def series_declared(provider_kinds: Iterable[str], outcomes: Iterable[str]) -> None:
    """Create every family's series at zero (the labelled ones for every provider kind and
    outcome), so it is present, and a rate over it defined, before its first observation."""
    schedule_lateness_seconds()
    outcomes = tuple(outcomes)
    for kind in provider_kinds:
        PROVIDER_REQUEST_SECONDS.labels(provider_kind=kind)
        for outcome in outcomes:
            DELIVERIES.labels(provider_kind=kind, outcome=outcome)
