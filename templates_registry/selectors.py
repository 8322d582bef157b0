"""Reads of templates and their versions."""

from __future__ import annotations

from django.db.models import F, Prefetch, QuerySet

from templates_registry.models import MessageTemplate, TemplateVersion


def current_version(template: MessageTemplate) -> TemplateVersion:
    """Return the version a campaign written now pins: the template's newest one."""
    prefetched = getattr(template, "current_versions", None)
    if prefetched:
        return prefetched[0]
    return template.versions.get(number=template.version)


def template_variables(template: MessageTemplate) -> list[str]:
    """Return the variables every campaign on the current version must supply, sorted."""
    return list(current_version(template).variables)


def template_list(*, status: str | None = None) -> QuerySet[MessageTemplate]:
    """Return templates (optionally of one status) with their current version prefetched."""
    templates = MessageTemplate.objects.prefetch_related(
        Prefetch(
            "versions",
            queryset=TemplateVersion.objects.filter(number=F("template__version")),
            to_attr="current_versions",
        )
    )
    if status:
        templates = templates.filter(status=status)
    return templates


def version_history(template: MessageTemplate) -> QuerySet[TemplateVersion]:
    """Return the template's versions, newest first, with the campaigns pinned to each."""
    # "campaigns" is the reverse accessor the campaigns app declares on TemplateVersion;
    # reading it keeps the dependency one-way (this app never imports campaigns).
    return template.versions.order_by("-number").prefetch_related("campaigns")


def version_get(*, template: MessageTemplate, number: int) -> TemplateVersion:
    """Return version ``number`` of ``template``; raise TemplateVersion.DoesNotExist."""
    return template.versions.get(number=number)
