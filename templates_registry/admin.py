"""Admin of message templates: edit with variants inline, preview every language, see versions.

Saving goes through ``templates_registry.services`` like the API does, so the admin gets
the same checks and the same versioning: ``save_model`` leaves the work to
``save_related``, which knows the variants and calls ``template_create`` or
``template_update`` once.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join

from templates_registry.content import content_clean, content_of_version, variable_warnings
from templates_registry.models import MessageTemplate, TemplateStatus, TemplateVariant, TemplateVersion
from templates_registry.references import MAX_REFERENCE_LENGTH, clean_provider_refs, template_references
from templates_registry.rendering import render_version
from templates_registry.selectors import current_version, template_list, version_get, version_history
from templates_registry.services import (
    TRANSITIONS,
    TemplateConflict,
    template_activate,
    template_archive,
    template_create,
    template_update,
)

REFERENCE_FIELDS = {f"ref_{kind}": kind for kind in template_references()}


def sample_value(name: str) -> str:
    """Return the preview's stand-in for a parameter nobody filled in: visible, not mistaken."""
    return f"[{name}]"


class _TemplateFormBase(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["key", "description", "default_language", "status"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        refs = self.instance.provider_refs or {}
        for field_name, kind in REFERENCE_FIELDS.items():
            if field_name in self.fields:  # view-only users get a form without fields
                self.fields[field_name].initial = refs.get(kind, "")
        if "status" in self.fields:
            current = self.instance.status if self.instance.pk else None
            allowed = TRANSITIONS[current] | {current} if current else {"draft", "active"}
            self.fields["status"].choices = [c for c in TemplateStatus.choices if c[0] in allowed]

    def clean(self) -> dict:
        cleaned = super().clean()
        refs: dict[str, str] = {}
        for field_name, kind in REFERENCE_FIELDS.items():
            try:
                refs.update(clean_provider_refs({kind: cleaned.get(field_name, "")}))
            except ValidationError as exc:
                for message in exc.message_dict["provider_refs"]:
                    self.add_error(field_name, message.removeprefix(f"{kind}: "))
        # The variant formset checks the whole content against the instance (see VariantFormSet).
        self.instance.provider_refs = refs
        return cleaned


# One optional field per provider kind, so a new provider needs no change here.
MessageTemplateForm = type(
    "MessageTemplateForm",
    (_TemplateFormBase,),
    {
        "__module__": __name__,
        **{
            field_name: forms.CharField(
                label=spec.label,
                required=False,
                max_length=MAX_REFERENCE_LENGTH,
                help_text=f"Leave empty when it is not registered with {spec.provider}.",
            )
            for field_name, spec in ((f"ref_{kind}", spec) for kind, spec in template_references().items())
        },
    },
)


class VariantFormSet(BaseInlineFormSet):
    """Checks the variants together, as the services will: placeholders, languages, default."""

    def variant_dicts(self) -> list[dict[str, str]]:
        return [
            {
                "language": form.cleaned_data["language"],
                "title": form.cleaned_data.get("title", ""),
                "body": form.cleaned_data.get("body", ""),
            }
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        try:
            # The parent form has copied its cleaned values onto self.instance by now;
            # provider references are its own errors, so they are left out here.
            content_clean(
                default_language=self.instance.default_language,
                variants=self.variant_dicts(),
                provider_refs=None,
            )
        except ValidationError as exc:
            raise ValidationError([m for ms in exc.message_dict.values() for m in ms]) from exc


class TemplateVariantInline(admin.StackedInline):
    model = TemplateVariant
    formset = VariantFormSet
    fields = ["language", "title", "body"]
    extra = 0
    min_num = 1


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    inlines = [TemplateVariantInline]
    list_display = ["key", "status", "version", "default_language", "languages", "variables", "preview"]
    list_filter = ["status"]
    search_fields = ["key", "description"]
    actions = ["activate_selected", "archive_selected"]

    # -- what is shown -----------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[MessageTemplate]:
        return template_list()

    def get_readonly_fields(self, request: HttpRequest, obj: MessageTemplate | None = None) -> list[str]:
        fields = ["version", "variables", "warnings", "preview", "history"]
        return ["key", *fields] if obj else fields

    def get_fieldsets(self, request: HttpRequest, obj: MessageTemplate | None = None) -> list:
        editable = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        # Reference fields are form fields, not model fields: view-only users see them as one list.
        references = list(REFERENCE_FIELDS) if editable else ["references"]
        fieldsets = [
            (None, {"fields": ["key", "description", "default_language", "status"]}),
            ("Provider references", {"fields": references}),
        ]
        if obj is not None:
            fieldsets.append(
                ("Versions", {"fields": ["version", "variables", "warnings", "preview", "history"]})
            )
        return fieldsets

    @admin.display(description="Languages")
    def languages(self, template: MessageTemplate) -> str:
        return ", ".join(v["language"] for v in current_version(template).variants)

    @admin.display(description="Variables")
    def variables(self, template: MessageTemplate) -> str:
        return ", ".join(current_version(template).variables) or "—"

    @admin.display(description="Variables missing from some languages")
    def warnings(self, template: MessageTemplate) -> str:
        found = variable_warnings(content_of_version(current_version(template)))
        return format_html_join("", "<div>{}</div>", ((w,) for w in found)) if found else "—"

    @admin.display(description="Provider references")
    def references(self, template: MessageTemplate) -> str:
        refs = template.provider_refs or {}
        rows = [
            (spec.label, refs.get(kind) or "not registered")
            for kind, spec in template_references().items()
        ]
        return format_html_join("", "<div>{}: {}</div>", rows)

    @admin.display(description="Preview")
    def preview(self, template: MessageTemplate) -> str:
        if template.pk is None:
            return "—"
        url = reverse("admin:templates_registry_messagetemplate_preview", args=[template.pk])
        return format_html('<a href="{}">Preview all languages</a>', url)

    @admin.display(description="Version history")
    def history(self, template: MessageTemplate) -> str:
        preview = reverse("admin:templates_registry_messagetemplate_preview", args=[template.pk])
        rows = []
        for version in version_history(template).select_related("created_by"):
            pinned = [(self._campaign_url(c.pk), c.name) for c in version.campaigns.all()]
            rows.append((
                version.number,
                f"{version.created_at:%Y-%m-%d %H:%M}",
                version.created_by or "—",
                ", ".join(v["language"] for v in version.variants),
                ", ".join(version.variables) or "—",
                format_html_join(", ", '<a href="{}">{}</a>', pinned) if pinned else "none",
                f"{preview}?version={version.number}",
            ))
        row = (
            "<tr><td>v{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            '<td><a href="{}">preview</a></td></tr>'
        )
        return format_html(
            '<table class="version-history"><thead><tr><th>Version</th><th>Created</th><th>By</th>'
            "<th>Languages</th><th>Variables</th><th>Campaigns pinned to it</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join("", row, rows),
        )

    @staticmethod
    def _campaign_url(pk: int) -> str:
        try:
            return reverse("admin:campaigns_campaign_change", args=[pk])
        except NoReverseMatch:  # the campaigns admin is optional to this app
            return "#"

    # -- saving through the services ---------------------------------------------------
    def has_delete_permission(self, request: HttpRequest, obj: MessageTemplate | None = None) -> bool:
        # Versions are history campaigns point at; retire a template by archiving it.
        return False

    def save_model(
        self, request: HttpRequest, obj: MessageTemplate, form: forms.ModelForm, change: bool
    ) -> None:
        """Save nothing yet: save_related saves the template and its variants in one call."""

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        [variants] = [fs for fs in formsets if isinstance(fs, VariantFormSet)]
        data = form.cleaned_data
        fields = {
            "description": data["description"],
            "default_language": data["default_language"],
            "variants": variants.variant_dicts(),
            "provider_refs": form.instance.provider_refs,
            "status": data["status"],
            "by": request.user,
        }
        if change:
            stored = MessageTemplate.objects.get(pk=form.instance.pk)
            before = stored.version
            template = template_update(template=stored, **fields)
            if template.version != before:
                outcome = f"the text changed, saved as version {template.version}"
            else:
                outcome = f"the text is unchanged, still version {before}"
            self.message_user(request, f"{template.key}: {outcome}.")
        else:
            template = template_create(key=data["key"], **fields)
        for warning in variable_warnings(content_of_version(current_version(template))):
            self.message_user(request, f"{template.key}: {warning}.", messages.WARNING)
        # The admin goes on with form.instance (log entry, redirect): make it the saved row.
        for field in MessageTemplate._meta.concrete_fields:
            setattr(form.instance, field.attname, getattr(template, field.attname))
        form.instance._state.adding = False
        form.instance._state.db = template._state.db

    def construct_change_message(
        self, request: HttpRequest, form: forms.ModelForm, formsets: list, add: bool
    ) -> list:
        if add:
            return [{"added": {}}]
        return [{"changed": {"fields": form.changed_data}}] if form.changed_data else []

    # -- actions -----------------------------------------------------------------------
    @admin.action(description="Activate selected drafts", permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[MessageTemplate]) -> None:
        self._transition_each(request, queryset, template_activate, "Activated")

    @admin.action(description="Archive selected templates", permissions=["change"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[MessageTemplate]) -> None:
        self._transition_each(request, queryset, template_archive, "Archived")

    def _transition_each(self, request: HttpRequest, queryset, service, done: str) -> None:
        for template in queryset:
            try:
                service(template=template)
            except TemplateConflict as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{done} {template.key}.")

    # -- preview -----------------------------------------------------------------------
    def get_urls(self) -> list:
        preview = path(
            "<path:object_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="templates_registry_messagetemplate_preview",
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Render every language of a version side by side with sample parameters from the query."""
        template = self.get_object(request, unquote(object_id))
        if template is None:
            raise Http404(f"no message template with id {object_id!r}")
        if not self.has_view_or_change_permission(request, template):
            raise PermissionDenied
        try:
            number = int(request.GET.get("version") or template.version)
            version = version_get(template=template, number=number)
        except (ValueError, TemplateVersion.DoesNotExist):
            raise Http404(f"{template.key} has no version {request.GET.get('version')!r}") from None

        samples = {name: request.GET.get(name) or sample_value(name) for name in version.variables}
        columns = []
        for variant in version.variants:
            try:
                rendered, errors = render_version(version, variant["language"], samples), []
            except ValidationError as exc:
                rendered, errors = None, exc.messages
            columns.append({"source": variant, "rendered": rendered, "errors": errors,
                            "is_default": variant["language"] == version.default_language})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": template,
            "title": f"Preview of {template.key} v{version.number}",
            "version": version,
            "versions": list(version_history(template).values_list("number", flat=True)),
            "samples": samples,
            "columns": columns,
            "warnings": variable_warnings(content_of_version(version)),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/templates_registry/messagetemplate/preview.html", context)


@admin.register(TemplateVersion)
class TemplateVersionAdmin(admin.ModelAdmin):
    """Versions are immutable history: listed and shown, never added, changed or deleted."""

    list_display = ["template", "number", "created_by", "created_at", "pinned_campaigns"]
    list_filter = ["template"]
    list_select_related = ["template", "created_by"]
    readonly_fields = [f.name for f in TemplateVersion._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TemplateVersion]:
        return super().get_queryset(request).prefetch_related("campaigns")

    @admin.display(description="Campaigns pinned to it")
    def pinned_campaigns(self, version: TemplateVersion) -> str:
        return ", ".join(campaign.name for campaign in version.campaigns.all()) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TemplateVersion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TemplateVersion | None = None) -> bool:
        return False
