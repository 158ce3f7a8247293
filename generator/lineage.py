"""Lineage: which gallery images an image was made from, and what was made from it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .gallery import visible_images
from .models import Image

MAX_DEPTH = 25


@dataclass
class Lineage:
    parents: list[Image]
    children: list[Image]
    # Every visible ancestor, oldest generation first, then this image.
    chain: list[Image]
    total_cost: Decimal


def lineage(image: Image, viewer) -> Lineage:
    """Parents, children and the whole ancestor chain of `image`, limited to what `viewer` may see.

    One query per generation level of ancestors (bounded by MAX_DEPTH) plus one for children.
    """
    visible = visible_images(viewer).select_related("generation")
    parents: list[Image] = []
    chain: dict[int, Image] = {}
    frontier = {image.generation_id}
    seen_generations = {image.generation_id}
    for depth in range(MAX_DEPTH):
        level = list(
            visible.filter(derived_references__generation_id__in=frontier)
            .distinct()
            .order_by("generation__created_at", "pk")
        )
        if depth == 0:
            parents = level
        frontier = {i.generation_id for i in level} - seen_generations
        for i in level:
            chain.setdefault(i.pk, i)
        if not frontier:
            break
        seen_generations |= frontier
    children = list(
        visible.filter(generation__references__source_image=image).distinct().order_by("generation__created_at", "pk")
    )
    ordered = sorted(chain.values(), key=lambda i: (i.generation.created_at, i.pk))
    costs = {i.generation_id: i.generation.actual_cost or Decimal("0") for i in ordered}
    costs[image.generation_id] = image.generation.actual_cost or Decimal("0")
    return Lineage(
        parents=parents, children=children, chain=[*ordered, image], total_cost=sum(costs.values(), Decimal("0"))
    )
