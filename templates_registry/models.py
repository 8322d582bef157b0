"""Message templates: our versioned mirror of the templates registered at each provider."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from templates_registry.languages import validate_language_tag


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class MessageTemplate(models.Model):
    """A template known by a key, with one variant per language and provider references."""

    key = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    default_language = models.CharField(
        max_length=35, default="en", validators=[validate_language_tag],
        help_text=_("BCP-47 tag of the variant used when no variant matches the recipient's language."),
    )
    status = models.CharField(
        max_length=16, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT
    )
    # Current version number; every content change creates a TemplateVersion.
    version = models.PositiveIntegerField(default=0)
    # kind -> the template's id/code/name at that provider, e.g. {"binance": "1344001"}.
    provider_refs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TemplateStatus.values), name="template_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.key


class TemplateVariant(models.Model):
    """The text of a template in one language (BCP-47), with ``${name}`` placeholders."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="variants")
    language = models.CharField(
        max_length=35, validators=[validate_language_tag], help_text=_("BCP-47 tag: en, en-US, zh-CN.")
    )
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("template variant")
        verbose_name_plural = _("template variants")
        ordering = ["template", "language"]
        constraints = [
            models.UniqueConstraint(fields=["template", "language"], name="variant_unique_language")
        ]

    def __str__(self) -> str:
        return f"{self.template.key} [{self.language}]"


class TemplateVersion(models.Model):
    """An immutable snapshot of a template's content; campaigns pin one.

    Created only by ``templates_registry.services`` and never updated: a campaign approved
    against version 3 keeps sending version 3's text however the template changes later.
    """

    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    default_language = models.CharField(max_length=35)
    # [{"language": …, "title": …, "body": …}, …] sorted by language.
    variants = models.JSONField()
    variables = models.JSONField(default=list)
    provider_refs = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="template_version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.template.key} v{self.number}"
