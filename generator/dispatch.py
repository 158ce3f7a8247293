"""One generation, end to end: claim -> call -> store -> settle.

The Generation row is the only truth. A worker owns a row while `worker` holds its id
and `lease_until` is in the future; every transition is a guarded UPDATE that checks
both, so a duplicate doorbell, a crashed worker or a sweeper re-queue can never make a
job run twice to completion, store its images twice, or charge twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from spend import budgets, pricing

from . import images as image_files
from .models import Generation, Image, ModelCapability
from .providers.base import (
    BlockedError,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    ReferenceInput,
    RetryableError,
)
from .providers.registry import ProviderConfig, get_provider, protocol_module

log = logging.getLogger(__name__)

Status = Generation.Status
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 120.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def enqueue(generation_id: int, run_after=None) -> None:
    """Ring the doorbell. Harmless to ring twice: only one claim can win."""
    from .tasks import run_generation

    task = run_generation
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return  # the sweeper rings again once the row is due
        task = task.using(run_after=run_after)
    task.enqueue(generation_id)


def claim(generation_id: int, me: str) -> Generation | None:
    now = timezone.now()
    claimed = (
        Generation.objects.filter(pk=generation_id, status=Status.QUEUED, cancel_requested=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Status.RUNNING,
            attempts=F("attempts") + 1,
            lease_until=now + timedelta(seconds=settings.GENERATION_LEASE_SECONDS),
            worker=me,
            started_at=Coalesce(F("started_at"), now),
        )
    )
    if not claimed:
        return None
    return Generation.objects.get(pk=generation_id)


def _owned(generation: Generation, me: str):
    """The row, but only while this worker still holds its lease."""
    return Generation.objects.filter(pk=generation.pk, status=Status.RUNNING, worker=me)


def build_request(generation: Generation, capability: ModelCapability | None) -> ProviderRequest:
    from django.core.files.storage import default_storage

    references = []
    for ref in generation.references.all():
        with default_storage.open(ref.file.name, "rb") as fh:
            references.append(ReferenceInput(data=fh.read(), mime_type=ref.mime_type))
    return ProviderRequest(
        prompt=generation.full_prompt,
        model=generation.model,
        aspect_ratio=generation.aspect_ratio,
        size=generation.size,
        n=generation.n,
        seed=generation.seed,
        references=tuple(references),
        expected_pixels=capability.pixel_size(generation.size, generation.aspect_ratio) if capability else None,
        send_size=capability.sends_image_size if capability else True,
    )


def call_provider(provider: ProviderConfig, request: ProviderRequest) -> ProviderResult:
    keys = provider.api_keys()
    module = protocol_module(provider.protocol)
    return module.generate(provider, request, keys[0] if keys else "")


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Full-jitter exponential backoff, never shorter than the provider's own wait."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    wait = random.uniform(0, ceiling)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return wait


def run(generation_id: int) -> str | None:
    """Run one generation if it is due and unclaimed; return its final status."""
    me = worker_id()
    generation = claim(generation_id, me)
    if generation is None:
        return None
    provider = get_provider(generation.provider)
    started = time.monotonic()
    try:
        if provider is None:
            raise ProviderError(
                f"Provider {generation.provider!r} is not configured on this server",
                hint="set its environment variables (see the README) and restart the worker",
            )
        capability = ModelCapability.objects.filter(model_id=generation.model).first()
        result = call_provider(provider, build_request(generation, capability))
        if not result.images:
            raise BlockedError(
                "The provider returned no image" + (f" ({result.finish_reason})" if result.finish_reason else ""),
                reason=result.finish_reason or "NO_IMAGE",
                usage=result.usage,
            )
        return _succeed(generation, me, provider, result, started)
    except RetryableError as exc:
        return _retry_or_fail(generation, me, provider, exc, started)
    except BlockedError as exc:
        return _end(generation, me, provider, Status.BLOCKED, exc, started)
    except ProviderError as exc:
        return _end(generation, me, provider, Status.FAILED, exc, started)
    except Exception as exc:
        log.exception("generation %s: unexpected error", generation.pk)
        error = ProviderError(f"Internal error while generating: {type(exc).__name__}: {exc}")
        return _end(generation, me, provider, Status.FAILED, error, started)


def _log_entry(generation: Generation, provider: ProviderConfig | None, **fields) -> list:
    return [
        *generation.attempt_log,
        {
            "n": generation.attempts,
            "at": timezone.now().isoformat(),
            "provider": provider.name if provider else generation.provider,
            "model": generation.model,
            **fields,
        },
    ]


def _succeed(generation, me, provider, result: ProviderResult, started: float) -> str | None:
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
        model_id=generation.model,
        size=generation.size,
        usage=result.usage,
        image_count=len(stored),
        at=generation.created_at,
    )
    mismatch = any(img.ratio_mismatch for img in stored)
    with transaction.atomic():
        updated = _owned(generation, me).update(
            status=Status.SUCCEEDED,
            finished_at=timezone.now(),
            lease_until=None,
            latency_ms=latency,
            text_reply=result.text,
            usage=result.usage,
            finish_reason=result.finish_reason,
            response_id=result.response_id,
            used_provider=provider.name,
            used_model=generation.model,
            actual_cost=cost,
            error_code="ratio_mismatch" if mismatch else "",
            error_message="The provider ignored the aspect ratio: the image's shape differs from the request."
            if mismatch
            else "",
            attempt_log=_log_entry(generation, provider, outcome="succeeded", latency_ms=latency),
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


def _retry_or_fail(generation, me, provider, exc: RetryableError, started: float) -> str | None:
    if generation.attempts >= settings.GENERATION_MAX_ATTEMPTS:
        exc.message = f"{exc.message} (gave up after {generation.attempts} attempts)"
        return _end(generation, me, provider, Status.FAILED, exc, started)
    wait = backoff_seconds(generation.attempts, exc.retry_after)
    due = timezone.now() + timedelta(seconds=wait)
    updated = _owned(generation, me).update(
        status=Status.QUEUED,
        next_attempt_at=due,
        lease_until=None,
        worker="",
        error_code=exc.code,
        error_message=str(exc),
        attempt_log=_log_entry(
            generation, provider, outcome="retry", error=str(exc), status=exc.status, wait=round(wait, 3)
        ),
    )
    if updated:
        enqueue(generation.pk, run_after=due)
        return Status.QUEUED
    return None


def _end(generation, me, provider, status: str, exc: ProviderError, started: float) -> str | None:
    cost = pricing.ZERO
    if provider is not None and provider.charge_failures and exc.usage:
        cost = pricing.actual_cost(
            provider=provider,
            model_id=generation.model,
            size=generation.size,
            usage=exc.usage,
            image_count=0,
            at=generation.created_at,
        )
    with transaction.atomic():
        updated = _owned(generation, me).update(
            status=status,
            finished_at=timezone.now(),
            lease_until=None,
            latency_ms=int((time.monotonic() - started) * 1000),
            error_code=getattr(exc, "reason", "") or exc.code,
            error_message=str(exc),
            usage=exc.usage,
            actual_cost=cost,
            attempt_log=_log_entry(generation, provider, outcome=status, error=str(exc), status=exc.status),
        )
        if not updated:
            return None
        generation.refresh_from_db()
        budgets.settle(generation, cost)
    return status


def cancel(generation: Generation) -> bool:
    """Cancel a queued job now; a running one is only flagged (its call finishes)."""
    with transaction.atomic():
        canceled = Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
            status=Status.CANCELED,
            cancel_requested=True,
            finished_at=timezone.now(),
            error_message="Canceled before it was sent.",
        )
        if canceled:
            generation.refresh_from_db()
            budgets.release(generation)
            return True
    Generation.objects.filter(pk=generation.pk, status=Status.RUNNING).update(cancel_requested=True)
    return False


def sweep(now=None) -> dict[str, int]:
    """Re-queue jobs whose worker died (lease expired) and re-ring lost doorbells."""
    now = now or timezone.now()
    requeued = 0
    for gen in Generation.objects.filter(status=Status.RUNNING, lease_until__lt=now).only(
        "pk", "worker", "attempts", "attempt_log", "provider", "model"
    ):
        log_entries = _log_entry(gen, None, outcome="lease expired", error="worker stopped responding; re-queued")
        if Generation.objects.filter(pk=gen.pk, status=Status.RUNNING, worker=gen.worker, lease_until__lt=now).update(
            status=Status.QUEUED, worker="", lease_until=None, next_attempt_at=now, attempt_log=log_entries
        ):
            requeued += 1
            enqueue(gen.pk)
    # Queued rows that should have started a while ago: the doorbell was lost
    # (broker restart, enqueue after a crash). Ringing again is safe.
    stale = now - timedelta(seconds=30)
    rung = 0
    for pk in (
        Generation.objects.filter(status=Status.QUEUED, cancel_requested=False)
        .filter(Q(next_attempt_at__lte=stale) | Q(next_attempt_at__isnull=True, created_at__lte=stale))
        .values_list("pk", flat=True)[:1000]
    ):
        enqueue(pk)
        rung += 1
    return {"requeued": requeued, "rung": rung}


def run_due(limit: int = 100) -> int:
    """Run every due queued job in this process (tests, and the CLI without a worker)."""
    now = timezone.now()
    done = 0
    for pk in (
        Generation.objects.filter(status=Status.QUEUED, cancel_requested=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    ):
        if run(pk):
            done += 1
    return done
