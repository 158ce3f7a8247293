"""Shared helpers for the spend tests: a token-billed provider and canned results."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image as PILImage

from generator.providers.base import ProviderImage, ProviderResult

# The worked example from the API reference (gemini-3-pro-image-preview, one 1K image).
USAGE_PRO = {
    "promptTokenCount": 533,
    "candidatesTokenCount": 1120,
    "thoughtsTokenCount": 217,
    "totalTokenCount": 1870,
    "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
}
COST_PRO = Decimal("0.13807")


@pytest.fixture(name="gemini")
def gemini_fixture(monkeypatch):
    """Configure the token-billed `gemini` provider (no request ever leaves the test)."""
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-real")


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (20, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def result_with_usage(usage: dict, width: int = 1376, height: int = 768) -> ProviderResult:
    """What the Gemini client returns for one image: the provider call is the only
    thing replaced; storing, pricing and settling run for real."""
    return ProviderResult(images=[ProviderImage(data=png(width, height), mime_type="image/png")], usage=usage)
