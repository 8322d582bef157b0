"""System checks for the audit keys (audit.E001 in deploy checks, audit.E002 always)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from audit.keys import parse_keys


@register(Tags.security, deploy=True)
def check_audit_key_set(app_configs, **kwargs) -> list[Error]:
    """Refuse production without a dedicated audit key (audit.E001)."""
    if getattr(settings, "CRIER_AUDIT_KEY", None):
        return []
    return [
        Error(
            "CRIER_AUDIT_KEY is not set: the audit chain would be signed with a key derived from "
            "SECRET_KEY.",
            hint="Generate one with `python -c 'import secrets; print(\"a1:\" + secrets.token_urlsafe(32))'` "
            "and set CRIER_AUDIT_KEY (\"<key id>:<secret>\", newest first, comma separated).",
            id="audit.E001",
        )
    ]


@register(Tags.security)
def check_audit_key_format(app_configs, **kwargs) -> list[Error]:
    """Refuse malformed audit keys (audit.E002): every event would fail to be recorded."""
    try:
        parse_keys(list(getattr(settings, "CRIER_AUDIT_KEY", None) or []))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="audit.E002")]
    return []
