"""REST API of campaigns: serializers check the shape, services do the work.

``/api/v1/campaigns/``: list (``?status=``) and create; ``/api/v1/campaigns/{id}/``:
retrieve and update (PUT/PATCH go through ``campaign_edit``: editing an approved campaign
voids its approval, and the answer says so in ``warnings``). There is no DELETE: the audit
trail keeps every campaign; cancel it.
Transitions are POSTs: ``cancel``, ``preview``, ``recall`` (``{"reason"}``; Jiguang and
mPaaS only, 409 where nothing can be recalled); ``GET …/{id}/audit/`` lists the campaign's
audit trail. An illegal transition answers 409, a forbidden actor 403 (the services check
permissions), bad input 400 with field errors.

The transitions of reviews (``submit``, ``withdraw``, ``approve``, ``reject``) and the
``approvals`` field of a campaign are added by ``approvals.api``, whose subclass of
:class:`CampaignViewSet` is the one routed at ``/api/v1/campaigns/`` (approvals sits
above campaigns, so this module does not import it).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Audience, Campaign, CampaignStatus, CircleType, Dispatch, ScheduleKind
from campaigns.previews import campaign_preview
from campaigns.provider_options import ProviderOptionsField
from campaigns.selectors import (
    campaign_accepted_label,
    campaign_audit_trail,
    campaign_next_occurrences,
    dispatch_outcome,
)
from campaigns.sending.recall import campaign_recall
from campaigns.services import campaign_cancel, campaign_create, campaign_edit
from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate

VIEW = ("campaigns.view_campaign",)


class CampaignPermission(BasePermission):
    """Model permissions by action; transitions need only view here because their
    services check the real rule (cancel permission; approvals adds its own)."""

    required = {
        "list": VIEW,
        "retrieve": VIEW,
        "audit": VIEW + ("audit.view_auditevent",),
        "create": ("campaigns.add_campaign",),
        "update": ("campaigns.change_campaign",),
        "partial_update": ("campaigns.change_campaign",),
        "cancel": VIEW,
        "preview": VIEW,
        "recall": VIEW,
    }

    def has_permission(self, request: Request, view: viewsets.GenericViewSet) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method == "OPTIONS" and view.action == "metadata":
            return True
        if view.action is None:  # a method this route lacks: let the view answer 405
            return True
        # An action not listed here is refused, so a new endpoint starts closed.
        perms = self.required.get(view.action)
        return perms is not None and user.has_perms(perms)


# Schedule key in the API -> Campaign field.
SCHEDULE_FIELDS = {
    "kind": "schedule_kind",
    "fixed_time": "fixed_time",
    "circle_type": "circle_type",
    "circle_value": "circle_value",
    "time": "time",
    "start_date": "start_date",
    "end_date": "end_date",
    "cron": "cron",
    "timezone": "timezone",
}


@extend_schema_field(
    {"type": "string", "enum": ScheduleKind.values, "description": "now, once, recurring or cron"}
)
class ScheduleKindField(serializers.ChoiceField):
    """The schedule kind, described inline so its enum never collides with other "kind" enums."""


class ScheduleSerializer(serializers.Serializer):
    kind = ScheduleKindField(choices=ScheduleKind.choices, default=ScheduleKind.NOW)
    fixed_time = serializers.DateTimeField(required=False, allow_null=True, default=None)
    circle_type = serializers.ChoiceField(
        choices=CircleType.choices, required=False, allow_null=True, default=None,
        help_text="1 daily, 2 weekly, 3 monthly.",
    )
    circle_value = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=31), required=False, default=list,
        help_text="Weekdays 1-7 (weekly) or month days 1-31 (monthly).",
    )
    time = serializers.TimeField(required=False, allow_null=True, default=None, help_text="HH:MM:SS")
    start_date = serializers.DateField(required=False, allow_null=True, default=None)
    end_date = serializers.DateField(required=False, allow_null=True, default=None)
    cron = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    timezone = serializers.CharField(required=False, default="UTC", max_length=64, help_text="IANA zone")


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    template = serializers.PrimaryKeyRelatedField(queryset=MessageTemplate.objects.all())
    provider_account = serializers.PrimaryKeyRelatedField(queryset=ProviderAccount.objects.all())
    audience = serializers.PrimaryKeyRelatedField(queryset=Audience.objects.all())
    language = serializers.CharField(max_length=35, required=False)
    parameters = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False
    )
    path = serializers.CharField(max_length=2048, allow_blank=True, required=False)
    expired_seconds = serializers.IntegerField(min_value=60, max_value=864000, required=False)
    priority = serializers.IntegerField(min_value=1, max_value=3, required=False)
    test_uids = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=5, required=False
    )
    provider_options = ProviderOptionsField(required=False)
    schedule = ScheduleSerializer(required=False)

    def to_changes(self) -> dict[str, Any]:
        """Return the validated data as Campaign field: value (the schedule flattened)."""
        data = dict(self.validated_data)
        schedule = data.pop("schedule", None) or {}
        for key, value in schedule.items():
            data[SCHEDULE_FIELDS[key]] = value
        return data


class CampaignOutputSerializer(serializers.ModelSerializer):
    template_version = serializers.SerializerMethodField(help_text="The pinned template version number.")
    schedule = serializers.SerializerMethodField()
    next_occurrences = serializers.SerializerMethodField(
        help_text="The next (up to five) due times in UTC; for schedule 'now', the approval time."
    )
    approvals = serializers.SerializerMethodField(
        help_text="The latest review: approvals required and given."
    )
    created_by = serializers.StringRelatedField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "template",
            "template_version",
            "provider_account",
            "audience",
            "language",
            "parameters",
            "path",
            "expired_seconds",
            "priority",
            "test_uids",
            "provider_options",
            "schedule",
            "next_occurrences",
            "next_due_at",
            "native_task_ids",
            "approvals",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_template_version(self, campaign: Campaign) -> int | None:
        version = campaign.template_version
        return version.number if version else None

    def get_schedule(self, campaign: Campaign) -> dict[str, Any]:
        return {
            key: (
                getattr(campaign, field).isoformat()
                if key in ("fixed_time", "time", "start_date", "end_date") and getattr(campaign, field)
                else getattr(campaign, field)
            )
            for key, field in SCHEDULE_FIELDS.items()
        }

    def get_next_occurrences(self, campaign: Campaign) -> list[str]:
        return [moment.isoformat() for moment in campaign_next_occurrences(campaign=campaign)]

    def get_approvals(self, campaign: Campaign) -> dict | None:
        # Reviews are kept by approvals, above this app: its view set passes the summary in
        # the serializer context (``review_summary``); without it there is none.
        summary = self.context.get("review_summary")
        return summary(campaign=campaign) if summary is not None else None


class CampaignEditedSerializer(CampaignOutputSerializer):
    """A campaign as an edit left it, with what the edit did besides (an approval withdrawn)."""

    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="What the edit did besides the change, e.g. that it withdrew the approval "
        "and returned the campaign to draft.",
    )

    class Meta(CampaignOutputSerializer.Meta):
        fields = [*CampaignOutputSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PreviewSerializer(serializers.ModelSerializer):
    outcome = serializers.SerializerMethodField(
        help_text="What happened, an accepted request named as the provider means it."
    )

    class Meta:
        model = Dispatch
        fields = ["id", "status", "due_at", "content_hash", "outcome", "delivered", "failed"]
        read_only_fields = fields

    def get_outcome(self, dispatch: Dispatch) -> str:
        label = campaign_accepted_label(campaign=dispatch.campaign)
        return dispatch_outcome(dispatch=dispatch, accepted_label=label)


class RecallResultSerializer(serializers.Serializer):
    delivery = serializers.IntegerField()
    message_id = serializers.CharField(help_text="Jiguang msgid or mPaaS task id")
    recalled = serializers.BooleanField()
    outcome = serializers.CharField()
    code = serializers.CharField(help_text="The provider's code")
    message = serializers.CharField(help_text="The provider's message")
    http_status = serializers.IntegerField(allow_null=True)


class RecallSerializer(serializers.Serializer):
    recalled = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = RecallResultSerializer(many=True)


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    action = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    actor = serializers.StringRelatedField()
    reason = serializers.CharField()
    data = serializers.JSONField()
    prev_hash = serializers.CharField()
    hash = serializers.CharField()


@extend_schema(tags=["campaigns"])
class CampaignViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns: a template to an audience through a provider account, on a schedule, under review."""

    permission_classes = [CampaignPermission]
    serializer_class = CampaignOutputSerializer
    queryset = Campaign.objects.none()

    def get_queryset(self):
        campaigns = Campaign.objects.select_related(
            "template_version", "created_by", "provider_account", "audience", "template"
        ).order_by("-created_at", "-id")
        wanted = self.request.query_params.get("status")
        if wanted:
            campaigns = campaigns.filter(status=wanted)
        return campaigns

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return {
            "create": CampaignInputSerializer,
            "update": CampaignInputSerializer,
            "partial_update": CampaignInputSerializer,
            "cancel": ReasonSerializer,
            "audit": AuditEventSerializer,
            "preview": PreviewSerializer,
            "recall": ReasonSerializer,
        }.get(self.action, CampaignOutputSerializer)

    def output(self, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        """Return ``campaign`` as stored now, as the API shows a campaign."""
        fresh = Campaign.objects.select_related("template_version", "created_by").get(pk=campaign.pk)
        data = CampaignOutputSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=code)

    def input(self, serializer_class: type[serializers.Serializer], request: Request, **kwargs):
        """Return ``serializer_class`` validated over the request's data (400 when invalid)."""
        serializer = serializer_class(data=request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer

    @extend_schema(parameters=[OpenApiParameter("status", enum=CampaignStatus.values, required=False)])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=CampaignInputSerializer, responses={201: CampaignOutputSerializer})
    def create(self, request: Request) -> Response:
        serializer = self.input(CampaignInputSerializer, request)
        campaign = campaign_create(actor=request.user, data=serializer.to_changes())
        return self.output(campaign, status.HTTP_201_CREATED)

    @extend_schema(request=CampaignInputSerializer, responses=CampaignEditedSerializer)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=CampaignInputSerializer, responses=CampaignEditedSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        campaign = self.get_object()
        was = campaign.status
        serializer = self.input(CampaignInputSerializer, request, partial=partial)
        campaign = campaign_edit(campaign=campaign, actor=request.user, changes=serializer.to_changes())
        response = self.output(campaign)
        warnings = []
        if was == CampaignStatus.APPROVED and campaign.status == CampaignStatus.DRAFT:
            warnings.append(
                _("campaign %(id)s was returned to draft: its approval was withdrawn; submit it for "
                  "review again") % {"id": campaign.pk}
            )
        response.data["warnings"] = warnings
        return response

    @extend_schema(request=ReasonSerializer, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel the campaign before its last occurrence."""
        reason = self.input(ReasonSerializer, request).validated_data["reason"]
        campaign = self.get_object()
        campaign_cancel(campaign=campaign, actor=request.user, reason=reason)
        return self.output(campaign)

    @extend_schema(request=None, responses={202: PreviewSerializer})
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """Send the campaign as it stands to its test uids (at most five), before approval."""
        dispatch = campaign_preview(campaign=self.get_object(), actor=request.user)
        return Response(PreviewSerializer(dispatch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ReasonSerializer, responses=RecallSerializer)
    @action(detail=True, methods=["post"])
    def recall(self, request: Request, pk: str | None = None) -> Response:
        """Recall what the campaign sent, where the provider allows it (Jiguang within 24 h,
        mPaaS while the message is valid); 409 where nothing can be recalled."""
        reason = self.input(ReasonSerializer, request).validated_data["reason"]
        report = campaign_recall(campaign=self.get_object(), actor=request.user, reason=reason)
        return Response(RecallSerializer(report.as_dict()).data)

    @extend_schema(request=None, responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str | None = None) -> Response:
        """List the campaign's audit trail, oldest first."""
        events = campaign_audit_trail(campaign=self.get_object())
        page = self.paginate_queryset(events)
        if page is not None:
            return self.get_paginated_response(AuditEventSerializer(page, many=True).data)
        return Response(AuditEventSerializer(events, many=True).data)
