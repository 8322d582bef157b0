"""REST API for recipients and audiences: serializers check the shape, services do the work.

``/api/v1/recipients/``: list (``?tag=vip``, ``?external_id=u1``), retrieve, create,
update (PUT/PATCH: ``tags`` replaces the list, ``addresses`` merges by provider kind and
``""`` removes one; ``external_id`` never changes). Alipay+ access tokens are write-only:
responses show their last four characters.

``POST /api/v1/recipients/bulk/``: upsert by external id from a JSON array, JSON Lines
(``application/json``, ``application/x-ndjson``) or CSV (``text/csv``), streamed — the
body is never loaded whole. Answers 200 with ``{"created", "updated", "errors": [{"row",
"field", "message", "lines", "raw"}], "warnings": […], …}``: good rows are imported, bad
rows reported, rows worth a look (a repeated id, a quoted cell spanning lines) warned of;
a CSV row is numbered as a spreadsheet shows it, with its lines and raw text
(docs/csv-uploads.md, ``campaigns.audiences.recipients``); ``?dry_run=true`` only
validates and counts.

``/api/v1/audiences/``: ``{"name", "kind", "user_ids", "tags", "segment",
"suppressed_ids"}``. Responses never inline the member lists: they carry
``member_count`` and ``suppressed_count``, and the detail response adds ``size`` (null
where only the provider knows; ``?provider_kind=<kind>`` sizes it for a provider).
``/api/v1/audiences/{id}/members/`` lists the ids page by page (``?suppressed=true`` for
the suppression list) and POST streams in a JSON array or CSV of ids
(``?suppressed=true``, ``?replace=true``, ``?dry_run=true``), answering the import report.

Any staff user reads; writing takes the Marketing model permissions.
"""

from __future__ import annotations

import io
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.audiences.parsing import parse_csv, parse_json, parse_member_lines
from campaigns.audiences.recipients import recipient_create, recipient_update, recipients_bulk_upsert
from campaigns.audiences.rules import masked_addresses
from campaigns.audiences.services import (
    audience_create,
    audience_import_members,
    audience_size,
    audience_update,
)
from campaigns.models import Audience, AudienceKind, AudienceMember, Recipient, RecipientTag
from providers.registry import PROVIDERS

JSON_TYPES = {"application/json", "application/x-ndjson", "application/jsonl", "application/json-lines"}
CSV_TYPES = {"text/csv", "application/csv", "text/plain"}


class ModelActionPermission(BasePermission):
    """Staff read; each write action needs the model permissions listed for it."""

    required: dict[str, tuple[str, ...]] = {}

    def has_permission(self, request: Request, view: viewsets.GenericViewSet) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method == "OPTIONS" and view.action == "metadata":
            return True
        key = view.action
        if key is None:
            # No action for this method here: let the view answer 405 Method Not Allowed
            # (nothing runs), instead of a misleading 403.
            return True
        if key == "members":
            key = "members_read" if request.method == "GET" else "members_write"
        # An action not listed is refused, so a new endpoint starts closed.
        perms = self.required.get(key)
        return perms is not None and user.has_perms(perms)


class RecipientPermission(ModelActionPermission):
    required = {
        "list": (),
        "retrieve": (),
        "create": ("campaigns.add_recipient",),
        "update": ("campaigns.change_recipient",),
        "partial_update": ("campaigns.change_recipient",),
        "bulk": ("campaigns.add_recipient", "campaigns.change_recipient"),
    }


class AudiencePermission(ModelActionPermission):
    required = {
        "list": (),
        "retrieve": (),
        "members_read": (),
        "create": ("campaigns.add_audience", "campaigns.add_audiencemember"),
        "update": (
            "campaigns.change_audience",
            "campaigns.add_audiencemember",
            "campaigns.delete_audiencemember",
        ),
        "partial_update": (
            "campaigns.change_audience",
            "campaigns.add_audiencemember",
            "campaigns.delete_audiencemember",
        ),
        "members_write": (
            "campaigns.add_audiencemember",
            "campaigns.change_audiencemember",
            "campaigns.delete_audiencemember",
        ),
    }


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class _BodyReader(io.RawIOBase):
    """A binary stream over a request body read on demand (never loaded whole)."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer)) if self._source is not None else b""
        buffer[: len(data)] = data
        return len(data)


def _body(request: Request) -> tuple[str, IO[bytes]]:
    """Return (media type, body stream); raise ValidationError for an unsupported type."""
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    if media_type not in JSON_TYPES | CSV_TYPES:
        raise ValidationError(
            {
                "content_type": [
                    f"Content-Type {media_type or '(none)'!r} is not accepted; send application/json "
                    "(an array or JSON Lines) or text/csv"
                ]
            }
        )
    return media_type, io.BufferedReader(_BodyReader(request.stream))


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        help_text=(
            "CSV: the row as a spreadsheet numbers it (the header, or a member list's first line, "
            "is row 1; a record whose quoted cell spans lines is one row). JSON: the 1-based "
            "position of the element. See docs/csv-uploads.md."
        )
    )
    field = serializers.CharField(help_text='The field, "row" for the whole row, "file" for the file.')
    message = serializers.CharField()
    lines = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=2,
        max_length=2,
        required=False,
        help_text="CSV only: the first and last line of the file the row spans.",
    )
    raw = serializers.CharField(
        required=False,
        help_text=(
            "CSV only: the row as written, at most 200 characters, line breaks kept and other "
            "control characters escaped."
        ),
    )


class ImportReportSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    removed = serializers.IntegerField()
    invalid = serializers.IntegerField()
    error_count = serializers.IntegerField()
    errors_truncated = serializers.BooleanField()
    warning_count = serializers.IntegerField()
    warnings_truncated = serializers.BooleanField()
    dry_run = serializers.BooleanField()
    errors = ImportErrorSerializer(many=True, help_text="Refused rows (not imported).")
    warnings = ImportErrorSerializer(
        many=True,
        help_text=(
            "Rows imported but worth a look: an id repeated in the body (naming its first row), "
            "a quoted cell spanning lines."
        ),
    )


# --- recipients --------------------------------------------------------------------------


class RecipientInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    language = serializers.CharField(max_length=100, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200, trim_whitespace=False), required=False
    )
    addresses = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True, max_length=1000),
        required=False,
        help_text=f"{{provider kind: address}} with kinds {', '.join(PROVIDERS)}; merged by kind, "
        '"" removes one.',
    )


class RecipientOutputSerializer(serializers.ModelSerializer):
    addresses = serializers.SerializerMethodField()

    class Meta:
        model = Recipient
        fields = [
            "id",
            "external_id",
            "language",
            "tags",
            "addresses",
            "opted_out_providers",
            "opted_out_templates",
            "created_at",
            "updated_at",
        ]

    def get_addresses(self, recipient: Recipient) -> dict[str, str]:
        return masked_addresses(recipient.addresses)


@extend_schema(tags=["recipients"])
class RecipientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """End users known to us: language, tags, per-provider addresses and opt-outs."""

    permission_classes = [RecipientPermission]
    serializer_class = RecipientOutputSerializer
    queryset = Recipient.objects.none()

    def get_queryset(self):
        recipients = Recipient.objects.order_by("id")
        params = self.request.query_params
        if tag := params.get("tag"):
            recipients = recipients.filter(
                Exists(RecipientTag.objects.filter(recipient=OuterRef("pk"), tag=tag))
            )
        if external_id := params.get("external_id"):
            recipients = recipients.filter(external_id=external_id)
        return recipients

    @extend_schema(
        parameters=[
            OpenApiParameter("tag", str, description="Only recipients with this tag."),
            OpenApiParameter("external_id", str, description="Only the recipient with this external id."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=RecipientInputSerializer, responses={201: RecipientOutputSerializer})
    def create(self, request: Request) -> Response:
        data = RecipientInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        recipient = recipient_create(**data.validated_data, actor=request.user)
        return Response(RecipientOutputSerializer(recipient).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RecipientInputSerializer, responses=RecipientOutputSerializer)
    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        recipient = self.get_object()
        data = RecipientInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        external_id = fields.pop("external_id", recipient.external_id)
        if external_id != recipient.external_id:
            raise ValidationError(
                {
                    "external_id": [
                        f"external_id cannot change from {recipient.external_id!r} to {external_id!r}; "
                        "audiences refer to it"
                    ]
                }
            )
        recipient = recipient_update(recipient=recipient, **fields, actor=request.user)
        return Response(RecipientOutputSerializer(recipient).data)

    @extend_schema(request=RecipientInputSerializer, responses=RecipientOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(
        request={
            "application/json": {"type": "array", "items": {"type": "object"}},
            "text/csv": {"type": "string", "description": "external_id,language,tags,address_<kind>…"},
        },
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Validate and count only.")],
        responses=ImportReportSerializer,
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Create or update recipients by external id; report every refused row."""
        media_type, body = _body(request)
        rows = parse_csv(body) if media_type in CSV_TYPES else parse_json(body)
        report = recipients_bulk_upsert(rows=rows, actor=request.user, dry_run=_flag(request, "dry_run"))
        return Response(report.as_dict())


# --- audiences -----------------------------------------------------------------------------


class AudienceInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=AudienceKind.choices)
    tags = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    segment = serializers.JSONField(
        required=False, help_text="One provider segment id (a string, or a list holding exactly one)."
    )
    user_ids = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="For kind 'users': replaces the member list. For long lists use members/.",
    )
    suppressed_ids = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Never send to these ids: replaces the suppression list.",
    )


class AudienceOutputSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, help_text="Ids listed (kind 'users').")
    suppressed_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Audience
        fields = [
            "id",
            "name",
            "kind",
            "tags",
            "segment",
            "member_count",
            "suppressed_count",
            "created_at",
            "updated_at",
        ]


class AudienceDetailSerializer(AudienceOutputSerializer):
    size = serializers.SerializerMethodField(
        help_text="Recipients it resolves to after suppression (before opt-outs); null where only the "
        "provider knows (a segment; everyone on a broadcasting provider)."
    )

    class Meta(AudienceOutputSerializer.Meta):
        fields = [*AudienceOutputSerializer.Meta.fields, "size"]

    def get_size(self, audience: Audience) -> int | None:
        return audience_size(audience, provider_kind=self.context.get("provider_kind"))


class MemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = AudienceMember
        fields = ["external_id", "suppressed"]


def _member_count(suppressed: bool):
    listed = (
        AudienceMember.objects.filter(audience=OuterRef("pk"), suppressed=suppressed)
        .order_by()
        .values("audience")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(listed, output_field=IntegerField()), 0)


def _with_counts(audiences):
    # A correlated subquery per row: the page's rows only are counted (by the
    # (audience, suppressed, id) index), and the paginator's COUNT(*) drops the unused
    # annotations. A JOIN ... GROUP BY counted every member of every audience per page.
    return audiences.annotate(member_count=_member_count(False), suppressed_count=_member_count(True))


@extend_schema(tags=["audiences"])
class AudienceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Who a campaign goes to: everyone, listed user ids, tags or a provider segment, less suppression."""

    permission_classes = [AudiencePermission]
    serializer_class = AudienceOutputSerializer
    queryset = Audience.objects.none()

    def get_queryset(self):
        return _with_counts(Audience.objects.order_by("name"))

    def _detail(self, audience: Audience, *, status_code: int = status.HTTP_200_OK) -> Response:
        audience = self.get_queryset().get(pk=audience.pk)
        provider_kind = self.request.query_params.get("provider_kind") or None
        if provider_kind is not None and provider_kind not in PROVIDERS:
            raise ValidationError(
                {"provider_kind": [
                    _("provider_kind %(value)r is not one of %(kinds)s")
                    % {"value": provider_kind, "kinds": ", ".join(PROVIDERS)}
                ]}
            )
        context = {**self.get_serializer_context(), "provider_kind": provider_kind}
        return Response(AudienceDetailSerializer(audience, context=context).data, status=status_code)

    @extend_schema(
        parameters=[
            OpenApiParameter("provider_kind", str, description="Size the audience for this provider.")
        ],
        responses=AudienceDetailSerializer,
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._detail(self.get_object())

    @extend_schema(request=AudienceInputSerializer, responses={201: AudienceDetailSerializer})
    def create(self, request: Request) -> Response:
        data = AudienceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        audience = audience_create(**data.validated_data, actor=request.user)
        return self._detail(audience, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=AudienceInputSerializer, responses=AudienceDetailSerializer)
    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        audience = self.get_object()
        data = AudienceInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        audience = audience_update(audience=audience, **data.validated_data, actor=request.user)
        return self._detail(audience)

    @extend_schema(request=AudienceInputSerializer, responses=AudienceDetailSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter("suppressed", OpenApiTypes.BOOL, description="List the suppression list.")
        ],
        responses=MemberSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        request={
            "application/json": {"type": "array", "items": {"type": "string"}},
            "text/csv": {"type": "string", "description": "One external id per line; optional header."},
        },
        parameters=[
            OpenApiParameter(
                "suppressed", OpenApiTypes.BOOL, description="Import into the suppression list."
            ),
            OpenApiParameter("replace", OpenApiTypes.BOOL, description="The list becomes exactly these ids."),
            OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Validate and count only."),
        ],
        responses=ImportReportSerializer,
    )
    @action(detail=True, methods=["get", "post"])
    def members(self, request: Request, pk: str | None = None) -> Response:
        """List an audience's ids page by page, or stream ids into its member or suppression list."""
        audience = self.get_object()
        suppressed = _flag(request, "suppressed")
        if request.method == "GET":
            listed = AudienceMember.objects.filter(audience=audience, suppressed=suppressed).order_by("id")
            page = self.paginate_queryset(listed)
            return self.get_paginated_response(MemberSerializer(page, many=True).data)
        media_type, body = _body(request)
        ids = parse_member_lines(body) if media_type in CSV_TYPES else parse_json(body)
        report = audience_import_members(
            audience=audience,
            external_ids=ids,
            actor=request.user,
            suppressed=suppressed,
            replace=_flag(request, "replace"),
            dry_run=_flag(request, "dry_run"),
        )
        return Response(report.as_dict())
