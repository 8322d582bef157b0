"""Every change to message templates: create, update, activate, archive.

A template's content — its variants' text, its default language and its provider
references — is versioned: each change of it creates a new immutable TemplateVersion,
numbered by ``MessageTemplate.version``, and keeps the old ones. Version 1 exists as soon
as the template does. Campaigns pin a version, so a later edit never changes what an
approved campaign sends. The description and the status are not content and change
without a new version.

Status transitions: draft → active, draft → archived, active → archived, and
archived → draft (a restored template is checked again before it is made active).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from templates_registry.content import TemplateContent, content_clean, content_of_version
from templates_registry.models import MessageTemplate, TemplateStatus, TemplateVariant, TemplateVersion

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

TRANSITIONS: dict[str, frozenset[str]] = {
    TemplateStatus.DRAFT: frozenset({TemplateStatus.ACTIVE, TemplateStatus.ARCHIVED}),
    TemplateStatus.ACTIVE: frozenset({TemplateStatus.ARCHIVED}),
    TemplateStatus.ARCHIVED: frozenset({TemplateStatus.DRAFT}),
}
KEY_MAX_LENGTH = MessageTemplate._meta.get_field("key").max_length


class TemplateConflict(Exception):
    """A change the template's current state forbids; the API answers 409."""

    conflict = True


def _key_clean(key: str) -> str:
    errors = []
    try:
        validate_slug(key)
    except ValidationError:
        errors.append(_("%(key)r is not a key: use letters, digits, '-' and '_' only") % {"key": key})
    if len(key) > KEY_MAX_LENGTH:
        errors.append(
            _("the key is %(length)s characters long; at most %(max)s are allowed")
            % {"length": len(key), "max": KEY_MAX_LENGTH}
        )
    if not errors and MessageTemplate.objects.filter(key=key).exists():
        errors.append(_("a template with key %(key)r already exists") % {"key": key})
    if errors:
        raise ValidationError({"key": errors})
    return key


def _status_clean(status: str) -> str:
    if status not in TemplateStatus.values:
        raise ValidationError(
            {"status": [f"{status!r} is not a status; choose one of: {', '.join(TemplateStatus.values)}"]}
        )
    return status


def _variants_sync(template: MessageTemplate, content: TemplateContent) -> None:
    """Make the template's variant rows match ``content`` (rows are the editable mirror)."""
    languages = content.languages
    template.variants.exclude(language__in=languages).delete()
    for variant in content.variants:
        TemplateVariant.objects.update_or_create(
            template=template,
            language=variant.language,
            defaults={"title": variant.title, "body": variant.body},
        )


def _version_create(
    template: MessageTemplate, content: TemplateContent, *, by: AbstractBaseUser | None
) -> TemplateVersion:
    return TemplateVersion.objects.create(
        template=template,
        number=template.version,
        default_language=content.default_language,
        variants=[variant.as_dict() for variant in content.variants],
        variables=content.variables,
        provider_refs=dict(content.provider_refs),
        created_by=by if by is not None and by.is_authenticated else None,
    )


@transaction.atomic
def template_create(
    *,
    key: str,
    description: str = "",
    default_language: str = "en",
    variants: Iterable[Mapping[str, object]],
    provider_refs: Mapping[str, object] | None = None,
    status: str = TemplateStatus.DRAFT,
    by: AbstractBaseUser | None = None,
) -> MessageTemplate:
    """Create a template with its variants and its version 1; raise ValidationError.

    ``variants`` are ``{"language", "title", "body"}`` dicts; ``provider_refs`` maps a
    provider kind to the template's id/code/name there. A new template is a draft or
    active, never archived. ``by`` is the user recorded on the version.
    """
    errors: dict[str, list[str]] = {}
    for check in (lambda: _key_clean(key), lambda: _status_clean(status)):
        try:
            check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if status == TemplateStatus.ARCHIVED:
        errors.setdefault("status", []).append("a new template is a draft or active, not archived")
    try:
        content = content_clean(
            default_language=default_language, variants=variants, provider_refs=provider_refs
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    template = MessageTemplate.objects.create(
        key=key,
        description=description,
        default_language=content.default_language,
        status=status,
        version=1,
        provider_refs=dict(content.provider_refs),
    )
    _variants_sync(template, content)
    _version_create(template, content, by=by)
    return template


def template_update(
    *,
    template: MessageTemplate,
    description: str | None = None,
    default_language: str | None = None,
    variants: Iterable[Mapping[str, object]] | None = None,
    provider_refs: Mapping[str, object] | None = None,
    status: str | None = None,
    by: AbstractBaseUser | None = None,
) -> MessageTemplate:
    """Apply the given changes (None: unchanged) and return the template, refreshed.

    ``variants`` replaces the whole list: a language left out is removed. When the
    content differs from the current version, version ``template.version + 1`` is created;
    saving identical content creates none. Raise ValidationError for bad input and
    TemplateConflict when the template is archived or changed since it was read.
    """
    try:
        with transaction.atomic():
            stored = template.versions.filter(number=template.version).first()
            # A template made outside these services has no version yet; its first save makes one.
            current = content_of_version(stored) if stored else TemplateContent(template.default_language, ())
            content = content_clean(
                default_language=current.default_language if default_language is None else default_language,
                variants=[v.as_dict() for v in current.variants] if variants is None else variants,
                provider_refs=current.provider_refs if provider_refs is None else provider_refs,
            )
            if status is not None and status != template.status:
                _template_transition(template, to=_status_clean(status))
            changes: dict[str, object] = {}
            if description is not None and description != template.description:
                changes["description"] = description
            if content != current:
                if template.status == TemplateStatus.ARCHIVED:
                    raise TemplateConflict(
                        _("template %(key)r is archived; restore it to draft before changing its text")
                        % {"key": template.key}
                    )
                changes.update(
                    version=template.version + 1,
                    default_language=content.default_language,
                    provider_refs=dict(content.provider_refs),
                )
            if changes:
                # Compare-and-swap on the version read: two editors never both become version N+1.
                updated = MessageTemplate.objects.filter(pk=template.pk, version=template.version).update(
                    **changes, updated_at=timezone.now()
                )
                if updated != 1:
                    raise TemplateConflict(
                        _("template %(key)r changed since version %(version)s was read; "
                          "reload it and apply the change again")
                        % {"key": template.key, "version": template.version}
                    )
                for name, value in changes.items():
                    setattr(template, name, value)
                if "version" in changes:
                    _variants_sync(template, content)
                    _version_create(template, content, by=by)
    finally:
        # On success this shows the saved state; on failure it undoes in-memory changes.
        template.refresh_from_db()
    # A prefetched current version (selectors.template_list) is stale now.
    template.__dict__.pop("current_versions", None)
    return template


def _template_transition(template: MessageTemplate, *, to: str) -> None:
    """Move ``template`` from its status to ``to``; raise TemplateConflict when not allowed."""
    if to not in TRANSITIONS[template.status]:
        allowed = ", ".join(sorted(TRANSITIONS[template.status])) or _("nothing")
        raise TemplateConflict(
            _("template %(key)r is %(status)s; it cannot become %(to)s (it can become: %(allowed)s)")
            % {"key": template.key, "status": template.status, "to": to, "allowed": allowed}
        )
    updated = MessageTemplate.objects.filter(pk=template.pk, status=template.status).update(
        status=to, updated_at=timezone.now()
    )
    if updated != 1:
        raise TemplateConflict(
            _("template %(key)r changed status since it was read; reload it and try again")
            % {"key": template.key}
        )
    template.status = to


def template_activate(*, template: MessageTemplate) -> MessageTemplate:
    """Make a draft template available to new campaigns."""
    with transaction.atomic():
        _template_transition(template, to=TemplateStatus.ACTIVE)
    template.refresh_from_db()
    return template


def template_archive(*, template: MessageTemplate) -> MessageTemplate:
    """Retire a template: no new campaigns; campaigns pinned to its versions keep them."""
    with transaction.atomic():
        _template_transition(template, to=TemplateStatus.ARCHIVED)
    template.refresh_from_db()
    return template
