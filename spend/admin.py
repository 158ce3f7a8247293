from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from . import budgets
from .models import Budget, CallPrice, ModelPrice, SpendEntry
from .money import usd


class PriceHistoryAdmin(admin.ModelAdmin):
    """A price in force may already have priced generations, so it is never edited:
    a change is a new row with a later `effective_from` (prefilled from the old)."""

    copied_fields: tuple[str, ...] = ()

    def in_effect(self, obj) -> bool:
        return obj is not None and obj.effective_from <= timezone.now()

    def get_readonly_fields(self, request, obj=None):
        if self.in_effect(obj):
            return [f for f in self.copied_fields if f != "note"] + ["effective_from"]
        return []

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self.in_effect(obj)

    @admin.display(description="Change")
    def new_price_link(self, obj) -> str:
        meta = self.model._meta
        initial = {f: getattr(obj, f) for f in self.copied_fields}
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_add") + "?" + urlencode(initial)
        return format_html('<a href="{}">new price from a date…</a>', url)

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "effective_from": timezone.now()}


@admin.register(ModelPrice)
class ModelPriceAdmin(PriceHistoryAdmin):
    list_display = [
        "model_id",
        "effective_from",
        "input_per_mtok",
        "image_output_per_mtok",
        "text_output_per_mtok",
        "new_price_link",
    ]
    list_filter = ["model_id"]
    search_fields = ["model_id", "note"]
    copied_fields = ("model_id", "input_per_mtok", "image_output_per_mtok", "text_output_per_mtok", "note")


@admin.register(CallPrice)
class CallPriceAdmin(PriceHistoryAdmin):
    list_display = ["provider", "model_id", "size", "quality", "price_per_image", "effective_from", "new_price_link"]
    list_filter = ["provider", "size"]
    search_fields = ["provider", "model_id"]
    copied_fields = ("provider", "model_id", "size", "quality", "price_per_image")


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "period", "amount", "active", "used_now", "left_now"]
    list_filter = ["period", "active"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]

    @admin.display(description="Used this period")
    def used_now(self, obj: Budget) -> str:
        return usd(budgets.status_of(obj).used)

    @admin.display(description="Left")
    def left_now(self, obj: Budget) -> str:
        return usd(budgets.status_of(obj).left)


class CorrectionForm(forms.ModelForm):
    class Meta:
        model = SpendEntry
        fields = ["user", "amount", "accounted_at", "note"]
        help_texts = {
            "amount": "Signed, in USD: negative to refund, positive to charge.",
            "accounted_at": "When it counts for budgets and reports.",
            "note": "Why (required); shown in reports and the CSV.",
        }

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Say why this correction is made.")
        return note

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if not amount:
            raise forms.ValidationError("A correction of $0 changes nothing.")
        return amount


@admin.register(SpendEntry)
class SpendEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "accounted_at", "user", "kind", "amount", "provider", "model", "generation", "note"]
    list_filter = ["kind", "provider", "model", "accounted_at"]
    search_fields = ["user__username", "model", "note"]
    date_hierarchy = "accounted_at"
    raw_id_fields = ["generation", "user"]
    form = CorrectionForm

    # Append-only: entries are added by the app or as corrections, never edited.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return CorrectionForm.Meta.fields
        return [f.name for f in SpendEntry._meta.fields if f.name != "id"]

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "accounted_at": timezone.now()}

    def save_model(self, request, obj, form, change):
        obj.kind = SpendEntry.Kind.CORRECTION
        obj.note = f"{obj.note} (by {request.user.get_username()})"[:200]
        super().save_model(request, obj, form, change)
