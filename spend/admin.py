from django.contrib import admin

from .models import Budget, CallPrice, ModelPrice, SpendEntry


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["model_id", "effective_from", "input_per_mtok", "image_output_per_mtok", "text_output_per_mtok"]
    list_filter = ["model_id"]
    search_fields = ["model_id", "note"]


@admin.register(CallPrice)
class CallPriceAdmin(admin.ModelAdmin):
    list_display = ["provider", "model_id", "size", "quality", "price_per_image", "effective_from"]
    list_filter = ["provider", "size"]
    search_fields = ["provider", "model_id"]


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "period", "amount", "active"]
    list_filter = ["period", "active"]
    search_fields = ["user__username"]


@admin.register(SpendEntry)
class SpendEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "amount", "provider", "model", "generation"]
    list_filter = ["kind", "provider", "model", "created_at"]
    search_fields = ["user__username", "model", "note"]
    date_hierarchy = "created_at"
    raw_id_fields = ["generation", "user"]

    # Append-only: entries are added by the app or as corrections, never edited.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
