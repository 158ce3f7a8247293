"""Default model capabilities and presets, from ../shared/reference/nano-banana-api.md.

Used by the data migration and by `manage.py seed_defaults` (which only adds what is
missing, so admin edits survive a re-run).
"""

from __future__ import annotations

TEN_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
EXTREME_RATIOS = ["1:4", "4:1", "1:8", "8:1"]

FLASH_25_1K = {
    "1:1": [1024, 1024],
    "2:3": [832, 1248],
    "3:2": [1248, 832],
    "3:4": [864, 1184],
    "4:3": [1184, 864],
    "4:5": [896, 1152],
    "5:4": [1152, 896],
    "9:16": [768, 1344],
    "16:9": [1344, 768],
    "21:9": [1536, 672],
}
GEMINI_3_1K = {
    "1:1": [1024, 1024],
    "2:3": [848, 1264],
    "3:2": [1264, 848],
    "3:4": [896, 1200],
    "4:3": [1200, 896],
    "4:5": [928, 1152],
    "5:4": [1152, 928],
    "9:16": [768, 1376],
    "16:9": [1376, 768],
    "21:9": [1584, 672],
}
FLASH_31_EXTREME_1K = {"1:4": [512, 2048], "4:1": [2048, 512], "1:8": [384, 3072], "8:1": [3072, 384]}


def _scaled(table: dict, factor: float) -> dict:
    return {ratio: [int(w * factor), int(h * factor)] for ratio, (w, h) in table.items()}


_flash31_1k = {**GEMINI_3_1K, **FLASH_31_EXTREME_1K}

MODEL_CAPABILITIES = [
    {
        "model_id": "gemini-2.5-flash-image",
        "label": "Nano Banana",
        "sizes": ["1K"],
        "aspect_ratios": TEN_RATIOS,
        "max_reference_images": 3,
        "sends_image_size": False,
        "pixel_sizes": {"1K": FLASH_25_1K},
        "output_tokens": {"1K": 1290},
        # Not in the reference; Gemini counts a small image as 258 tokens.
        "input_image_tokens": 258,
        "sort_order": 30,
    },
    {
        "model_id": "gemini-3-pro-image-preview",
        "label": "Nano Banana Pro",
        "sizes": ["1K", "2K", "4K"],
        "aspect_ratios": TEN_RATIOS,
        "max_reference_images": 14,
        "sends_image_size": True,
        "pixel_sizes": {"1K": GEMINI_3_1K, "2K": _scaled(GEMINI_3_1K, 2), "4K": _scaled(GEMINI_3_1K, 4)},
        "output_tokens": {"1K": 1120, "2K": 1120, "4K": 2000},
        "input_image_tokens": 560,
        "sort_order": 10,
    },
    {
        "model_id": "gemini-3.1-flash-image-preview",
        "label": "Nano Banana 2",
        "sizes": ["512", "1K", "2K", "4K"],
        "aspect_ratios": TEN_RATIOS + EXTREME_RATIOS,
        "max_reference_images": 14,
        "sends_image_size": True,
        "pixel_sizes": {
            "512": _scaled(_flash31_1k, 0.5),
            "1K": _flash31_1k,
            "2K": _scaled(_flash31_1k, 2),
            "4K": _scaled(_flash31_1k, 4),
        },
        "output_tokens": {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
        "input_image_tokens": 1120,
        "sort_order": 20,
    },
]

STYLE_PRESETS = [
    (
        "photorealistic",
        "Photorealistic",
        "photorealistic, natural light, sharp focus, shot on a full-frame camera, 50mm lens",
    ),
    ("anime", "Anime", "anime style, clean cel shading, vibrant colours, expressive eyes, detailed background"),
    ("concept-art", "Concept art", "digital concept art, painterly brushwork, dramatic lighting, atmospheric depth"),
    ("minimalist", "Minimalist", "minimalist design, simple flat shapes, generous negative space, limited palette"),
    ("watercolor", "Watercolor", "watercolor painting, soft washes, visible paper texture, gentle bleeding edges"),
    (
        "3d-render",
        "3D render",
        "3D render, physically based materials, global illumination, soft shadows, octane style",
    ),
    ("pixel-art", "Pixel art", "pixel art, 16-bit era, crisp pixels, limited palette, no anti-aliasing"),
    (
        "product-photo",
        "Product photo",
        "professional product photography, seamless backdrop, softbox lighting, crisp detail",
    ),
    (
        "cinematic",
        "Cinematic",
        "cinematic still, anamorphic lens, shallow depth of field, film grain, moody colour grade",
    ),
]

# slug, name, description, prompt suffix, ratio, size, style slug
USE_CASE_PRESETS = [
    (
        "social-media-post",
        "Social media post",
        "Square post that reads at a glance",
        "eye-catching social media post, bold focal point, clean composition",
        "1:1",
        "1K",
        "",
    ),
    (
        "ecommerce-product",
        "E-commerce product shot",
        "Clean white background, studio light",
        "e-commerce product shot on a clean white background, studio lighting, soft shadow, centred",
        "1:1",
        "2K",
        "product-photo",
    ),
    (
        "anime-character",
        "Anime character",
        "Full-body character sheet",
        "anime character design, full body, neutral pose, plain background",
        "2:3",
        "1K",
        "anime",
    ),
    (
        "logo-icon",
        "Logo / icon",
        "Minimalist mark on a plain background",
        "minimalist logo icon, flat vector style, centred, plain background, no text unless quoted",
        "1:1",
        "1K",
        "minimalist",
    ),
    (
        "game-concept-art",
        "Game concept art",
        "Wide environment establishing shot",
        "game environment concept art, wide establishing shot, sense of scale",
        "21:9",
        "2K",
        "concept-art",
    ),
    (
        "poster-with-text",
        "Poster with text",
        "Put the words you need in quotes",
        "poster design with crisp, legible typography exactly as quoted, strong layout hierarchy",
        "2:3",
        "2K",
        "",
    ),
    (
        "phone-wallpaper",
        "Phone wallpaper",
        "Tall 9:16 wallpaper",
        "phone wallpaper, vertical composition, uncluttered centre for app icons",
        "9:16",
        "2K",
        "",
    ),
]


def seed_defaults(apps=None) -> dict[str, int]:
    """Create the default rows that are missing; return counts of rows created."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    ModelCapability = apps.get_model("generator", "ModelCapability")
    StylePreset = apps.get_model("generator", "StylePreset")
    Preset = apps.get_model("generator", "Preset")
    created = {"models": 0, "styles": 0, "presets": 0}

    for data in MODEL_CAPABILITIES:
        _, made = ModelCapability.objects.get_or_create(model_id=data["model_id"], defaults=data)
        created["models"] += made
    for order, (slug, name, suffix) in enumerate(STYLE_PRESETS):
        _, made = StylePreset.objects.get_or_create(
            slug=slug, defaults={"name": name, "prompt_suffix": suffix, "sort_order": order}
        )
        created["styles"] += made
    for order, (slug, name, description, suffix, ratio, size, style_slug) in enumerate(USE_CASE_PRESETS):
        style = StylePreset.objects.filter(slug=style_slug).first() if style_slug else None
        _, made = Preset.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "prompt_suffix": suffix,
                "aspect_ratio": ratio,
                "size": size,
                "style": style,
                "sort_order": order,
            },
        )
        created["presets"] += made
    return created
