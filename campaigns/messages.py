"""Turn models into the frozen values provider modules take (they never see models)."""

from __future__ import annotations

from providers.base import AccountConfig, Message, Provider, Variant
from providers.models import ProviderAccount
from providers.registry import provider_class


def account_config(account: ProviderAccount) -> AccountConfig:
    """Return the provider-facing view of ``account``, credentials decrypted."""
    return AccountConfig(
        kind=account.kind,
        base_url=account.base_url.rstrip("/"),
        app_id=account.app_id,
        settings=dict(account.settings or {}),
        credentials=account.get_credentials(),
        timeout=account.timeout_seconds,
    )


def provider_for(account: ProviderAccount) -> Provider:
    """Return the provider module instance that sends as ``account``."""
    return provider_class(account.kind)(account_config(account))


def build_message(campaign) -> Message:
    """Return the Message a campaign sends: its pinned template version, rendered per language.

    Raises ``django.core.exceptions.ValidationError`` when the template is not registered
    with the account's provider or a parameter is missing or unknown.
    """
    from django.core.exceptions import ValidationError

    from templates_registry.rendering import render_version

    version = campaign.template_version
    if version is None:
        raise ValidationError({"template": ["the campaign has no pinned template version"]})
    kind = campaign.provider_account.kind
    ref = (version.provider_refs or {}).get(kind, "")
    if not ref:
        raise ValidationError(
            {"template": [f"template {campaign.template.key!r} v{version.number} is not registered "
                          f"with provider {kind!r} (no provider reference)"]}
        )
    parameters = {str(k): str(v) for k, v in (campaign.parameters or {}).items()}
    variants = []
    for variant in version.variants:
        rendered = render_version(version, variant["language"], parameters)
        variants.append(Variant(rendered.language_used, rendered.title, rendered.body))
    return Message(
        template_ref=str(ref),
        language=campaign.language,
        parameters=parameters,
        path=campaign.path,
        expired_seconds=campaign.expired_seconds,
        priority=campaign.priority,
        options=dict(campaign.provider_options or {}),
        variants=tuple(variants),
        task_name=campaign.name[:100],
    )
