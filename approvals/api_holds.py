"""REST actions on held occurrences (``approvals.holds``), beside the dispatch ledger's API:

* ``POST /api/v1/dispatches/{id}/confirm/``: confirm the new reach of a held occurrence;
  it is sent (the campaign's approved reach and bound become the confirmed ones);
* ``POST /api/v1/dispatches/{id}/cancel/`` ``{"reason": "…"}`` (optional): drop it.

The campaigns app serves the dispatches themselves (``campaigns.sending.api``: ``status``
"held", ``reach``); these two actions live here because deciding who may confirm is the
approval's rule (approvals sits above campaigns). Answers: the dispatch; 403 for the
campaign's author or a user who is not a reviewer (or whose approval the reach's rules do
not accept); 409 when the dispatch is not held, its campaign is no longer approved, or its
expiry passed.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.holds import dispatch_cancel, dispatch_confirm
from campaigns.models import Dispatch
from campaigns.sending.api import VIEW_DISPATCH, DetailSerializer, DispatchSerializer


class HoldPermission(BasePermission):
    """Staff who may see dispatches reach the actions; ``approvals.holds`` decides who may act."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm(VIEW_DISPATCH))


class HoldCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text=_("Why (kept in the audit trail)."),
    )


HOLD_ANSWERS = {200: DispatchSerializer, 403: DetailSerializer, 409: DetailSerializer}


@extend_schema(tags=["dispatches"])
class HeldDispatchViewSet(viewsets.GenericViewSet):
    """A reviewer's decision on an occurrence held because its reach grew above the approved bound."""

    permission_classes = [HoldPermission]
    serializer_class = DispatchSerializer
    queryset = Dispatch.objects.filter(is_preview=False).select_related("campaign")

    def _answer(self, dispatch: Dispatch) -> Response:
        return Response(DispatchSerializer(dispatch, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=HOLD_ANSWERS)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        """Confirm the held occurrence's new reach (four-eyes rule, approval rules): it is sent."""
        return self._answer(dispatch_confirm(dispatch=self.get_object(), actor=request.user))

    @extend_schema(request=HoldCancelSerializer, responses=HOLD_ANSWERS)
    @action(detail=True, methods=["post"], serializer_class=HoldCancelSerializer)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel the held occurrence: nothing is sent; later occurrences go on as approved."""
        serializer = HoldCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data["reason"]
        return self._answer(dispatch_cancel(dispatch=self.get_object(), actor=request.user, reason=reason))
