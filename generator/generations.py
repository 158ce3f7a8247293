"""Creating generations: the one way a job enters the system (UI, CLI, batches)."""

from __future__ import annotations

from django.db import transaction

from spend import budgets, pricing

from . import dispatch
from . import images as image_files
from .models import Generation, ReferenceImage


def full_prompt(prompt: str, preset, style) -> str:
    parts = [prompt.strip()]
    if preset and preset.prompt_suffix:
        parts.append(preset.prompt_suffix.strip())
    if style and style.prompt_suffix:
        parts.append(style.prompt_suffix.strip())
    return ", ".join(parts)


def quote_for(data: dict, uploads: int | None = None):
    """The estimate for a validated form; `uploads` counts reference files the
    composer's live quote does not send (it posts their number only)."""
    capability = data["model"]
    if uploads is None:
        uploads = len(data.get("references") or [])
    return pricing.quote(
        provider=data["provider_config"],
        capability=capability,
        size=data["size"],
        n=data["n"],
        reference_count=uploads + len(data.get("source_images") or []),
        prompt=data["prompt"],
    )


def submit(user, data: dict, *, batch=None, remix_of=None) -> Generation:
    """Create, reserve and enqueue one generation from a validated GenerationForm's data."""
    capability = data["model"]
    references = list(data.get("references") or [])
    sources = list(data.get("source_images") or [])
    with transaction.atomic():
        generation = Generation.objects.create(
            user=user,
            batch=batch,
            remix_of=remix_of,
            prompt=data["prompt"],
            style=data.get("style"),
            preset=data.get("preset"),
            full_prompt=full_prompt(data["prompt"], data.get("preset"), data.get("style")),
            provider=data["provider"],
            model=capability.model_id,
            aspect_ratio=data["aspect_ratio"],
            size=data["size"],
            n=data["n"],
            seed=data["seed"],
            visibility=data.get("visibility") or Generation.Visibility.TEAM,
            estimated_cost=quote_for(data),
        )
        # Budgets first: a refusal must leave no rows and no files behind.
        budgets.reserve(generation)
        position = 0
        for source in sources:
            ReferenceImage.objects.create(
                generation=generation,
                position=position,
                file=source.file.name,
                width=source.width,
                height=source.height,
                mime_type=source.mime_type,
                sha256=source.sha256,
                source_image=source,
            )
            position += 1
        for ref in references:
            # Written last, after every check that can refuse; content-addressed, so a
            # file that outlives a rollback is reused by the next identical upload.
            name = image_files.save_content("refs", ref.data, ref.mime_type, ref.sha256)
            ReferenceImage.objects.create(
                generation=generation,
                position=position,
                file=name,
                width=ref.width,
                height=ref.height,
                mime_type=ref.mime_type,
                sha256=ref.sha256,
                original_name=ref.name[:255],
            )
            position += 1
        transaction.on_commit(lambda: dispatch.enqueue(generation.pk))
    return generation
