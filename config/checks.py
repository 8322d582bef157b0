"""System checks of the settings that decide who a client is (config/clients.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_trusted_proxies(app_configs, **kwargs) -> list[Warning]:
    """Behind a TLS proxy with no trusted proxy counted, every client has the proxy's
    address: one client's failed logins or invented tokens then lock out everyone."""
    if settings.SECURE_PROXY_SSL_HEADER and settings.CRIER_TRUSTED_PROXY_COUNT == 0:
        return [
            Warning(
                "BEHIND_TLS_PROXY is on but CRIER_TRUSTED_PROXY_COUNT is 0: every request seems "
                "to come from the proxy, so the login lockout and the API's per-address limits "
                "treat all clients as one.",
                hint="Set CRIER_TRUSTED_PROXY_COUNT to the number of proxies in front of Crier "
                "that append to X-Forwarded-For.",
                id="crier_config.W001",
            )
        ]
    return []
