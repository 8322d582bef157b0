"""One mapping of domain errors to HTTP for the whole REST API (HackSoft style).

* ``django.core.exceptions.ValidationError`` -> 400 ``{"field": ["message"]}``
  (``non_field_errors`` for errors not tied to a field);
* ``django.core.exceptions.PermissionDenied`` -> 403 ``{"detail": …}``;
* any exception with ``conflict = True`` (e.g. an illegal state transition) -> 409
  ``{"detail": …}``;
* everything DRF already knows keeps its default handling.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Return the HTTP response for ``exc`` (see module docstring)."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            data = {
                (field if field != "__all__" else "non_field_errors"): messages
                for field, messages in exc.message_dict.items()
            }
        else:
            data = {"non_field_errors": exc.messages}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionDenied):
        return Response({"detail": str(exc) or "permission denied"}, status=status.HTTP_403_FORBIDDEN)
    if getattr(exc, "conflict", False):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return exception_handler(exc, context)
