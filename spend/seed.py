"""Default prices (USD), from ../shared/reference/nano-banana-api.md, paid tier."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

SEED_FROM = datetime(2025, 1, 1, tzinfo=UTC)

# model id: (input, image output, text + thinking output), USD per 1M tokens
MODEL_PRICES = {
    "gemini-2.5-flash-image": ("0.30", "30", "2.50"),
    "gemini-3-pro-image-preview": ("2.00", "120", "12"),
    "gemini-3-pro-image": ("2.00", "120", "12"),
    "gemini-3.1-flash-image-preview": ("0.25", "60", "1.50"),
    "gemini-3.1-flash-image": ("0.25", "60", "1.50"),
}

# provider, model ("" = any), size ("" = any), price per image
CALL_PRICES = [
    ("openai_images", "", "512", "0.015"),
    ("openai_images", "", "1K", "0.025"),
    ("openai_images", "", "", "0.035"),
    ("openai_chat", "", "", "0.05"),
]


def seed_prices(apps=None) -> int:
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    ModelPrice = apps.get_model("spend", "ModelPrice")
    CallPrice = apps.get_model("spend", "CallPrice")
    created = 0
    for model_id, (inp, image, text) in MODEL_PRICES.items():
        if not ModelPrice.objects.filter(model_id=model_id).exists():
            ModelPrice.objects.create(
                model_id=model_id,
                effective_from=SEED_FROM,
                input_per_mtok=Decimal(inp),
                image_output_per_mtok=Decimal(image),
                text_output_per_mtok=Decimal(text),
                note="Gemini Developer API paid tier (seeded)",
            )
            created += 1
    for provider, model_id, size, price in CALL_PRICES:
        _, made = CallPrice.objects.get_or_create(
            provider=provider,
            model_id=model_id,
            size=size,
            quality="",
            defaults={"price_per_image": Decimal(price), "effective_from": SEED_FROM},
        )
        created += made
    return created
