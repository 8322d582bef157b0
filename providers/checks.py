"""System checks for provider configuration."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from providers.endpoints import configured_hosts
from providers.registry import PROVIDERS


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


@register(Tags.security)
def check_provider_hosts(app_configs, **kwargs) -> list[Error]:
    """Refuse CRIER_PROVIDER_HOSTS entries that are not kind=https://host (providers.E003)."""
    hosts, bad = configured_hosts()
    unknown = sorted(set(hosts) - set(PROVIDERS))
    return [
        Error(
            f"CRIER_PROVIDER_HOSTS entry {entry!r} is not kind=https://host.",
            hint="For example alipayplus=https://open.wallet.example (docs/providers.md §7).",
            id="providers.E003",
        )
        for entry in bad
    ] + [
        Error(
            f"CRIER_PROVIDER_HOSTS names {kind!r}, which is not a provider kind: {', '.join(PROVIDERS)}.",
            id="providers.E003",
        )
        for kind in unknown
    ]


@register(Tags.security, deploy=True)
def check_sandbox_accounts(app_configs, **kwargs) -> list[Warning]:
    """Warn when sandbox accounts may send in production (providers.W001)."""
    if settings.CRIER_ALLOW_SANDBOX_ACCOUNTS and not settings.DEBUG:
        return [
            Warning(
                "CRIER_ALLOW_SANDBOX_ACCOUNTS is on with DEBUG off: accounts marked sandbox may "
                "send their credentials to any host.",
                hint="Unset it unless this deployment talks to emulators or provider sandboxes "
                "(docs/providers.md §7).",
                id="providers.W001",
            )
        ]
    return []
