"""Turn models into the frozen values provider modules take (they never see models)."""

from __future__ import annotations

from providers.base import Message, Variant


def build_message(campaign) -> Message:
    """Return the Message a campaign sends: its pinned template version, rendered per language.

    Raises ``django.core.exceptions.ValidationError`` when the template is not registered
    with the account's provider or a parameter is missing or unknown.
    """
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from templates_registry.rendering import render_version

    version = campaign.template_version
    if version is None:
        raise ValidationError({"template": [_("the campaign has no pinned template version")]})
    kind = campaign.provider_account.kind
    ref = (version.provider_refs or {}).get(kind, "")
    if not ref:
        raise ValidationError(
            {"template": [_("template %(key)r v%(number)s is not registered with provider %(kind)r "
                            "(no provider reference)")
                          % {"key": campaign.template.key, "number": version.number, "kind": kind}]}
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
