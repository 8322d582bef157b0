"""Provider accounts: where and as whom Crier sends."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from providers import crypto, endpoints
from providers.base import AccountConfig, Provider
from providers.registry import kind_choices, provider_class

# Account fields the services accept and the audit trail names (credentials are apart).
ACCOUNT_FIELDS = (
    "name",
    "kind",
    "base_url",
    "sandbox",
    "app_id",
    "settings",
    "rate_limit",
    "max_concurrency",
    "max_attempts",
    "timeout_seconds",
    "enabled",
)


class ProviderAccount(models.Model):
    """One account at one provider: base URL, app id, settings, rate limit, credentials."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=kind_choices)
    base_url = models.URLField(
        max_length=300,
        help_text=_("The provider's API base URL: the form shows each provider's official hosts."),
    )
    app_id = models.CharField(max_length=64, blank=True)
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Non-secret provider settings (mPaaS workspace_id, delivery_type, region; …)."),
    )
    rate_limit = models.FloatField(
        default=10.0,
        validators=[MinValueValidator(0.1)],
        help_text=_("Requests per second this account may send."),
    )
    max_concurrency = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text=_("Requests in flight at once.")
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1)], help_text=_("Attempts per request before giving up.")
    )
    timeout_seconds = models.FloatField(default=10.0, validators=[MinValueValidator(0.1)])
    enabled = models.BooleanField(default=True)
    # docs/providers.md §7: only a sandbox account may use a host its provider
    # does not declare, and only where CRIER_ALLOW_SANDBOX_ACCOUNTS is on.
    sandbox = models.BooleanField(
        default=False,
        help_text=_(
            "An emulator or provider sandbox account: its base URL may be any http(s) host, and it "
            "is used only where CRIER_ALLOW_SANDBOX_ACCOUNTS is on."
        ),
    )
    credentials_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("provider account")
        verbose_name_plural = _("provider accounts")
        ordering = ["name"]
        permissions = [("manage_provider_accounts", "Can manage provider accounts and secrets")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        """Refuse a base URL the account may not send its credentials to (providers/endpoints.py)."""
        super().clean()
        refused = self.endpoint_refusal()
        if refused is not None:
            raise ValidationError({refused.field: [refused.message]})

    def endpoint_refusal(self) -> endpoints.Refusal | None:
        """Return why this account may not send to its base URL now (None: it may)."""
        return endpoints.refusal(kind=self.kind, base_url=self.base_url, sandbox=self.sandbox)

    def get_credentials(self) -> dict[str, str]:
        """Return the decrypted credentials (never log or render the result)."""
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, values: dict[str, str]) -> None:
        """Encrypt and store ``values``, merged over what is stored (empty values keep the old)."""
        merged = self.get_credentials() if self.credentials_encrypted else {}
        merged.update({k: v for k, v in values.items() if v not in (None, "")})
        self.credentials_encrypted = crypto.encrypt_json(merged)

    def provider_config(self, *, with_credentials: bool = False) -> AccountConfig:
        """Return the provider module's view of the account; credentials decrypted only when asked.

        An account whose endpoint is refused (a row edited in the database) gets no credentials
        and a provider module that sends nothing (docs/providers.md §7).
        """
        refused = self.endpoint_refusal()
        return AccountConfig(
            kind=self.kind,
            base_url=self.base_url.rstrip("/"),
            app_id=self.app_id,
            settings=dict(self.settings or {}),
            credentials=self.get_credentials() if with_credentials and refused is None else {},
            timeout=self.timeout_seconds,
            endpoint_problem=refused.message if refused else "",
        )

    def provider(self, *, with_credentials: bool = False) -> Provider:
        """Return the account's provider module: without credentials it can judge options and
        build bodies, not sign requests. Raises KeyError for a kind no longer registered."""
        return provider_class(self.kind)(self.provider_config(with_credentials=with_credentials))

    def credential_fields(self) -> tuple[str, ...]:
        """Return the credential field names of the account's provider (none if unknown)."""
        try:
            return provider_class(self.kind).credential_fields
        except KeyError:
            return ()

    def credential_status(self) -> dict[str, bool]:
        """Return which credential fields are set, for display without the values."""
        stored = self.get_credentials() if self.credentials_encrypted else {}
        return {name: bool(stored.get(name)) for name in self.credential_fields()}
