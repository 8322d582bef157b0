"""One mapping of domain errors to HTTP for the whole REST API (HackSoft style).

* ``django.core.exceptions.ValidationError`` -> 400 ``{"field": ["message"]}``
  (``non_field_errors`` for errors not tied to a field);
* ``django.core.exceptions.PermissionDenied`` -> 403 ``{"detail": …}``;
* any exception with ``conflict = True`` (e.g. an illegal state transition) -> 409
  ``{"detail": …}``;
* a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's ``RequestDataTooBig``, raised when
  DRF reads ``request.body``) -> 413 ``{"detail": …}`` naming the limit in bytes, and a form
  over ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` / ``DATA_UPLOAD_MAX_NUMBER_FILES`` -> 400 naming
  that limit. Django would answer these with its HTML 400 page (a ``SuspiciousOperation``
  DRF does not handle); an API client gets JSON like every other refusal;
* everything DRF already knows keeps its default handling.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
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
        return Response({"detail": str(exc) or _("permission denied")}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {
                "detail": _(
                    "the request body is larger than %(limit)s bytes (DATA_UPLOAD_MAX_MEMORY_SIZE); "
                    "send less per request, or use the streamed bulk imports for lists"
                )
                % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        setting, limit = (
            ("DATA_UPLOAD_MAX_NUMBER_FIELDS", settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
            if isinstance(exc, TooManyFieldsSent)
            else ("DATA_UPLOAD_MAX_NUMBER_FILES", settings.DATA_UPLOAD_MAX_NUMBER_FILES)
        )
        return Response(
            {"detail": _("the form has more than %(limit)s parts (%(setting)s)")
             % {"limit": limit, "setting": setting}},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if getattr(exc, "conflict", False):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return exception_handler(exc, context)
