"""The page a locked-out admin login gets (django-axes' ``AXES_LOCKOUT_CALLABLE``).

django-axes (config/settings.py, "Guessing costs") decides the lockout; this only says it
in plain words, with HTTP 429, how long the wait is and who can lift it
(config/templates/admin/locked_out.html).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """Return the locked-out page (axes passes the response it replaces and the credentials,
    both unused: the page names neither the username nor anything typed)."""
    context = {
        "failure_limit": settings.CRIER_LOGIN_FAILURE_LIMIT,
        "cooloff_minutes": settings.CRIER_LOGIN_COOLOFF_MINUTES,
    }
    return render(request, "admin/locked_out.html", context, status=429)
