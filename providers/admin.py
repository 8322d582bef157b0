"""Admin registrations for provider accounts (credentials are write-only)."""

from django.contrib import admin

from providers.models import ProviderAccount


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "base_url", "app_id", "rate_limit", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "app_id"]
    exclude = ["credentials_encrypted"]
