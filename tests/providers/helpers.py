"""Helpers for the provider tests."""

from __future__ import annotations

import io

from PIL import Image

from generator.providers.base import ProviderRequest, ReferenceInput
from generator.providers.registry import ProviderConfig

KEY = "test-key-5f3a9c"


def config_for(fake, protocol: str, **overrides) -> ProviderConfig:
    defaults = {
        "name": protocol,
        "protocol": protocol,
        "base_url": fake.url,
        "key_env": "GEMINI_API_KEY" if protocol == "gemini" else f"{protocol.upper()}_API_KEY",
        "auth_style": "x-goog-api-key" if protocol == "gemini" else "bearer",
        "timeout": 10.0,
    }
    return ProviderConfig(**{**defaults, **overrides})


def png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def make_request(**overrides) -> ProviderRequest:
    defaults = {
        "prompt": "a banana on the moon",
        "model": "gemini-3-pro-image-preview",
        "aspect_ratio": "16:9",
        "size": "2K",
        "expected_pixels": (2752, 1536),
    }
    return ProviderRequest(**{**defaults, **overrides})


def reference(colour=(10, 200, 10)) -> ReferenceInput:
    return ReferenceInput(data=png(colour=colour), mime_type="image/png")


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size
