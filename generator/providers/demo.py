"""The offline demo renderer.

Draws a deterministic picture from the prompt and seed, at exactly the pixel size the
real model would return for the ratio and size, composites any reference images into
it, and costs nothing. A fresh install works with no key and no network.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
import time

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps

from .base import PermanentError, ProviderImage, ProviderRequest, ProviderResult
from .registry import ProviderConfig


def _palette(digest: bytes) -> list[tuple[int, int, int]]:
    return [(digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 18, 3)]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def render(request: ProviderRequest, index: int = 0) -> bytes:
    if not request.expected_pixels:
        raise PermanentError(
            f"The demo renderer does not know the pixel size of {request.model} at "
            f"{request.size} {request.aspect_ratio}",
            hint="add it to the model's capabilities in the admin",
        )
    width, height = request.expected_pixels
    digest = hashlib.sha256(f"{request.prompt}\x00{request.seed}\x00{index}".encode()).digest()
    colours = _palette(digest)

    # Draw small and scale up: a 4K canvas drawn shape by shape would take seconds.
    scale = max(1, max(width, height) // 768)
    small = (max(1, width // scale), max(1, height // scale))
    top = Image.new("RGB", (1, 2))
    top.putpixel((0, 0), colours[0])
    top.putpixel((0, 1), colours[1])
    canvas = top.resize(small, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas, "RGBA")
    sw, sh = small
    for i in range(6):
        b = digest[6 + i * 4 : 10 + i * 4]
        cx, cy = b[0] / 255 * sw, b[1] / 255 * sh
        r = (0.08 + b[2] / 255 * 0.25) * min(sw, sh)
        colour = (*colours[(i + 2) % 6], 150)
        if b[3] % 2:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            draw.rectangle((cx - r, cy - r * 0.6, cx + r, cy + r * 0.6), fill=colour)

    # References are visibly used: laid out as framed tiles along the bottom.
    if request.references:
        tile = max(16, min(sw // (len(request.references) + 1), sh // 3))
        x = max(4, tile // 8)
        for ref in request.references:
            with Image.open(io.BytesIO(ref.data)) as src:
                thumb = ImageOps.fit(src.convert("RGB"), (tile, tile))
            canvas.paste(ImageOps.expand(thumb, border=max(2, tile // 40), fill="white"), (x, sh - tile - x))
            x += tile + max(4, tile // 8)

    caption = textwrap.fill(request.prompt[:160], width=max(12, sw // 14))
    font = _font(max(10, sw // 36))
    draw.multiline_text((sw // 24 + 1, sh // 24 + 1), caption, fill=(0, 0, 0, 160), font=font)
    draw.multiline_text((sw // 24, sh // 24), caption, fill=(255, 255, 255, 230), font=font)
    draw.text((sw - sw // 6, sh // 24), "DEMO", fill=(255, 255, 255, 200), font=font)

    image = canvas.resize((width, height), Image.Resampling.BICUBIC) if scale > 1 else canvas
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def generate(config: ProviderConfig, request: ProviderRequest, api_key: str = "") -> ProviderResult:
    started = time.monotonic()
    images = [ProviderImage(data=render(request, i), mime_type="image/png") for i in range(request.n)]
    # Feel like a real call (progress is visible) without wasting time in tests.
    remaining = settings.DEMO_LATENCY_SECONDS - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    return ProviderResult(
        images=images,
        text="Rendered offline by the demo provider.",
        usage={},
        finish_reason="STOP",
        model_version=f"demo:{request.model}",
    )
