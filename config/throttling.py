"""What guessing costs on the API: throttles keyed on the client's real address, and a
bound on failed token authentications.

DRF's throttles run after authentication, and a request with an invented token fails
authentication (401) before any throttle is asked, so a script could try tokens without
ever meeting a 429. :class:`GuardedTokenAuthentication` therefore counts failures itself,
per client address (``config.clients.client_address``), and once a client has used up
``CRIER_API_THROTTLE_FAILED_AUTH`` ("20/minute" by default) it is answered 429 with
``Retry-After`` before its token is even looked up, so a right guess after that teaches
nothing either. Anyone else sharing that address (one office behind one NAT) waits too,
until the window ends; that is the price of the bound.

The count is atomic and shared between processes: a slot is taken with the cache's
``incr`` *before* the token is looked up and given back when the token was good, so at
most the rate's number of failures get through in one window however many requests run at
once (no check-then-act; docs/architecture.md, "Execution model": nothing assumes one
process). It lives in the default cache, which is Redis when ``CRIER_CACHE_URL`` is set
(``incr`` is Redis's atomic INCR) and otherwise a per-process memory cache, where every
web process counts on its own (see config/settings.py, CACHES). Windows are fixed (the
minute, hour, ... the request falls in), so across a window boundary at most twice the
rate gets through.
"""

from __future__ import annotations

import contextlib
import math
import time

from django.core.cache import cache
from django.utils.translation import gettext as _
from rest_framework import throttling
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from config.clients import client_address

FAILED_AUTH_SCOPE = "failed_auth"


class AnonRateThrottle(throttling.AnonRateThrottle):
    """DRF's anonymous throttle, keyed on :func:`config.clients.client_address`."""

    def get_ident(self, request) -> str:
        return client_address(request)


class UserRateThrottle(throttling.UserRateThrottle):
    """DRF's per-user throttle; an anonymous request is keyed on its client address."""

    def get_ident(self, request) -> str:
        return client_address(request)


class FailedAuthenticationBound:
    """The per-address budget of failed authentications in a fixed window (see the module)."""

    # DRF's own reading of a rate's period (its first letter), as in SimpleRateThrottle.
    PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def __init__(self) -> None:
        # The dict DRF's throttles read too (settings REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).
        rate = throttling.SimpleRateThrottle.THROTTLE_RATES.get(FAILED_AUTH_SCOPE)
        self.limit: int | None = None
        self.window = 1
        if rate:
            number, period = rate.split("/")
            self.limit, self.window = int(number), self.PERIODS[period[0]]

    @property
    def enabled(self) -> bool:
        return self.limit is not None

    def take(self, address: str) -> tuple[str, int] | None:
        """Take a slot for one attempt from ``address``: return ``(key, slots used)``, or
        None when the budget of this window was already used (nothing is taken then)."""
        now = time.time()
        window_no = int(now // self.window)
        key = f"crier:failed-auth:{address}:{window_no}"
        used = _increment(key, timeout=self.window * 2)
        if used > self.limit:
            _decrement(key)
            return None
        return key, used

    def wait(self) -> int:
        """Seconds until the current window ends (at least 1)."""
        return max(1, math.ceil(self.window - time.time() % self.window))

    @staticmethod
    def give_back(key: str) -> None:
        """Return the slot an attempt took: it authenticated."""
        _decrement(key)


def _increment(key: str, timeout: int) -> int:
    for _attempt in range(3):
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: add it again
            continue
    raise RuntimeError(f"the cache keeps losing {key!r}")


def _decrement(key: str) -> None:
    with contextlib.suppress(ValueError):  # the window's key expired: nothing to give back
        cache.decr(key)


class GuardedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with failed attempts bounded per client address."""

    def authenticate(self, request):
        bound = FailedAuthenticationBound()
        if not bound.enabled or not self._offers_a_token(request):
            return super().authenticate(request)
        slot = bound.take(client_address(request))
        if slot is None:
            # DRF appends "Expected available in N seconds." and sets Retry-After.
            raise Throttled(
                wait=bound.wait(),
                detail=_("Request was throttled: too many failed authentications from this address."),
            )
        key, _used = slot
        try:
            result = super().authenticate(request)
        except AuthenticationFailed:
            raise  # the slot stays taken: this failure counts
        except Exception:
            bound.give_back(key)  # not a failed guess (e.g. the database was away)
            raise
        bound.give_back(key)
        return result

    def _offers_a_token(self, request) -> bool:
        parts = get_authorization_header(request).split()
        return bool(parts) and parts[0].lower() == self.keyword.lower().encode()
