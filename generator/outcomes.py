"""What an attempt came to, stored: images and a settlement on success, an explained
final state (failed, blocked, canceled) and a settlement or release otherwise.

Every write here is a guarded UPDATE on a row the worker still owns (status running,
`worker` = its id): a worker whose lease was taken by the sweeper stores nothing and
charges nothing, so a job's outcome is stored, and its reservation settled, once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from spend import budgets, pricing

from . import images as image_files
from .fallbacks import Route
from .models import Generation, Image
from .providers.base import ProviderError, ProviderResult

log = logging.getLogger("generator.dispatch")

Status = Generation.Status


def owned(generation: Generation, me: str):
    """The row, but only while this worker still holds its lease."""
    return Generation.objects.filter(pk=generation.pk, status=Status.RUNNING, worker=me)


def log_entry(generation: Generation, route: Route | None, **fields) -> list:
    return [
        *generation.attempt_log,
        {
            "n": generation.attempts,
            "at": timezone.now().isoformat(),
            "provider": route.provider_name if route else (generation.used_provider or generation.provider),
            "model": route.model if route else (generation.used_model or generation.model),
            **fields,
        },
    ]


def succeed(generation, me, route: Route, result: ProviderResult, started: float) -> str | None:
    provider = route.provider
    stored = []
    for index, item in enumerate(result.images):
        mime, width, height = image_files.probe(item.data)
        sha = hashlib.sha256(item.data).hexdigest()
        name = image_files.save_content("images", item.data, mime, sha)
        thumb = image_files.save_content("thumbs", image_files.make_thumbnail(item.data), "image/webp")
        stored.append(
            Image(
                generation=generation,
                index=index,
                file=name,
                thumbnail=thumb,
                width=width,
                height=height,
                mime_type=mime,
                sha256=sha,
                bytes=len(item.data),
                thought_signature=item.thought_signature,
                ratio_mismatch=not image_files.ratio_matches(width, height, generation.aspect_ratio),
            )
        )
    latency = int((time.monotonic() - started) * 1000)
    cost = pricing.actual_cost(
        provider=provider,
        model_id=route.model,
        size=generation.size,
        usage=result.usage,
        image_count=len(stored),
        at=generation.created_at,
    )
    mismatch = any(img.ratio_mismatch for img in stored)
    with transaction.atomic():
        updated = owned(generation, me).update(
            status=Status.SUCCEEDED,
            finished_at=timezone.now(),
            lease_until=None,
            latency_ms=latency,
            text_reply=result.text,
            usage=result.usage,
            finish_reason=result.finish_reason,
            response_id=result.response_id,
            used_provider=route.provider_name,
            used_model=route.model,
            actual_cost=cost,
            error_code="ratio_mismatch" if mismatch else "",
            error_message="The provider ignored the aspect ratio: the image's shape differs from the request."
            if mismatch
            else "",
            attempt_log=log_entry(generation, route, outcome="succeeded", latency_ms=latency),
        )
        if not updated:
            # Our lease was taken (we were too slow and the sweeper re-queued the job):
            # the other run owns the outcome. The files are content-addressed, so
            # nothing is duplicated; nothing is charged here.
            log.warning("generation %s: lease lost before storing; result discarded", generation.pk)
            return None
        Image.objects.bulk_create(stored)
        generation.refresh_from_db()
        budgets.settle(generation, cost)
    return Status.SUCCEEDED


def failure_cost(generation, route: Route, status: str, exc: ProviderError) -> Decimal:
    """What a provider that bills failures (`charge_failures`) charges for this one:
    the tokens it reports, or, for per-call relays, the call price of a request it
    answered with a refusal. HTTP errors are never billed."""
    provider = route.provider
    if provider is None or not provider.charge_failures:
        return pricing.ZERO
    if exc.usage:
        return pricing.actual_cost(
            provider=provider,
            model_id=route.model,
            size=generation.size,
            usage=exc.usage,
            image_count=0,
            at=generation.created_at,
        )
    if provider.billing == "per_call" and status == Generation.Status.BLOCKED:
        return pricing.actual_cost(
            provider=provider,
            model_id=route.model,
            size=generation.size,
            usage={},
            image_count=generation.n,
            at=generation.created_at,
        )
    return pricing.ZERO


def end(generation, me, route: Route, status: str, exc: ProviderError, started: float) -> str | None:
    cost = failure_cost(generation, route, status, exc)
    with transaction.atomic():
        updated = owned(generation, me).update(
            status=status,
            finished_at=timezone.now(),
            lease_until=None,
            latency_ms=int((time.monotonic() - started) * 1000),
            error_code=getattr(exc, "reason", "") or exc.code,
            error_message=str(exc),
            usage=exc.usage,
            actual_cost=cost,
            attempt_log=log_entry(generation, route, outcome=status, error=str(exc), status=exc.status),
        )
        if not updated:
            return None
        generation.refresh_from_db()
        budgets.settle(generation, cost)
    return status
