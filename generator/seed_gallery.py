"""Realistic gallery rows in bulk, for benchmarks and demos (`manage.py seed_gallery`)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from . import images as image_files
from .models import Favourite, Generation, Image, ModelCapability, Preset, StylePreset, Tag

SUBJECTS = [
    "a red fox",
    "a lighthouse",
    "an astronaut",
    "a bowl of ramen",
    "a vintage bicycle",
    "a koi pond",
    "a mountain cabin",
    "a robot barista",
    "a sleeping cat",
    "a city skyline",
    "a sailboat",
    "a banana",
    "a dragon",
    "a greenhouse",
    "a jazz trio",
    "a desert caravan",
    "a lemon tart",
    "a paper crane",
    "a hummingbird",
    "a steam locomotive",
    "a treehouse",
    "a neon arcade",
    "a glacier",
    "a sunflower field",
]
SETTINGS = [
    "at golden hour",
    "in the rain",
    "under northern lights",
    "on a foggy morning",
    "in a snowstorm",
    "at midnight",
    "in spring bloom",
    "on the moon",
    "in a busy market",
    "by the sea",
    "in a library",
]
DETAILS = [
    "soft rim light",
    "shallow depth of field",
    "isometric view",
    "wide angle",
    "macro shot",
    "pastel palette",
    "high contrast",
    "cinematic framing",
    "studio backdrop",
    "bird's-eye view",
]
REPLIES = ["", "", "", "Here is your image.", "I drew the scene with warm light.", "Here is the edited image."]
TAGS = ["hero", "draft", "campaign", "social", "approved", "moodboard", "print", "web", "icon", "wallpaper"]
COST_PER_SIZE = {"512": Decimal("0.02"), "1K": Decimal("0.039"), "2K": Decimal("0.134"), "4K": Decimal("0.24")}
COLOURS = [(200, 40, 40), (40, 160, 60), (40, 80, 200), (230, 190, 20), (120, 40, 160), (20, 160, 170)]


def _sample_files() -> list[tuple[str, str, str, int]]:
    """A few small content-addressed images shared by every seeded row: (file, thumb, sha, bytes)."""
    import hashlib
    import io

    from PIL import Image as PILImage

    files = []
    for colour in COLOURS:
        out = io.BytesIO()
        PILImage.new("RGB", (64, 64), colour).save(out, format="PNG")
        data = out.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        name = image_files.save_content("images", data, "image/png", sha)
        thumb = image_files.save_content("thumbs", image_files.make_thumbnail(data), "image/webp")
        files.append((name, thumb, sha, len(data)))
    return files


def seed(images: int, users: int = 12, chunk: int = 5000, rng_seed: int = 1, progress=None) -> int:
    """Create about `images` images (in generations of 1-4) with tags and favourites; returns the count."""
    rng = random.Random(rng_seed)
    User = get_user_model()
    password = make_password(None)
    people = [
        User.objects.get_or_create(username=f"teammate{i:02d}", defaults={"password": password})[0]
        for i in range(1, users + 1)
    ]
    capabilities = list(ModelCapability.objects.filter(active=True))
    styles = [None, None, *StylePreset.objects.all()]
    presets = [None, None, None, *Preset.objects.all()]
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    files = _sample_files()
    now = timezone.now()
    made = 0
    while made < images:
        with transaction.atomic():
            generations, counts = [], []
            target = min(chunk, images - made)
            planned = 0
            while planned < target:
                n = min(rng.choices([1, 2, 4], weights=[80, 15, 5])[0], target - planned)
                capability = rng.choice(capabilities)
                size = rng.choice(capability.sizes)
                style, preset = rng.choice(styles), rng.choice(presets)
                prompt = f"{rng.choice(SUBJECTS)} {rng.choice(SETTINGS)}, {rng.choice(DETAILS)}"
                cost = COST_PER_SIZE.get(size, Decimal("0.04")) * n
                created = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
                provider = rng.choice(["demo", "gemini", "gemini", "relay"])
                generations.append(
                    Generation(
                        user=rng.choice(people),
                        prompt=prompt,
                        full_prompt=prompt,
                        style=style,
                        preset=preset,
                        provider=provider,
                        used_provider=provider,
                        model=capability.model_id,
                        used_model=capability.model_id,
                        aspect_ratio=rng.choice(capability.aspect_ratios),
                        size=size,
                        n=n,
                        seed=rng.randrange(2**31),
                        visibility="private" if rng.random() < 0.1 else "team",
                        status=Generation.Status.SUCCEEDED,
                        attempts=1,
                        text_reply=rng.choice(REPLIES),
                        finish_reason="STOP",
                        estimated_cost=cost,
                        actual_cost=cost,
                        created_at=created,
                        finished_at=created + timedelta(seconds=rng.randint(5, 40)),
                        latency_ms=rng.randint(3000, 40000),
                    )
                )
                counts.append(n)
                planned += n
            Generation.objects.bulk_create(generations)
            rows = []
            for generation, n in zip(generations, counts, strict=True):
                for index in range(n):
                    name, thumb, sha, size_bytes = rng.choice(files)
                    rows.append(
                        Image(
                            generation=generation,
                            index=index,
                            file=name,
                            thumbnail=thumb,
                            width=64,
                            height=64,
                            mime_type="image/png",
                            sha256=sha,
                            bytes=size_bytes,
                            ratio_mismatch=rng.random() < 0.02,
                            created_at=generation.finished_at,
                        )
                    )
            Image.objects.bulk_create(rows)
            through = Image.tags.through
            tag_rows, favourites = [], []
            for image in rows:
                if rng.random() < 0.15:
                    for tag in rng.sample(tags, rng.randint(1, 3)):
                        tag_rows.append(through(image_id=image.pk, tag_id=tag.pk))
                if rng.random() < 0.05:
                    for person in rng.sample(people, rng.randint(1, 3)):
                        favourites.append(Favourite(user=person, image=image))
            through.objects.bulk_create(tag_rows)
            Favourite.objects.bulk_create(favourites, ignore_conflicts=True)
        made += len(rows)
        if progress:
            progress(made)
    return made
