from django.contrib import admin
from django.utils import timezone

from . import breakers
from .models import (
    Batch,
    Breaker,
    ConcurrencySlot,
    Favourite,
    Generation,
    Image,
    ModelCapability,
    Preset,
    RateState,
    ReferenceImage,
    SetAsideKey,
    StylePreset,
    Tag,
)


@admin.register(ModelCapability)
class ModelCapabilityAdmin(admin.ModelAdmin):
    list_display = ["model_id", "label", "sizes", "max_reference_images", "sends_image_size", "active", "sort_order"]
    list_filter = ["active", "sends_image_size"]
    search_fields = ["model_id", "label"]
    list_editable = ["active", "sort_order"]


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "prompt_suffix", "active", "sort_order"]
    list_filter = ["active"]
    search_fields = ["name", "slug", "prompt_suffix"]
    prepopulated_fields = {"slug": ["name"]}
    list_editable = ["active", "sort_order"]


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "aspect_ratio", "size", "style", "active", "sort_order"]
    list_filter = ["active", "aspect_ratio", "size", "style"]
    search_fields = ["name", "slug", "description", "prompt_suffix"]
    prepopulated_fields = {"slug": ["name"]}
    list_editable = ["active", "sort_order"]


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    fields = ["index", "file", "width", "height", "mime_type", "bytes", "ratio_mismatch"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


class ReferenceInline(admin.TabularInline):
    model = ReferenceImage
    extra = 0
    fields = ["position", "file", "width", "height", "mime_type", "source_image", "original_name"]
    readonly_fields = fields
    can_delete = False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "user",
        "status",
        "provider",
        "model",
        "aspect_ratio",
        "size",
        "n",
        "attempts",
        "estimated_cost",
        "actual_cost",
        "visibility",
    ]
    list_filter = ["status", "provider", "model", "size", "aspect_ratio", "visibility", "created_at"]
    search_fields = ["prompt", "text_reply", "user__username", "error_message"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user", "batch", "remix_of"]
    readonly_fields = [
        "attempt_log",
        "usage",
        "lease_until",
        "worker",
        "started_at",
        "finished_at",
        "latency_ms",
        "actual_cost",
        "estimated_cost",
        "response_id",
    ]
    inlines = [ImageInline, ReferenceInline]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "generation", "width", "height", "mime_type", "bytes", "ratio_mismatch", "created_at"]
    list_filter = ["mime_type", "ratio_mismatch", "created_at"]
    search_fields = ["generation__prompt", "sha256", "tags__name"]
    raw_id_fields = ["generation"]
    filter_horizontal = ["tags"]


@admin.register(ReferenceImage)
class ReferenceImageAdmin(admin.ModelAdmin):
    list_display = ["id", "generation", "position", "width", "height", "mime_type", "source_image"]
    search_fields = ["original_name", "sha256"]
    raw_id_fields = ["generation", "source_image"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "user", "created_at"]
    search_fields = ["name", "user__username"]
    list_filter = ["created_at"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Favourite)
class FavouriteAdmin(admin.ModelAdmin):
    list_display = ["user", "image", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["user__username"]
    raw_id_fields = ["image"]


@admin.register(Breaker)
class BreakerAdmin(admin.ModelAdmin):
    list_display = [
        "scope",
        "state",
        "consecutive_failures",
        "open_until",
        "times_opened",
        "last_failure_at",
        "short_error",
    ]
    search_fields = ["scope"]
    readonly_fields = [f.name for f in Breaker._meta.fields]
    actions = ["close_breakers"]

    @admin.display(description="state")
    def state(self, obj: Breaker) -> str:
        return obj.state

    @admin.display(description="last error")
    def short_error(self, obj: Breaker) -> str:
        return obj.last_error[:120]

    @admin.action(description="Close the selected breakers (let calls through now)")
    def close_breakers(self, request, queryset) -> None:
        for row in queryset:
            breakers.reset(row.scope)
        self.message_user(request, f"Closed {queryset.count()} breaker(s).")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SetAsideKey)
class SetAsideKeyAdmin(admin.ModelAdmin):
    list_display = ["provider", "key_label", "status", "reason", "set_aside_at"]
    list_filter = ["provider"]
    readonly_fields = ["provider", "index", "fingerprint", "status", "reason", "set_aside_at"]
    actions = ["reenable"]

    @admin.display(description="key")
    def key_label(self, obj: SetAsideKey) -> str:
        return f"key #{obj.index} ({obj.fingerprint})"

    @admin.action(description="Re-enable the selected keys (after fixing them in the environment)")
    def reenable(self, request, queryset) -> None:
        count, _ = queryset.delete()
        self.message_user(request, f"Re-enabled {count} key(s).")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ConcurrencySlot)
class ConcurrencySlotAdmin(admin.ModelAdmin):
    list_display = ["scope", "index", "in_use", "holder", "lease_until"]
    list_filter = ["scope"]
    readonly_fields = ["scope", "index", "holder", "lease_until"]

    @admin.display(boolean=True, description="in use")
    def in_use(self, obj: ConcurrencySlot) -> bool:
        return obj.in_use

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(RateState)
class RateStateAdmin(admin.ModelAdmin):
    list_display = ["scope", "next_turn"]
    readonly_fields = ["scope", "tat", "version"]

    @admin.display(description="next free turn")
    def next_turn(self, obj: RateState):
        from datetime import UTC, datetime

        return max(datetime.fromtimestamp(obj.tat, tz=UTC), timezone.now())

    def has_add_permission(self, request) -> bool:
        return False
