"""System checks for provider configuration."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_field_keys(app_configs, **kwargs) -> list[Error]:
    """Refuse production without a dedicated credentials key (providers.E001/E002)."""
    errors: list[Error] = []
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        errors.append(
            Error(
                "CRIER_FIELD_KEYS is not set: provider credentials would be encrypted with a "
                "key derived from SECRET_KEY.",
                hint="Generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` and set CRIER_FIELD_KEYS.",
                id="providers.E001",
            )
        )
    for index, key in enumerate(keys):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            errors.append(
                Error(
                    f"CRIER_FIELD_KEYS entry {index + 1} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    id="providers.E002",
                )
            )
    return errors
