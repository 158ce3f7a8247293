"""Image files: validation of uploads, content-addressed storage, thumbnails."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

THUMBNAIL_BOX = (512, 512)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
PIL_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    sha256: str
    name: str = ""


def check_image(data: bytes, name: str = "image") -> CheckedImage:
    """Validate bytes that claim to be an image; raise ValidationError saying why not."""
    if len(data) > settings.REFERENCE_MAX_BYTES:
        raise ValidationError(
            f"{name} is {len(data) / 1_048_576:.1f} MB; the limit is {settings.REFERENCE_MAX_BYTES // 1_048_576} MB."
        )
    if not data:
        raise ValidationError(f"{name} is empty.")
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            fmt = img.format
            width, height = img.size
            if width * height > settings.REFERENCE_MAX_PIXELS:
                raise ValidationError(
                    f"{name} is {width}×{height} ({width * height / 1e6:.0f} megapixels); "
                    f"the limit is {settings.REFERENCE_MAX_PIXELS // 1_000_000} megapixels."
                )
            # verify() catches truncated and corrupt files that open() alone lets through.
            img.verify()
        with PILImage.open(io.BytesIO(data)) as img:
            img.load()
    except ValidationError:
        raise
    except PILImage.DecompressionBombError:
        raise ValidationError(f"{name} is too large to decode safely.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ValidationError(f"{name} is not an image (PNG, JPEG, WebP or GIF expected).") from None
        raise ValidationError(f"{name} is corrupt or truncated and cannot be read.") from None
    if fmt not in PIL_MIME:
        raise ValidationError(f"{name} is a {fmt} image; use PNG, JPEG, WebP or GIF.")
    return CheckedImage(
        data=data,
        mime_type=PIL_MIME[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        name=name,
    )


def content_name(folder: str, sha256: str, mime_type: str) -> str:
    ext = EXTENSIONS.get(mime_type, "bin")
    return f"{folder}/{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"


def save_content(folder: str, data: bytes, mime_type: str, sha256: str | None = None) -> str:
    """Store bytes under a content-addressed name; saving the same bytes twice is a no-op."""
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    name = content_name(folder, sha256, mime_type)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a racing writer stored the same bytes first
            default_storage.delete(saved)
    return name


def make_thumbnail(data: bytes) -> bytes:
    with PILImage.open(io.BytesIO(data)) as img:
        img.draft("RGB", THUMBNAIL_BOX)  # JPEG: decode at reduced scale
        thumb = img.convert("RGB")
        thumb.thumbnail(THUMBNAIL_BOX, PILImage.Resampling.LANCZOS)
        out = io.BytesIO()
        thumb.save(out, format="WEBP", quality=80, method=4)
        return out.getvalue()


def probe(data: bytes) -> tuple[str, int, int]:
    """Mime type and pixel size of provider output (trusted less than uploads: still parsed)."""
    with PILImage.open(io.BytesIO(data)) as img:
        return PIL_MIME.get(img.format or "", "application/octet-stream"), img.size[0], img.size[1]


def ratio_matches(width: int, height: int, aspect_ratio: str, tolerance: float = 0.04) -> bool:
    try:
        a, b = (int(x) for x in aspect_ratio.split(":"))
    except ValueError:
        return True
    wanted = a / b
    return abs(width / height - wanted) / wanted <= tolerance
