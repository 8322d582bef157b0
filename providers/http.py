"""The HTTP clients Crier's requests to providers and chat platforms leave through.

Every ``httpx.Client`` builds a TLS context unless it is given one, and building one loads
the whole CA bundle: 30–115 ms of CPU, measured per client on this project's 2-core machine
(BENCHMARKS.md, "Lateness at volume"). A dispatch opens one client, so a worker sending many
small occurrences spent more time loading certificates than sending. One context per process,
made on first use, serves every client: an ``ssl.SSLContext`` may be shared by connections
and threads, and its verification settings are httpx's defaults (``httpx.create_ssl_context``:
certifi's bundle, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured), so nothing about what is
trusted changes. The context is keyed by process id, so a worker forked by qcluster makes
its own rather than inheriting one made before the fork.
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any

# httpx imports httpcore only when the first Client is made (0.3-0.7 s): imported here, with
# the app (providers.base imports this module), before qcluster forks its workers, so a
# worker's first dispatch does not pay it.
import httpcore  # noqa: F401
import httpx

_lock = threading.Lock()
_contexts: dict[int, ssl.SSLContext] = {}


def tls_context() -> ssl.SSLContext:
    """Return this process's TLS context for outgoing requests, made on first use."""
    pid = os.getpid()
    context = _contexts.get(pid)
    if context is None:
        with _lock:
            context = _contexts.get(pid)
            if context is None:
                _contexts.clear()  # a parent's context, inherited through fork
                context = _contexts[pid] = httpx.create_ssl_context()
    return context


def client(**options: Any) -> httpx.Client:
    """Return an ``httpx.Client`` with ``options`` (timeout, limits, …) and the shared context."""
    return httpx.Client(verify=tls_context(), **options)


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After style header holding seconds; None when absent or malformed."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
