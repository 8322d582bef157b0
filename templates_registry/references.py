"""How each provider names a template registered with it, and how a reference is checked.

``templates_registry`` imports no other app, so the provider kinds are listed here too;
``tests/templates_registry/test_references.py`` fails when they drift from
``providers.registry.PROVIDERS``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MAX_REFERENCE_LENGTH = 128


@dataclass(frozen=True)
class ProviderReference:
    """What ``provider`` calls the template reference (``field``) and what it looks like."""

    provider: str
    field: str
    pattern: str = r"\S(?:.*\S)?"
    hint: str = "text without leading or trailing spaces"

    @property
    def label(self) -> str:
        return f"{self.provider} {self.field}"


PROVIDER_REFERENCES: dict[str, ProviderReference] = {
    "binance": ProviderReference("Binance", "templateId"),
    "alipayplus": ProviderReference("Alipay+", "templateCode"),
    "mpaas": ProviderReference("mPaaS", "templateName"),
    # The UMS API takes template_id as an integer.
    "jiguang": ProviderReference("Jiguang", "template_id", pattern=r"[0-9]{1,18}", hint="a whole number"),
}


def clean_provider_refs(refs: Mapping[str, object] | None) -> dict[str, str]:
    """Return ``refs`` as {kind: reference} with empty entries dropped; raise ValidationError.

    An empty reference means "not registered with that provider". Whole-number references
    (Jiguang's ``template_id``) may arrive as ints and are kept as strings.
    """
    if refs is None:
        return {}
    if not isinstance(refs, Mapping):
        raise ValidationError({"provider_refs": ["must be an object mapping provider kind to reference"]})
    cleaned: dict[str, str] = {}
    errors: list[str] = []
    for kind, raw in refs.items():
        spec = PROVIDER_REFERENCES.get(kind)
        if spec is None:
            errors.append(f"unknown provider kind {kind!r}; known: {', '.join(PROVIDER_REFERENCES)}")
            continue
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            errors.append(f"{kind}: the {spec.label} must be text, got {type(raw).__name__}")
            continue
        value = str(raw).strip()
        if not value:
            continue
        if len(value) > MAX_REFERENCE_LENGTH:
            errors.append(
                f"{kind}: the {spec.label} is {len(value)} characters long; "
                f"at most {MAX_REFERENCE_LENGTH} are allowed"
            )
        elif not re.fullmatch(spec.pattern, value):
            errors.append(f"{kind}: the {spec.label} {value!r} must be {spec.hint}")
        else:
            cleaned[kind] = value
    if errors:
        raise ValidationError({"provider_refs": errors})
    # A fixed order keeps snapshots comparable and diffs readable.
    return {kind: cleaned[kind] for kind in PROVIDER_REFERENCES if kind in cleaned}
