"""Routes and fallback chains: which provider/model makes a generation's images.

A chain is the requested route followed by, in order: FALLBACKS[model id],
FALLBACKS["preset:<slug>"], then the requested provider's own `fallbacks` (entries are
"provider:model", or a bare provider name for the same model elsewhere). Dispatch
moves along it when retries are exhausted, every key is refused, or a breaker is open,
skipping any route that cannot make the same image (size, ratio, references), whose
breaker is open, or whose price does not fit the user's budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from spend import budgets, pricing

from . import breakers
from .models import Generation, ModelCapability
from .providers.registry import ProviderConfig, get_provider


@dataclass(frozen=True)
class Route:
    provider_name: str
    model: str
    provider: ProviderConfig | None
    capability: ModelCapability | None

    @property
    def scope(self) -> str:
        return breakers.scope(self.provider_name, self.model)

    def __str__(self) -> str:
        return f"{self.provider_name} / {self.model}"


def route(provider_name: str, model: str) -> Route:
    return Route(
        provider_name, model, get_provider(provider_name), ModelCapability.objects.filter(model_id=model).first()
    )


def current(generation: Generation) -> Route:
    return route(generation.used_provider or generation.provider, generation.used_model or generation.model)


def chain(generation: Generation) -> list[tuple[str, str]]:
    entries: list[str] = list(settings.FALLBACKS.get(generation.model, []))
    if generation.preset_id:
        entries += settings.FALLBACKS.get(f"preset:{generation.preset.slug}", [])
    requested = get_provider(generation.provider)
    if requested:
        entries += list(requested.fallbacks)
    steps = [(generation.provider, generation.model)]
    for entry in entries:
        name, _, model = entry.partition(":")
        step = (name.strip(), model.strip() or generation.model)
        if step not in steps:
            steps.append(step)
    return steps


def unfit_reason(generation: Generation, candidate: Route) -> str:
    """Why this route cannot stand in for the requested one ('' if it can)."""
    provider, capability = candidate.provider, candidate.capability
    if provider is None:
        return "not configured"
    if capability is None or not capability.active or not provider.serves(candidate.model):
        return f"{candidate.provider_name} does not offer {candidate.model}"
    if generation.size not in capability.sizes or generation.aspect_ratio not in capability.aspect_ratios:
        return f"{candidate.model} does not support {generation.size} {generation.aspect_ratio}"
    if generation.references.count() > capability.max_reference_images:
        return f"{candidate.model} takes at most {capability.max_reference_images} reference images"
    if not cost_fits(generation, candidate):
        return "its price does not fit the budget"
    if breakers.is_open(candidate.scope):
        return "its circuit breaker is open"
    return ""


def price(generation: Generation, candidate: Route):
    return pricing.quote(
        provider=candidate.provider,
        capability=candidate.capability,
        size=generation.size,
        n=generation.n,
        reference_count=generation.references.count(),
        prompt=generation.full_prompt,
        at=generation.created_at,
    )


def cost_fits(generation: Generation, candidate: Route) -> bool:
    cost = price(generation, candidate)
    if cost <= generation.estimated_cost:
        return True  # the reservation already covers it
    # A dearer fallback must fit in what the tightest budget has left beyond this
    # generation's own reservation (already counted as used).
    status = budgets.tightest(generation.user_id)
    return status is None or cost - generation.estimated_cost <= status.left


def next_route(generation: Generation, after: Route) -> tuple[Route | None, list[str]]:
    """The first usable route after `after` in the chain, and why others were skipped."""
    steps = chain(generation)
    here = (after.provider_name, after.model)
    start = steps.index(here) + 1 if here in steps else len(steps)
    skipped = []
    for name, model in steps[start:]:
        candidate = route(name, model)
        reason = unfit_reason(generation, candidate)
        if not reason:
            return candidate, skipped
        skipped.append(f"{candidate}: {reason}")
    return None, skipped
