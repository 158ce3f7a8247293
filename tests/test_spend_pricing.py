"""Prices, quotes and actual costs: the reference's worked examples and effective dates."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from generator import dispatch
from generator.models import Generation, ModelCapability
from generator.providers.base import BlockedError
from generator.providers.registry import get_provider
from spend import pricing
from spend.models import CallPrice, ModelPrice, SpendEntry
from spend.money import usd

from .spendkit import COST_PRO, USAGE_PRO, gemini_fixture, result_with_usage  # noqa: F401

pytestmark = pytest.mark.django_db


def cap(model_id: str) -> ModelCapability:
    return ModelCapability.objects.get(model_id=model_id)


def test_pro_at_4k_costs_24_cents_of_image_output():
    assert pricing.image_output_cost(cap("gemini-3-pro-image-preview"), "4K") == Decimal("0.24")


def test_flash_at_1k_costs_3_87_cents_of_image_output():
    assert pricing.image_output_cost(cap("gemini-2.5-flash-image"), "1K") == Decimal("0.0387")


def test_usage_533_1120_217_on_pro_costs_exactly_0_13807():
    tokens = pricing.usage_tokens(USAGE_PRO)
    assert tokens == {"prompt": 533, "image": 1120, "text": 217}
    cost = pricing.cost_from_usage("gemini-3-pro-image-preview", USAGE_PRO)
    assert cost == Decimal("0.001066") + Decimal("0.1344") + Decimal("0.002604") == COST_PRO


def test_usage_without_a_modality_breakdown_is_not_priced_as_text():
    # A relay speaking the native protocol may drop candidatesTokensDetails; the
    # candidate tokens of an image call are then image tokens, not text (10x less).
    usage = {k: v for k, v in USAGE_PRO.items() if k != "candidatesTokensDetails"}
    assert pricing.cost_from_usage("gemini-3-pro-image-preview", usage) == COST_PRO
    # A breakdown that names no IMAGE modality is believed as given.
    text_only = {**usage, "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 1120}]}
    assert pricing.usage_tokens(text_only)["image"] == 0


def test_image_tokens_are_not_priced_as_text():
    # The known proxy bug: pricing Pro image tokens at the text rate, ten times too low.
    cost = pricing.cost_from_usage("gemini-3-pro-image-preview", USAGE_PRO)
    as_text = Decimal(533 * 2 + (1120 + 217) * 12) / 1_000_000
    assert cost > 5 * as_text


def test_quote_counts_images_size_and_reference_inputs(gemini):
    provider = get_provider("gemini")
    pro = cap("gemini-3-pro-image-preview")
    prompt = "x" * 400  # 100 prompt tokens
    one = pricing.quote(provider=provider, capability=pro, size="4K", n=1, prompt=prompt)
    assert one == Decimal("0.24") + Decimal("0.0002")
    two_with_refs = pricing.quote(provider=provider, capability=pro, size="4K", n=2, prompt=prompt, reference_count=3)
    # 3 reference images x 560 tokens x $2/M on top of two 4K images.
    assert two_with_refs == Decimal("0.48") + Decimal("0.0002") + Decimal("0.00336")


def test_demo_is_free(db):
    assert (
        pricing.quote(provider=get_provider("demo"), capability=cap("gemini-3-pro-image-preview"), size="4K", n=4) == 0
    )


def test_price_change_applies_from_its_date_only(gemini):
    old = pricing.cost_from_usage("gemini-3-pro-image-preview", USAGE_PRO)
    later = timezone.now() + timedelta(days=1)
    ModelPrice.objects.create(
        model_id="gemini-3-pro-image-preview",
        effective_from=later,
        input_per_mtok=Decimal("4"),
        image_output_per_mtok=Decimal("240"),
        text_output_per_mtok=Decimal("24"),
    )
    assert pricing.cost_from_usage("gemini-3-pro-image-preview", USAGE_PRO) == old
    assert pricing.cost_from_usage("gemini-3-pro-image-preview", USAGE_PRO, at=later) == old * 2


def test_actual_cost_is_priced_at_the_generation_time(gemini, make_generation, monkeypatch):
    generation = make_generation(run=False, provider="gemini", model="gemini-3-pro-image-preview", size="1K")
    # The price rises after the job was sent but before the worker finishes it.
    ModelPrice.objects.create(
        model_id="gemini-3-pro-image-preview",
        effective_from=timezone.now(),
        input_per_mtok=Decimal("4"),
        image_output_per_mtok=Decimal("240"),
        text_output_per_mtok=Decimal("24"),
    )
    monkeypatch.setattr(dispatch, "call_provider", lambda provider, request: result_with_usage(USAGE_PRO))
    assert dispatch.run(generation.pk) == Generation.Status.SUCCEEDED
    generation.refresh_from_db()
    assert generation.actual_cost == COST_PRO
    entries = SpendEntry.objects.filter(generation=generation)
    assert sorted(e.kind for e in entries) == ["release", "reserve", "settle"]
    assert sum(e.amount for e in entries) == COST_PRO


def test_generation_page_labels_estimate_and_actual(gemini, make_generation, monkeypatch, alice_client):
    generation = make_generation(run=False, provider="gemini", model="gemini-3-pro-image-preview", size="1K")
    monkeypatch.setattr(dispatch, "call_provider", lambda provider, request: result_with_usage(USAGE_PRO))
    dispatch.run(generation.pk)
    generation.refresh_from_db()
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert f"Estimated cost</dt><dd>{usd(generation.estimated_cost)}" in page
    assert f"Actual cost</dt><dd>{usd(COST_PRO)}" in page


def test_blocked_call_is_free_by_default(gemini, make_generation, monkeypatch):
    generation = make_generation(run=False, provider="gemini", model="gemini-3-pro-image-preview")

    def blocked(provider, request):
        raise BlockedError("blocked", reason="PROHIBITED_CONTENT", usage={"promptTokenCount": 9})

    monkeypatch.setattr(dispatch, "call_provider", blocked)
    assert dispatch.run(generation.pk) == Generation.Status.BLOCKED
    generation.refresh_from_db()
    assert generation.actual_cost == 0
    assert sum(e.amount for e in SpendEntry.objects.filter(generation=generation)) == 0


def test_blocked_call_is_charged_when_the_provider_bills_failures(make_generation, monkeypatch):
    monkeypatch.setenv(
        "PROVIDERS_JSON",
        json.dumps(
            [
                {
                    "name": "strict",
                    "protocol": "gemini",
                    "base_url": "https://relay.invalid",
                    "key_env": "STRICT_KEY",
                    "charge_failures": True,
                }
            ]
        ),
    )
    generation = make_generation(run=False, provider="strict", model="gemini-3-pro-image-preview")

    def blocked(provider, request):
        raise BlockedError("blocked", reason="IMAGE_SAFETY", usage={"promptTokenCount": 1000})

    monkeypatch.setattr(dispatch, "call_provider", blocked)
    assert dispatch.run(generation.pk) == Generation.Status.BLOCKED
    generation.refresh_from_db()
    assert generation.actual_cost == Decimal("0.002")  # 1000 prompt tokens at $2/M
    assert sum(e.amount for e in SpendEntry.objects.filter(generation=generation)) == Decimal("0.002")


def test_call_price_most_specific_and_newest_wins(db):
    seed_from = timezone.now() - timedelta(days=10)
    CallPrice.objects.create(provider="r", price_per_image=Decimal("0.05"), effective_from=seed_from)
    CallPrice.objects.create(provider="r", size="1K", price_per_image=Decimal("0.03"), effective_from=seed_from)
    CallPrice.objects.create(
        provider="r", model_id="m", size="1K", price_per_image=Decimal("0.02"), effective_from=seed_from
    )
    assert pricing.call_price("r", "m", "1K") == Decimal("0.02")
    assert pricing.call_price("r", "other", "1K") == Decimal("0.03")
    assert pricing.call_price("r", "other", "2K") == Decimal("0.05")
    CallPrice.objects.create(provider="r", model_id="m", size="1K", price_per_image=Decimal("0.025"))
    assert pricing.call_price("r", "m", "1K") == Decimal("0.025")
    assert pricing.call_price("r", "m", "1K", at=seed_from + timedelta(days=1)) == Decimal("0.02")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "$0.00"),
        ("5", "$5.00"),
        ("0.54", "$0.54"),
        ("0.0387", "$0.0387"),
        ("0.13807", "$0.1381"),
        ("0.240000", "$0.24"),
        ("-0.2", "-$0.20"),
        ("1234.5", "$1,234.50"),
    ],
)
def test_usd_shows_cents_or_sub_cent_prices(amount, text):
    assert usd(Decimal(amount)) == text
