"""Which address a request comes from: the one rule every per-address limit uses.

The API throttles (``config.throttling``), the count of failed API authentications and
the admin login lockout (django-axes, ``AXES_CLIENT_IP_CALLABLE``) all key on
:func:`client_address`, so a client cannot be one address to one guard and another to the
next.

``X-Forwarded-For`` is written by whoever sends the request: without a proxy in front of
Crier a client puts any value there, so a new value per request would make every request
a new client. It is therefore read only behind ``CRIER_TRUSTED_PROXY_COUNT`` proxies that
each append the address they were connected from (as nginx's
``$proxy_add_x_forwarded_for``, HAProxy's ``option forwardfor`` and cloud load balancers
do). With ``N`` such proxies the client is the ``N``-th address from the right: the ones to
its left came from the client and are not believed. With ``0`` (the default) the header is
ignored and the address is the TCP peer, ``REMOTE_ADDR``. This is DRF's ``NUM_PROXIES``
rule (``rest_framework.throttling.BaseThrottle.get_ident``), and the settings set
``NUM_PROXIES`` from the same variable so DRF agrees wherever it decides on its own; in
addition, an entry that is not an IP address (a proxy that passed a client's value
through) falls back to ``REMOTE_ADDR`` instead of becoming a key, or a value the login
lockout's ``GenericIPAddressField`` refuses.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """Return the client's IP address for ``request`` (see the module docstring)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.CRIER_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = forwarded.split(",")
    candidate = hops[-min(proxies, len(hops))].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
