"""Helpers shared by protocols that return one image per call."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .base import ProviderError, ProviderResult

log = logging.getLogger(__name__)


def merge_usage(total: dict, more: dict) -> dict:
    """Add two usage dicts: numbers add up, *Details lists add up per modality.

    Works for Gemini usageMetadata ({"promptTokenCount": .., "promptTokensDetails":
    [{"modality": "TEXT", "tokenCount": ..}]}) and OpenAI usage (nested dicts of numbers).
    Anything else (strings such as trafficType) keeps its first value.
    """
    merged = dict(total)
    for key, value in more.items():
        mine = merged.get(key)
        if key not in merged:
            merged[key] = value
        elif isinstance(value, bool) or isinstance(mine, bool):
            continue
        elif isinstance(value, int | float) and isinstance(mine, int | float):
            merged[key] = mine + value
        elif isinstance(value, dict) and isinstance(mine, dict):
            merged[key] = merge_usage(mine, value)
        elif isinstance(value, list) and isinstance(mine, list):
            merged[key] = _merge_modalities(mine, value)
    return merged


def _merge_modalities(mine: list, theirs: list) -> list:
    by_modality: dict[str, dict] = {}
    for item in [*mine, *theirs]:
        if not isinstance(item, dict) or "modality" not in item:
            return mine  # not a modality table: keep the first as it was
        entry = by_modality.setdefault(item["modality"], {"modality": item["modality"], "tokenCount": 0})
        entry["tokenCount"] += int(item.get("tokenCount") or 0)
    return list(by_modality.values())


def repeat_calls(n: int, one_call: Callable[[], ProviderResult]) -> ProviderResult:
    """Make n one-image calls, one after another, and merge them into one result.

    The image models return one image per call (candidateCount > 1 is refused), so n
    images cost n calls. They run in sequence so a per-provider RPM or concurrency
    limit sees them as one job's calls. If a later call fails, the images already paid
    for are kept and the failure is noted in the text; if the first fails, it raises.
    """
    result = one_call()
    for index in range(1, n):
        try:
            more = one_call()
        except ProviderError as exc:
            log.warning("call %d of %d failed after earlier images arrived: %s", index + 1, n, exc)
            result.usage = merge_usage(result.usage, exc.usage)
            note = f"Only {index} of {n} images: call {index + 1} failed ({exc})."
            result.text = f"{result.text}\n\n{note}".strip()
            break
        result.images.extend(more.images)
        result.usage = merge_usage(result.usage, more.usage)
        if more.text and more.text != result.text:
            result.text = f"{result.text}\n\n{more.text}".strip()
    return result
