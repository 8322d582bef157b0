"""REST API of the send ledger: dispatches, deliveries and the emergency stop.

* ``GET /api/v1/campaigns/{id}/dispatches/``: the campaign's dispatches (occurrences and
  previews), latest first, each with live progress counted from its deliveries
  (``?status=``, ``?is_preview=``).
* ``GET /api/v1/dispatches/{id}/`` and ``GET /api/v1/dispatches/{id}/deliveries/``
  (``?status=``, ``?provider_code=``; paginated, without targets).
* ``GET /api/v1/deliveries/{id}/``: one delivery with its targets and every attempt.
  ``POST /api/v1/deliveries/{id}/resolve/`` ``{"action": "resend"|"close"}`` decides a
  delivery whose outcome is ``unknown`` (409 for any other status).
* ``GET /api/v1/stop/`` shows the emergency stop; ``POST /api/v1/stop/`` ``{"reason"}``
  halts all sending at once, ``POST /api/v1/resume/`` lifts it.

Reading takes the model view permissions every role has; resolving, stopping and
resuming take ``campaigns.operate_dispatches`` (Operators). The calendar of upcoming
occurrences is in ``campaigns.sending.api_calendar``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign, Delivery, DeliveryAttempt, DeliveryStatus, Dispatch, DispatchStatus
from campaigns.sending.operations import delivery_resolve, sending_resume, sending_stop
from campaigns.sending.selectors import (
    delivery_counts,
    delivery_detail_queryset,
    delivery_list,
    dispatch_list,
    dispatch_live_progress,
    send_switch_get,
)

OPERATE = "campaigns.operate_dispatches"
VIEW_DISPATCH = "campaigns.view_dispatch"
VIEW_DELIVERY = "campaigns.view_delivery"
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class LedgerPermission(BasePermission):
    """Each action needs the permissions listed for it; an action not listed is refused."""

    required: dict[str, tuple[str, ...]] = {}

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method == "OPTIONS":
            return True
        if isinstance(view, viewsets.ViewSetMixin):
            key = view.action
        else:
            key = request.method.lower()
            if not hasattr(view, key):
                key = None
        if key is None:  # a method this route lacks: let the view answer 405
            return True
        perms = self.required.get(key)
        return perms is not None and user.has_perms(perms)


class DispatchPermission(LedgerPermission):
    required = {
        "list": (VIEW_DISPATCH,),
        "retrieve": (VIEW_DISPATCH,),
        "deliveries": (VIEW_DISPATCH, VIEW_DELIVERY),
        "get": (VIEW_DISPATCH,),
    }


class DeliveryPermission(LedgerPermission):
    required = {"retrieve": (VIEW_DELIVERY,), "resolve": (VIEW_DELIVERY, OPERATE)}


class SwitchPermission(LedgerPermission):
    required = {"get": (), "post": (OPERATE,)}


def _choice_param(request: Request, name: str, choices: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise ValidationError({name: [_("%(name)s %(value)r is not one of: %(choices)s")
                                      % {"name": name, "value": value, "choices": ", ".join(choices)}]})
    return value


def _bool_param(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if value.lower() not in BOOLEANS:
        raise ValidationError({name: [_("%(name)s %(value)r is not a boolean; use true or false")
                                      % {"name": name, "value": value}]})
    return BOOLEANS[value.lower()]


# --- serializers ------------------------------------------------------------------------


class DispatchSerializer(serializers.ModelSerializer):
    """A dispatch with live progress (``progress`` in the context: live counts by id)."""

    campaign = serializers.IntegerField(source="campaign_id", read_only=True)
    delivered = serializers.SerializerMethodField(help_text="Requests the provider accepted.")
    failed = serializers.SerializerMethodField(help_text="Requests failed or expired.")
    opted_out = serializers.SerializerMethodField(help_text="Requests refused because users opted out.")
    unknown = serializers.SerializerMethodField(help_text="Requests an operator must resend or close.")
    retrying = serializers.SerializerMethodField(help_text="Requests waiting to retry.")
    in_flight = serializers.SerializerMethodField(help_text="Requests sent and not yet answered.")
    pending = serializers.SerializerMethodField(help_text="Requests not sent yet.")
    reach = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "Recipients this occurrence can reach, counted when it was planned (null: not "
            "counted yet, or only the provider knows). Above the campaign's approved bound the "
            "occurrence is held until a reviewer confirms (POST /api/v1/dispatches/{id}/confirm/) "
            "or cancels it."
        ),
    )

    class Meta:
        model = Dispatch
        fields = [
            "id",
            "campaign",
            "due_at",
            "is_preview",
            "status",
            "reach",
            "total_requests",
            "total_recipients",
            "delivered",
            "failed",
            "opted_out",
            "skipped",
            "unknown",
            "retrying",
            "in_flight",
            "pending",
            "started_at",
            "finished_at",
            "detail",
        ]
        read_only_fields = fields

    def _progress(self, dispatch: Dispatch) -> dict[str, int]:
        cache = self.context.setdefault("_live", {})
        if dispatch.pk not in cache:
            counts = self.context.get("progress")
            if counts is None:
                counts = delivery_counts(dispatch_ids=[dispatch.pk])
            cache[dispatch.pk] = dispatch_live_progress(dispatch=dispatch, counts=counts.get(dispatch.pk))
        return cache[dispatch.pk]

    def get_delivered(self, dispatch: Dispatch) -> int:
        return self._progress(dispatch)["delivered"]

    def get_failed(self, dispatch: Dispatch) -> int:
        return self._progress(dispatch)["failed"]

    def get_opted_out(self, dispatch: Dispatch) -> int:
        return self._progress(dispatch)["opted_out"]

    def get_unknown(self, dispatch: Dispatch) -> int:
        return self._progress(dispatch)["unknown"]

    def get_retrying(self, dispatch: Dispatch) -> int:
        return self._progress(dispatch)["retrying"]

    def get_in_flight(self, dispatch: Dispatch) -> int:
        return self._progress(dispatch)["in_flight"]

    def get_pending(self, dispatch: Dispatch) -> int:
        return self._progress(dispatch)["pending"]


DELIVERY_FIELDS = [
    "id",
    "dispatch",
    "batch_no",
    "idempotency_key",
    "status",
    "attempts",
    "target_count",
    "provider_code",
    "provider_message",
    "provider_message_id",
    "next_attempt_at",
    "updated_at",
]


class DeliverySerializer(serializers.ModelSerializer):
    dispatch = serializers.IntegerField(source="dispatch_id", read_only=True)

    class Meta:
        model = Delivery
        fields = DELIVERY_FIELDS
        read_only_fields = fields


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "outcome", "provider_code", "provider_message", "http_status", "duration_ms",
                  "created_at"]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    targets = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="External ids this request addresses."
    )
    selector = serializers.DictField(
        read_only=True,
        help_text='Provider-side selection instead of targets: {"tags": [...]} or {"segment": …}.',
    )
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DELIVERY_FIELDS, "targets", "selector", "created_at", "attempt_log"]
        read_only_fields = fields


class ResolveSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=[("resend", "resend"), ("close", "close")],
        help_text="resend: send again with the same idempotency key; close: give it up.",
    )


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class StopSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Why (shown to operators)."
    )


class SwitchSerializer(serializers.Serializer):
    stopped = serializers.BooleanField(help_text="While true no worker sends anything.")
    reason = serializers.CharField()
    changed_by = serializers.CharField(allow_null=True, help_text="Username of who last changed it.")
    changed_at = serializers.DateTimeField(allow_null=True)


class ResumeSerializer(SwitchSerializer):
    woken = serializers.IntegerField(help_text="Pending dispatches handed to workers again.")


# --- views ------------------------------------------------------------------------------


def _dispatch_page_response(view: generics.GenericAPIView, dispatches) -> Response:
    page = view.paginate_queryset(dispatches)
    rows = page if page is not None else list(dispatches)
    progress = delivery_counts(dispatch_ids=[dispatch.pk for dispatch in rows])
    context = {**view.get_serializer_context(), "progress": progress}
    data = DispatchSerializer(rows, many=True, context=context).data
    return view.get_paginated_response(data) if page is not None else Response(data)


DISPATCH_FILTERS = [
    OpenApiParameter("status", enum=DispatchStatus.values, required=False),
    OpenApiParameter("is_preview", bool, required=False),
]


@extend_schema(tags=["dispatches"])
class CampaignDispatchListView(generics.GenericAPIView):
    """The dispatches of one campaign, latest first, with live progress."""

    permission_classes = [DispatchPermission]
    serializer_class = DispatchSerializer
    queryset = Dispatch.objects.none()

    @extend_schema(parameters=DISPATCH_FILTERS, responses=DispatchSerializer(many=True))
    def get(self, request: Request, campaign_id: int) -> Response:
        """List the campaign's dispatches (occurrences and previews) with live progress."""
        campaign = get_object_or_404(Campaign.objects.only("pk"), pk=campaign_id)
        dispatches = dispatch_list(
            campaign_id=campaign.pk,
            status=_choice_param(request, "status", DispatchStatus.values),
            is_preview=_bool_param(request, "is_preview"),
        )
        return _dispatch_page_response(self, dispatches)


@extend_schema(tags=["dispatches"])
class DispatchViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One occurrence of a campaign (or a preview) and its provider requests."""

    permission_classes = [DispatchPermission]
    serializer_class = DispatchSerializer
    queryset = Dispatch.objects.select_related("campaign")

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=DeliveryStatus.values, required=False),
            OpenApiParameter("provider_code", str, required=False),
        ],
        responses=DeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"], serializer_class=DeliverySerializer)
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        """List the dispatch's provider requests in batch order (without their targets)."""
        dispatch = self.get_object()
        deliveries = delivery_list(
            dispatch_id=dispatch.pk,
            status=_choice_param(request, "status", DeliveryStatus.values),
            provider_code=request.query_params.get("provider_code"),
        )
        page = self.paginate_queryset(deliveries)
        if page is not None:
            return self.get_paginated_response(DeliverySerializer(page, many=True).data)
        return Response(DeliverySerializer(deliveries, many=True).data)


@extend_schema(tags=["dispatches"])
class DeliveryViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One provider request: its targets, its attempts, and the operator's resolve action."""

    permission_classes = [DeliveryPermission]
    serializer_class = DeliveryDetailSerializer

    def get_queryset(self):
        return delivery_detail_queryset()

    @extend_schema(
        request=ResolveSerializer, responses={200: DeliveryDetailSerializer, 409: DetailSerializer}
    )
    @action(detail=True, methods=["post"], serializer_class=ResolveSerializer)
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        """Resend (same idempotency key) or close a delivery whose outcome is unknown; 409 otherwise."""
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        delivery = delivery_resolve(
            delivery=self.get_object(), action=serializer.validated_data["action"], actor=request.user
        )
        return Response(DeliveryDetailSerializer(delivery_detail_queryset().get(pk=delivery.pk)).data)


def _switch_data(**extra: Any) -> dict[str, Any]:
    switch = send_switch_get()
    return {
        "stopped": switch.stopped,
        "reason": switch.reason,
        "changed_by": switch.changed_by.get_username() if switch.changed_by else None,
        "changed_at": switch.changed_at if switch.pk and switch.changed_at else None,
        **extra,
    }


@extend_schema(tags=["operations"])
class StopView(APIView):
    """The emergency stop: while it is on, no worker sends anything."""

    permission_classes = [SwitchPermission]

    @extend_schema(responses=SwitchSerializer)
    def get(self, request: Request) -> Response:
        """Show whether sending is stopped, why, by whom and since when."""
        return Response(SwitchSerializer(_switch_data()).data)

    @extend_schema(request=StopSerializer, responses=SwitchSerializer)
    def post(self, request: Request) -> Response:
        """Halt all sending at once, across workers (read before every chunk)."""
        serializer = StopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sending_stop(actor=request.user, reason=serializer.validated_data["reason"])
        return Response(SwitchSerializer(_switch_data()).data)


@extend_schema(tags=["operations"])
class ResumeView(APIView):
    """Lift the emergency stop."""

    permission_classes = [SwitchPermission]

    @extend_schema(request=None, responses=ResumeSerializer)
    def post(self, request: Request) -> Response:
        """Lift the emergency stop and hand every pending dispatch to the workers again."""
        woken = sending_resume(actor=request.user)
        return Response(ResumeSerializer(_switch_data(woken=woken)).data)
