"""Composer prefill from the gallery: remix (every parameter) and edit (image as reference)."""

from __future__ import annotations

from django.http import Http404, QueryDict

from .gallery import visible_images
from .models import Generation


def _id(raw: str) -> int | None:
    """A database id from a query parameter, or None: str.isdigit() also accepts "²" and
    other Unicode digits that int() refuses, and SQLite refuses ids past 64 bits."""
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
        return None
    return int(raw)


def _visible_generation(user, raw: str) -> Generation:
    pk = _id(raw)
    if pk is None:
        raise Http404("No such generation.")
    generation = (
        Generation.objects.filter(Generation.visible_q(user), deleted_at__isnull=True)
        .select_related("style", "preset")
        .filter(pk=pk)
        .first()
    )
    if generation is None:
        raise Http404("No such generation.")
    return generation


def _parameters(generation: Generation) -> dict:
    return {
        "provider": generation.provider,
        "model": generation.model,
        "aspect_ratio": generation.aspect_ratio,
        "size": generation.size,
        "visibility": generation.visibility,
    }


def initial_from(params: QueryDict, user) -> dict:
    """Initial composer values for ?remix=<generation id> or ?edit=<image id>; 404 if not visible."""
    if "remix" in params:
        generation = _visible_generation(user, params["remix"])
        return {
            **_parameters(generation),
            "prompt": generation.prompt,
            "n": generation.n,
            "style": generation.style.slug if generation.style else "",
            "preset": generation.preset.slug if generation.preset else "",
            "seed": generation.seed,
            "remix_of": generation.pk,
        }
    if "edit" in params:
        pk = _id(params["edit"])
        image = visible_images(user).select_related("generation").filter(pk=pk).first() if pk is not None else None
        if image is None:
            raise Http404("No such image.")
        return {**_parameters(image.generation), "source_images": [image.pk]}
    return {}
