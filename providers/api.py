"""REST API of provider accounts: serializers check the shape, services do the work.

``/api/v1/provider-accounts/``: list (``?kind=binance``, ``?enabled=true``), create,
retrieve, update (PUT/PATCH). ``credentials`` is write-only: a response says only which
credentials are set (``credentials_set``), never a value, and an update keeps every
credential it does not give (or gives empty). The names a kind takes are those of
its provider class's ``credential_fields``; an account keeps its kind. There is no DELETE
(campaigns keep their account): disable it with ``enabled: false``.
``POST /api/v1/provider-accounts/{id}/check/`` sends the same harmless request as
``manage.py check_provider`` and says whether the account authenticates.

The base URL must be one of the provider's hosts unless the account is ``sandbox``, and
changing it takes the credentials again (docs/providers.md §7); every change is
an audit event.

Any staff user reads; creating, changing and checking an account take
``providers.manage_provider_accounts`` (superusers have it).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from providers.models import ProviderAccount
from providers.registry import PROVIDERS, kind_choices, provider_classes
from providers.services import (
    ACCOUNT_FIELDS,
    account_check,
    account_create,
    account_update,
    stored_credentials,
)

MANAGE = "providers.manage_provider_accounts"
KINDS = tuple(PROVIDERS)
# Named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] as ProviderKindEnum.
PROVIDER_KIND_CHOICES = kind_choices()
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
CREDENTIAL_NAMES = "; ".join(f"{cls.kind}: {', '.join(cls.credential_fields)}" for cls in provider_classes())
BASE_URL_HELP = " ".join(cls.base_url_help() for cls in provider_classes())


class ProviderAccountPermission(BasePermission):
    """Staff read; writing and checking take ``providers.manage_provider_accounts``."""

    write_actions = frozenset({"create", "update", "partial_update", "check"})

    def has_permission(self, request: Request, view: viewsets.GenericViewSet) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if view.action in self.write_actions:
            return user.has_perm(MANAGE)
        return user.is_staff or user.has_perm(MANAGE)


def _no_nul(value: Any, field: str) -> None:
    """Refuse NUL characters anywhere in a JSON value (PostgreSQL's jsonb cannot hold them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(
                _("%(field)s contains a NUL character; JSON text may not.") % {"field": field}
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, field)
            _no_nul(item, field)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item, field)


class ProviderKindField(serializers.ChoiceField):
    """A provider kind (its schema enum is named ProviderKindEnum in the settings)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=kind_choices(), **kwargs)


class ProviderAccountInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = ProviderKindField()
    base_url = serializers.URLField(max_length=300, help_text=BASE_URL_HELP)
    sandbox = serializers.BooleanField(
        required=False,
        help_text=(
            "An emulator or provider sandbox account: any http(s) base URL, used only where "
            "CRIER_ALLOW_SANDBOX_ACCOUNTS is on. Otherwise the base URL must be one of the "
            "provider's hosts (docs/providers.md §7)."
        ),
    )
    app_id = serializers.CharField(max_length=64, allow_blank=True, required=False)
    settings = serializers.DictField(
        required=False,
        help_text="Non-secret provider settings (mPaaS workspace_id, delivery_type, region; …).",
    )
    rate_limit = serializers.FloatField(
        min_value=0.1, max_value=100000, required=False, help_text="Requests per second."
    )
    max_concurrency = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, help_text="Requests in flight at once."
    )
    max_attempts = serializers.IntegerField(
        min_value=1, max_value=100, required=False, help_text="Attempts per request before giving up."
    )
    timeout_seconds = serializers.FloatField(min_value=0.1, max_value=300, required=False)
    enabled = serializers.BooleanField(required=False)
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=20000),
        required=False,
        write_only=True,
        help_text=(
            "Write-only secrets by name, never returned. Names per kind: "
            f"{CREDENTIAL_NAMES}. On update, a name left out or empty keeps its stored value, "
            "except that changing base_url takes every required credential again."
        ),
    )

    def validate_settings(self, value: dict) -> dict:
        _no_nul(value, "settings")
        return value

    def to_service(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Return (account fields, credentials) from the validated data."""
        data = dict(self.validated_data)
        credentials = data.pop("credentials", None) or {}
        return data, credentials


class ProviderAccountOutputSerializer(serializers.ModelSerializer):
    kind = ProviderKindField(read_only=True)
    credentials_set = serializers.SerializerMethodField(
        help_text="For each credential the kind takes, whether a value is stored (never the value)."
    )
    credentials_readable = serializers.SerializerMethodField(
        help_text="False when the stored credentials cannot be decrypted with CRIER_FIELD_KEYS."
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            *ACCOUNT_FIELDS,
            "credentials_set",
            "credentials_readable",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "boolean"}})
    def get_credentials_set(self, account: ProviderAccount) -> dict[str, bool]:
        stored = stored_credentials(account) or {}
        return {name: bool(stored.get(name)) for name in account.credential_fields()}

    def get_credentials_readable(self, account: ProviderAccount) -> bool:
        return stored_credentials(account) is not None


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether the provider accepted the account's credentials.")
    detail = serializers.CharField(
        help_text="Why, in one fixed sentence with the HTTP status and the provider's code (never a "
        "secret, never the answer's text)."
    )


def _filters(request: Request) -> dict[str, Any]:
    """Return the list filters from the query string; 400 naming a parameter that is wrong."""
    filters: dict[str, Any] = {}
    kind = request.query_params.get("kind")
    if kind is not None:
        if kind not in KINDS:
            raise ValidationError(
                {
                    "kind": [
                        _("kind %(kind)r is not one of: %(kinds)s")
                        % {"kind": kind, "kinds": ", ".join(KINDS)}
                    ]
                }
            )
        filters["kind"] = kind
    enabled = request.query_params.get("enabled")
    if enabled is not None:
        if enabled.lower() not in BOOLEANS:
            raise ValidationError(
                {"enabled": [_("enabled %(value)r is not a boolean; use true or false") % {"value": enabled}]}
            )
        filters["enabled"] = BOOLEANS[enabled.lower()]
    return filters


@extend_schema(tags=["provider accounts"])
class ProviderAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Provider accounts: where and as whom Crier sends; credentials are write-only."""

    permission_classes = [ProviderAccountPermission]
    serializer_class = ProviderAccountOutputSerializer
    queryset = ProviderAccount.objects.order_by("name", "id")

    def get_queryset(self):
        accounts = ProviderAccount.objects.order_by("name", "id")
        if self.action == "list":
            accounts = accounts.filter(**_filters(self.request))
        return accounts

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return {
            "create": ProviderAccountInputSerializer,
            "update": ProviderAccountInputSerializer,
            "partial_update": ProviderAccountInputSerializer,
            "check": CheckResultSerializer,
        }.get(self.action, ProviderAccountOutputSerializer)

    def _output(self, account: ProviderAccount, code: int = status.HTTP_200_OK) -> Response:
        return Response(ProviderAccountOutputSerializer(account).data, status=code)

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", enum=list(KINDS), required=False),
            OpenApiParameter("enabled", bool, required=False),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ProviderAccountInputSerializer, responses={201: ProviderAccountOutputSerializer})
    def create(self, request: Request) -> Response:
        serializer = ProviderAccountInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, credentials = serializer.to_service()
        account = account_create(data=data, credentials=credentials, actor=request.user)
        return self._output(account, status.HTTP_201_CREATED)

    @extend_schema(request=ProviderAccountInputSerializer, responses=ProviderAccountOutputSerializer)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=ProviderAccountInputSerializer, responses=ProviderAccountOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        account = self.get_object()
        serializer = ProviderAccountInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes, credentials = serializer.to_service()
        account = account_update(
            account=account, changes=changes, credentials=credentials, actor=request.user
        )
        return self._output(account)

    @extend_schema(request=None, responses=CheckResultSerializer)
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        """Send one harmless signed request and say whether the provider accepts the account."""
        ok, detail = account_check(account=self.get_object())
        return Response(CheckResultSerializer({"ok": ok, "detail": detail}).data)
