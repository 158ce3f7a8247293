from django.contrib import admin

from .models import Batch, Favourite, Generation, Image, ModelCapability, Preset, ReferenceImage, StylePreset, Tag


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
