"""Prices: quotes before sending and actual costs after. Money is Decimal, always."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from .models import CallPrice, ModelPrice

MILLION = Decimal(1_000_000)
CENT_PRECISION = Decimal("0.000001")
ZERO = Decimal("0")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT_PRECISION, rounding=ROUND_HALF_UP)


def model_price(model_id: str, at: datetime | None = None) -> ModelPrice | None:
    """The token price in force for `model_id` at `at` (now by default)."""
    at = at or timezone.now()
    return ModelPrice.objects.filter(model_id=model_id, effective_from__lte=at).order_by("-effective_from").first()


def call_price(provider: str, model_id: str, size: str, at: datetime | None = None) -> Decimal | None:
    """Most specific per-call price: exact model and size beat wildcards."""
    at = at or timezone.now()
    rows = CallPrice.objects.filter(provider=provider, effective_from__lte=at).order_by("-effective_from")
    best: tuple[int, CallPrice] | None = None
    for row in rows:
        if row.model_id not in ("", model_id) or row.size not in ("", size):
            continue
        score = (row.model_id == model_id) * 2 + (row.size == size)
        if best is None or score > best[0]:
            best = (score, row)
    return best[1].price_per_image if best else None


def estimate_prompt_tokens(prompt: str) -> int:
    # Gemini counts roughly four characters of English per token.
    return max(1, len(prompt) // 4)


def quote(
    *,
    provider,
    capability,
    size: str,
    n: int,
    reference_count: int = 0,
    prompt: str = "",
    at: datetime | None = None,
) -> Decimal:
    """Estimated cost of one request: n images at this size, inputs included."""
    if provider is None or provider.is_demo:
        return ZERO
    if provider.billing == "per_call":
        price = call_price(provider.name, capability.model_id, size, at)
        return money((price or ZERO) * n)
    price = model_price(capability.model_id, at)
    if price is None:
        return ZERO
    input_tokens = estimate_prompt_tokens(prompt) + reference_count * capability.input_image_tokens
    return money(
        (
            Decimal(output_image_tokens(capability, size, n)) * price.image_output_per_mtok
            + Decimal(input_tokens) * price.input_per_mtok
        )
        / MILLION
    )


def output_image_tokens(capability, size: str, n: int = 1) -> int:
    return int(capability.output_tokens.get(size, 0)) * n


def image_output_cost(capability, size: str, n: int = 1, at: datetime | None = None) -> Decimal:
    """The image-output part of a token-billed quote: n images at this size."""
    price = model_price(capability.model_id, at)
    if price is None:
        return ZERO
    return money(Decimal(output_image_tokens(capability, size, n)) * price.image_output_per_mtok / MILLION)


def usage_tokens(usage: dict) -> dict[str, int]:
    """Split Gemini usageMetadata into prompt / image output / other output tokens.

    Without a candidatesTokensDetails breakdown (some relays drop it) the candidate
    tokens of these image models are counted as image tokens: pricing them as text
    would undercharge tenfold, the known proxy bug in the reference."""
    prompt = int(usage.get("promptTokenCount") or 0)
    candidates = int(usage.get("candidatesTokenCount") or 0)
    thoughts = int(usage.get("thoughtsTokenCount") or 0)
    details = usage.get("candidatesTokensDetails")
    if not details:
        return {"prompt": prompt, "image": candidates, "text": thoughts}
    image = sum(int(d.get("tokenCount") or 0) for d in details if d.get("modality") == "IMAGE")
    return {"prompt": prompt, "image": image, "text": max(0, candidates - image) + thoughts}


def cost_from_usage(model_id: str, usage: dict, at: datetime | None = None) -> Decimal | None:
    """Actual cost from the provider's usage numbers; None when there are none."""
    if not usage or "promptTokenCount" not in usage:
        return None
    price = model_price(model_id, at)
    if price is None:
        return None
    tokens = usage_tokens(usage)
    return money(
        (
            Decimal(tokens["prompt"]) * price.input_per_mtok
            + Decimal(tokens["image"]) * price.image_output_per_mtok
            + Decimal(tokens["text"]) * price.text_output_per_mtok
        )
        / MILLION
    )


def actual_cost(
    *, provider, model_id: str, size: str, usage: dict, image_count: int, at: datetime | None = None
) -> Decimal:
    if provider is None or provider.is_demo:
        return ZERO
    if provider.billing != "per_call":
        cost = cost_from_usage(model_id, usage, at)
        if cost is not None:
            return cost
    price = call_price(provider.name, model_id, size, at)
    if price is None:
        # A token-billed provider that sent no usage: charge what the quote would.
        mp = model_price(model_id, at)
        from generator.models import ModelCapability

        cap = ModelCapability.objects.filter(model_id=model_id).first()
        if mp is None or cap is None:
            return ZERO
        return money(Decimal(output_image_tokens(cap, size, image_count)) * mp.image_output_per_mtok / MILLION)
    return money(price * image_count)
