"""Admin registrations for message templates."""

from django.contrib import admin

from templates_registry.models import MessageTemplate, TemplateVariant, TemplateVersion


class TemplateVariantInline(admin.StackedInline):
    model = TemplateVariant
    extra = 0


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["key", "status", "version", "default_language", "updated_at"]
    list_filter = ["status"]
    search_fields = ["key", "description"]
    readonly_fields = ["version"]
    inlines = [TemplateVariantInline]


@admin.register(TemplateVersion)
class TemplateVersionAdmin(admin.ModelAdmin):
    list_display = ["template", "number", "created_at"]
    readonly_fields = [f.name for f in TemplateVersion._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
