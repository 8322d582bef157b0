"""How each provider names a template registered with it, and how a reference is checked.

The provider's class declares it (``Provider.template_reference``: label, field name,
pattern, hint); this module asks the provider registry, so a new provider needs no edit here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from providers.base import TemplateReference
from providers.registry import PROVIDERS, provider_class

MAX_REFERENCE_LENGTH = 128


def template_references() -> dict[str, TemplateReference]:
    """Return {kind: how that provider names a template}, for every registered provider."""
    return {kind: provider_class(kind).template_reference for kind in PROVIDERS}


def clean_provider_refs(refs: Mapping[str, object] | None) -> dict[str, str]:
    """Return ``refs`` as {kind: reference} with empty entries dropped; raise ValidationError.

    An empty reference means "not registered with that provider". Whole-number references
    (Jiguang's ``template_id``) may arrive as ints and are kept as strings.
    """
    if refs is None:
        return {}
    if not isinstance(refs, Mapping):
        raise ValidationError({"provider_refs": [_("must be an object mapping provider kind to reference")]})
    specs = template_references()
    cleaned: dict[str, str] = {}
    errors: list[str] = []
    for kind, raw in refs.items():
        spec = specs.get(kind)
        if spec is None:
            errors.append(
                _("unknown provider kind %(kind)r; known: %(known)s")
                % {"kind": kind, "known": ", ".join(specs)}
            )
            continue
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            errors.append(
                _("%(kind)s: the %(label)s must be text, got %(type)s")
                % {"kind": kind, "label": spec.label, "type": type(raw).__name__}
            )
            continue
        value = str(raw).strip()
        if not value:
            continue
        if len(value) > MAX_REFERENCE_LENGTH:
            errors.append(
                _("%(kind)s: the %(label)s is %(length)s characters long; at most %(max)s are allowed")
                % {"kind": kind, "label": spec.label, "length": len(value), "max": MAX_REFERENCE_LENGTH}
            )
        elif not re.fullmatch(spec.pattern, value):
            errors.append(
                _("%(kind)s: the %(label)s %(value)r must be %(hint)s")
                % {"kind": kind, "label": spec.label, "value": value, "hint": spec.hint}
            )
        else:
            cleaned[kind] = value
    if errors:
        raise ValidationError({"provider_refs": errors})
    # A fixed order keeps snapshots comparable and diffs readable.
    return {kind: cleaned[kind] for kind in specs if kind in cleaned}
