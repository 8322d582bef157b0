"""Admin registrations for recipients, audiences, campaigns, dispatches and deliveries."""

from django.contrib import admin

from campaigns.models import Audience, AudienceMember, Campaign, Delivery, Dispatch, Recipient


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ["external_id", "language", "updated_at"]
    search_fields = ["external_id"]


class AudienceMemberInline(admin.TabularInline):
    model = AudienceMember
    extra = 0


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "updated_at"]
    list_filter = ["kind"]
    inlines = [AudienceMemberInline]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "provider_account", "schedule_kind", "next_due_at", "created_by"]
    list_filter = ["status", "schedule_kind", "provider_account__kind"]
    search_fields = ["name"]
    list_select_related = ["provider_account", "created_by"]
    readonly_fields = ["status", "submitted_hash", "approved_hash", "next_due_at", "created_by"]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    list_display = ["campaign", "due_at", "status", "total_requests", "delivered", "failed", "unknown"]
    list_filter = ["status"]
    list_select_related = ["campaign"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["idempotency_key", "dispatch", "status", "attempts", "provider_code"]
    list_filter = ["status"]
    search_fields = ["idempotency_key", "provider_code"]
