"""Provider accounts: where and as whom Crier sends."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from providers import crypto
from providers.registry import kind_choices

# Credential field names per kind; values are write-only (encrypted, never rendered).
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "binance": ("access_key", "secret_key"),
    "alipayplus": ("client_id", "private_key", "platform_public_key"),
    "mpaas": ("access_key_id", "access_key_secret"),
    "jiguang": ("channel_key", "master_secret"),
}
# Credential fields that may stay empty.
OPTIONAL_CREDENTIALS: frozenset[str] = frozenset({"platform_public_key"})


class ProviderAccount(models.Model):
    """One account at one provider: base URL, app id, settings, rate limit, credentials."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=kind_choices)
    base_url = models.URLField(max_length=300, help_text="e.g. https://dip-cb.binanceapi.com")
    app_id = models.CharField(max_length=64, blank=True)
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="Non-secret provider settings (mPaaS workspace_id, delivery_type, region; …).",
    )
    rate_limit = models.FloatField(
        default=10.0,
        validators=[MinValueValidator(0.1)],
        help_text="Requests per second this account may send.",
    )
    max_concurrency = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text="Requests in flight at once."
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1)], help_text="Attempts per request before giving up."
    )
    timeout_seconds = models.FloatField(default=10.0, validators=[MinValueValidator(0.1)])
    enabled = models.BooleanField(default=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_provider_accounts", "Can manage provider accounts and secrets")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def get_credentials(self) -> dict[str, str]:
        """Return the decrypted credentials (never log or render the result)."""
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, values: dict[str, str]) -> None:
        """Encrypt and store ``values``, merged over what is stored (empty values keep the old)."""
        merged = self.get_credentials() if self.credentials_encrypted else {}
        merged.update({k: v for k, v in values.items() if v not in (None, "")})
        self.credentials_encrypted = crypto.encrypt_json(merged)

    def credential_status(self) -> dict[str, bool]:
        """Return which credential fields are set, for display without the values."""
        stored = self.get_credentials() if self.credentials_encrypted else {}
        return {name: bool(stored.get(name)) for name in CREDENTIAL_FIELDS.get(self.kind, ())}
