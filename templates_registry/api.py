"""REST API of the templates registry: serializers check the shape, services do the work.

``/api/v1/templates/``: list (``?status=active``) and create with nested variants;
``/api/v1/templates/{id}/``: retrieve, update (PUT/PATCH; a content change makes a new
version; ``variants`` always replaces the whole list); ``…/{id}/archive/``;
``…/{id}/render/``; ``…/{id}/versions/``. Any staff user reads; writing takes the
Marketing permissions ``add_messagetemplate`` / ``change_messagetemplate``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from templates_registry.content import content_of_version, variable_warnings
from templates_registry.models import MessageTemplate, TemplateStatus, TemplateVersion
from templates_registry.references import MAX_REFERENCE_LENGTH, template_references
from templates_registry.rendering import RenderError, render_version
from templates_registry.selectors import current_version, template_list, version_get, version_history
from templates_registry.services import template_archive, template_create, template_update


class TemplatePermission(BasePermission):
    """DjangoModelPermissions by action: staff read and render; Marketing's perms write."""

    required = {
        "list": (),
        "retrieve": (),
        "render": (),
        "versions": (),
        "create": ("templates_registry.add_messagetemplate",),
        "update": ("templates_registry.change_messagetemplate",),
        "partial_update": ("templates_registry.change_messagetemplate",),
        "archive": ("templates_registry.change_messagetemplate",),
    }

    def has_permission(self, request: Request, view: viewsets.GenericViewSet) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method == "OPTIONS" and view.action == "metadata":
            return True
        # An action not listed here is refused, so a new endpoint starts closed.
        perms = self.required.get(view.action)
        return perms is not None and user.has_perms(perms)


class TemplateStatusField(serializers.ChoiceField):
    """A template's status: draft, active or archived."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=TemplateStatus.choices, **kwargs)


class TemplateStatusFieldExtension(OpenApiSerializerFieldExtension):
    """Document the status as its own ``TemplateStatusEnum`` schema.

    Left to drf-spectacular, two apps' "status" enums collide and one gets a hashed name
    (warning W001, which fails ``check --deploy``).
    """

    target_class = TemplateStatusField

    def map_serializer_field(self, auto_schema, direction: str) -> dict:
        component = ResolvedComponent(
            name="TemplateStatusEnum",
            type=ResolvedComponent.SCHEMA,
            object="TemplateStatusEnum",
            schema=build_choice_field(self.target),
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class VariantSerializer(serializers.Serializer):
    language = serializers.CharField(max_length=35)
    title = serializers.CharField(
        max_length=200, allow_blank=True, required=False, default="", trim_whitespace=False
    )
    body = serializers.CharField(trim_whitespace=False)


class ProviderRefsField(serializers.DictField):
    """{kind: reference}; an empty reference means "not registered with that provider"."""

    child = serializers.CharField(allow_blank=True, max_length=MAX_REFERENCE_LENGTH)

    def __init__(self, **kwargs) -> None:
        kinds = ", ".join(f"{kind} ({spec.label})" for kind, spec in template_references().items())
        kwargs.setdefault("help_text", f"The template as registered at each provider: {kinds}.")
        super().__init__(**kwargs)


class TemplateInputSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    default_language = serializers.CharField(max_length=35, required=False, default="en")
    # No default: a new template is a draft, and an update leaves the status alone.
    status = TemplateStatusField(required=False)
    variants = VariantSerializer(many=True, allow_empty=False)
    provider_refs = ProviderRefsField(required=False, default=dict)


class TemplateOutputSerializer(serializers.ModelSerializer):
    """A template as of its current version."""

    status = TemplateStatusField(read_only=True)
    variants = serializers.SerializerMethodField()
    variables = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField(
        help_text="Variables some variants use and others lack (allowed, but usually a slip)."
    )

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "key",
            "description",
            "default_language",
            "status",
            "version",
            "variants",
            "variables",
            "warnings",
            "provider_refs",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_variants(self, template: MessageTemplate) -> list[dict[str, str]]:
        return list(current_version(template).variants)

    def get_variables(self, template: MessageTemplate) -> list[str]:
        return list(current_version(template).variables)

    def get_warnings(self, template: MessageTemplate) -> list[str]:
        return variable_warnings(content_of_version(current_version(template)))


class VersionSerializer(serializers.ModelSerializer):
    campaign_ids = serializers.SerializerMethodField(help_text="Campaigns pinned to this version.")
    # Versions written by seeds or migrations have no author.
    created_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = TemplateVersion
        fields = [
            "number",
            "default_language",
            "variants",
            "variables",
            "provider_refs",
            "created_by",
            "created_at",
            "campaign_ids",
        ]
        read_only_fields = fields

    def get_campaign_ids(self, version: TemplateVersion) -> list[int]:
        return [campaign.pk for campaign in version.campaigns.all()]


class RenderInputSerializer(serializers.Serializer):
    language = serializers.CharField(
        max_length=35, required=False, allow_blank=True, default="",
        help_text="The reader's language; empty means the template's default language.",
    )
    parameters = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False, default=dict
    )
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="Render this version instead of the current one."
    )


class RenderOutputSerializer(serializers.Serializer):
    language_used = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    version = serializers.IntegerField()


class RenderErrorSerializer(serializers.Serializer):
    """A 400 from render: field errors, and for a failed render the names to fix.

    Invalid input (e.g. ``version``) answers the usual field-error dict; a render that
    fails on its parameters adds ``missing`` and ``unknown``. So no field is always there.
    """

    # A list of messages, or per-parameter messages when a value itself is invalid.
    parameters = serializers.JSONField(required=False)
    missing = serializers.ListField(child=serializers.CharField(), required=False)
    unknown = serializers.ListField(child=serializers.CharField(), required=False)


@extend_schema(tags=["templates"])
class TemplateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Message templates: our versioned mirror of the templates registered at each provider."""

    permission_classes = [TemplatePermission]
    serializer_class = TemplateOutputSerializer
    # Used for schema generation and permission introspection; get_queryset is what runs.
    queryset = MessageTemplate.objects.none()

    def get_queryset(self):
        return template_list(status=self.request.query_params.get("status") or None)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return {
            "create": TemplateInputSerializer,
            "update": TemplateInputSerializer,
            "partial_update": TemplateInputSerializer,
            "render": RenderInputSerializer,
            "versions": VersionSerializer,
        }.get(self.action, TemplateOutputSerializer)

    def _output(self, template: MessageTemplate, code: int = status.HTTP_200_OK) -> Response:
        fresh = template_list().get(pk=template.pk)
        data = TemplateOutputSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=code)

    @extend_schema(
        parameters=[OpenApiParameter("status", enum=TemplateStatus.values, required=False)],
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=TemplateInputSerializer, responses={201: TemplateOutputSerializer})
    def create(self, request: Request) -> Response:
        serializer = TemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = template_create(**serializer.validated_data, by=request.user)
        return self._output(template, status.HTTP_201_CREATED)

    @extend_schema(request=TemplateInputSerializer, responses=TemplateOutputSerializer)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=TemplateInputSerializer, responses=TemplateOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        template = self.get_object()
        serializer = TemplateInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if changes.pop("key", template.key) != template.key:
            raise ValidationError(
                {"key": [f"the key of {template.key!r} cannot change; create a new template instead"]}
            )
        template = template_update(template=template, **changes, by=request.user)
        return self._output(template)

    @extend_schema(request=None, responses=TemplateOutputSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        """Archive the template: no new campaigns; pinned campaigns keep their version."""
        template = template_archive(template=self.get_object())
        return self._output(template)

    @extend_schema(
        request=RenderInputSerializer,
        responses={200: RenderOutputSerializer, 400: RenderErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def render(self, request: Request, pk: str | None = None) -> Response:
        """Render the template in a language with parameters, as a user would read it."""
        template = self.get_object()
        serializer = RenderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "version" in data:
            try:
                version = version_get(template=template, number=data["version"])
            except TemplateVersion.DoesNotExist:
                message = _("%(key)r has no version %(number)s (latest: %(latest)s)") % {
                    "key": template.key, "number": data["version"], "latest": template.version,
                }
                raise ValidationError({"version": [message]}) from None
        else:
            version = current_version(template)
        try:
            rendered = render_version(version, data["language"], data["parameters"])
        except RenderError as exc:
            # Besides the messages, name the parameters so a client can fix its form fields.
            body = {"parameters": exc.messages, "missing": exc.missing, "unknown": exc.unknown}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "language_used": rendered.language_used,
                "title": rendered.title,
                "body": rendered.body,
                "version": version.number,
            }
        )

    @extend_schema(responses=VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # a template has few versions
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """List the template's versions, newest first, with the campaigns pinned to each."""
        versions = version_history(self.get_object()).select_related("created_by")
        return Response(VersionSerializer(versions, many=True).data)
