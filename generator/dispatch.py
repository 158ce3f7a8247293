"""One generation, end to end: route -> limits -> claim -> call -> store -> settle.

The Generation row is the only truth. A worker owns a row while `worker` holds its id
and `lease_until` is in the future; every transition is a guarded UPDATE that checks
both, so a duplicate doorbell, a crashed worker or a sweeper re-queue can never make a
job run twice to completion, store its images twice, or charge twice.

Before the claim a job picks its route (the requested provider/model, or a fallback
when the breaker is open: generator/fallbacks.py) and takes its limit permits
(generator/limits.py). A job held back by a breaker or a limit is rescheduled without
being claimed, so `attempts` counts only calls actually sent.

This module claims, calls and decides what happens next (retry, fallback, give up);
generator/outcomes.py stores what an attempt came to and settles its money;
generator/recovery.py cancels and sweeps; generator/doorbell.py rings the queue.
`run`, `claim`, `enqueue`, `cancel`, `sweep`, `run_due` and `call_provider` are all
importable from here.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from spend import budgets

from . import breakers, fallbacks, keys, limits, outcomes
from .doorbell import enqueue
from .fallbacks import Route
from .models import Generation
from .providers.base import (
    AuthError,
    BlockedError,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    ReferenceInput,
    RetryableError,
)
from .recovery import cancel, sweep

__all__ = ["call_provider", "cancel", "claim", "enqueue", "run", "run_due", "sweep"]
from .providers.registry import ProviderConfig, protocol_module

log = logging.getLogger(__name__)

Status = Generation.Status
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 120.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


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


def build_request(generation: Generation, route: Route) -> ProviderRequest:
    from django.core.files.storage import default_storage

    capability = route.capability
    references = []
    for ref in generation.references.all():
        with default_storage.open(ref.file.name, "rb") as fh:
            references.append(ReferenceInput(data=fh.read(), mime_type=ref.mime_type))
    return ProviderRequest(
        prompt=generation.full_prompt,
        model=route.model,
        aspect_ratio=generation.aspect_ratio,
        size=generation.size,
        n=generation.n,
        seed=generation.seed,
        references=tuple(references),
        expected_pixels=capability.pixel_size(generation.size, generation.aspect_ratio) if capability else None,
        send_size=capability.sends_image_size if capability else True,
    )


# The key chosen for the call in progress (generator/keys.py). Passed aside rather than
# as an argument so call_provider(provider, request) stays the one seam tests replace.
_api_key: ContextVar[str] = ContextVar("api_key", default="")


def call_provider(provider: ProviderConfig, request: ProviderRequest) -> ProviderResult:
    module = protocol_module(provider.protocol)
    return module.generate(provider, request, _api_key.get())


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Full-jitter exponential backoff, never shorter than the provider's own wait."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    wait = random.uniform(0, ceiling)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return wait


def _due(generation_id: int) -> Generation | None:
    now = timezone.now()
    return (
        Generation.objects.filter(pk=generation_id, status=Status.QUEUED, cancel_requested=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .first()
    )


def run(generation_id: int) -> str | None:
    """Run one generation if it is due and unclaimed; return its status after this step."""
    generation = _due(generation_id)
    if generation is None:
        return None
    route = _pick_route(generation)
    if route is None:
        return None  # held back by an open breaker; rescheduled
    me = worker_id()
    permit = limits.Permit(ok=True, holder=me)
    if route.provider is not None:
        permit = limits.acquire(limits.limits_for(route.provider, route.model), me, settings.GENERATION_LEASE_SECONDS)
    if not permit.ok:
        _hold(generation, permit.wait, f"Waiting: {permit.reason}.")
        return None
    try:
        if permit.wait:
            time.sleep(permit.wait)  # our RPM turn is reserved and less than a second away
        claimed = claim(generation_id, me)
        if claimed is None:
            return None
        return _attempt(claimed, me, route, permit)
    finally:
        limits.release(permit)


def _pick_route(generation: Generation) -> Route | None:
    route = fallbacks.current(generation)
    if route.provider is None:
        return route  # fails in _attempt with a clear message
    verdict = breakers.check(route.scope)
    if verdict.allowed:
        return route
    fallback, _ = fallbacks.next_route(generation, route)
    if fallback is not None:
        entry = outcomes.log_entry(
            generation,
            route,
            outcome="fallback",
            error=f"circuit breaker open after {verdict.failures} failures in a row; using {fallback}",
        )
        if Generation.objects.filter(
            pk=generation.pk,
            status=Status.QUEUED,
            used_provider=generation.used_provider,
            used_model=generation.used_model,
        ).update(used_provider=fallback.provider_name, used_model=fallback.model, attempt_log=entry):
            return fallback
        return None
    _hold(
        generation,
        verdict.wait,
        f"Waiting: {route} failed {verdict.failures} times in a row, so its circuit breaker is open "
        f"for {verdict.wait:.0f} s.",
    )
    return None


def _hold(generation: Generation, wait: float, reason: str) -> None:
    """Reschedule a job a limit or breaker held back. Not an attempt: nothing was sent."""
    due = timezone.now() + timedelta(seconds=wait)
    # Guarded on the row as we read it: if another worker ran and re-queued the job
    # meanwhile (say for a 429's retryDelay), its schedule stands.
    if Generation.objects.filter(
        pk=generation.pk,
        status=Status.QUEUED,
        cancel_requested=False,
        attempts=generation.attempts,
        next_attempt_at=generation.next_attempt_at,
    ).update(next_attempt_at=due, error_code="waiting", error_message=reason):
        enqueue(generation.pk, run_after=due)


def _attempt(generation: Generation, me: str, route: Route, permit: limits.Permit | None = None) -> str | None:
    provider = route.provider
    started = time.monotonic()
    key = None
    try:
        if provider is None:
            raise ProviderError(
                f"Provider {route.provider_name!r} is not configured on this server",
                hint="set its environment variables (see the README) and restart the worker",
            )
        key = keys.pick(provider)
        if key is None:
            raise AuthError(
                f"Every key for {provider.display_name} has been refused: "
                + ", ".join(keys.set_aside_labels(provider)),
                hint=f"put working keys in {provider.key_env} and re-enable them in the admin (Set-aside API keys)",
            )
        request = build_request(generation, route)
        token = _api_key.set(key.key)
        try:
            result = call_provider(provider, request)
        finally:
            _api_key.reset(token)
            if permit is not None:
                limits.release(permit)  # the call is over: storing the result needs no slot
        if not result.images:
            raise BlockedError(
                "The provider returned no image" + (f" ({result.finish_reason})" if result.finish_reason else ""),
                reason=result.finish_reason or "NO_IMAGE",
                usage=result.usage,
            )
        breakers.record_success(route.scope)
        return outcomes.succeed(generation, me, route, result, started)
    except AuthError as exc:
        return _key_refused(generation, me, route, key, exc, started)
    except RetryableError as exc:
        breakers.record_failure(route.scope, str(exc))
        return _retry_or_fail(generation, me, route, exc, started)
    except BlockedError as exc:
        return outcomes.end(generation, me, route, Status.BLOCKED, exc, started)
    except ProviderError as exc:
        return outcomes.end(generation, me, route, Status.FAILED, exc, started)
    except Exception as exc:
        log.exception("generation %s: unexpected error", generation.pk)
        error = ProviderError(f"Internal error while generating: {type(exc).__name__}: {exc}")
        return outcomes.end(generation, me, route, Status.FAILED, error, started)


def _route_attempts(generation: Generation, route: Route) -> int:
    """Calls already made on this route that ended in a retry, plus the one that just failed."""
    earlier = sum(
        1
        for e in generation.attempt_log
        if e.get("outcome") == "retry" and e.get("provider") == route.provider_name and e.get("model") == route.model
    )
    return earlier + 1


def _retry_or_fail(generation, me, route: Route, exc: RetryableError, started: float) -> str | None:
    if Generation.objects.filter(pk=generation.pk, cancel_requested=True).exists():
        return _canceled_instead(generation, me, route, exc, started)
    tries = _route_attempts(generation, route)
    if tries >= settings.GENERATION_MAX_ATTEMPTS:
        fallback, skipped = fallbacks.next_route(generation, route)
        if fallback is not None:
            return _switch(generation, me, route, fallback, f"gave up after {tries} attempts: {exc}", exc, started)
        exc.message = f"{exc.message} (gave up after {tries} attempts on {route})"
        if skipped:
            exc.hint = "no fallback could take it: " + "; ".join(skipped)
        return outcomes.end(generation, me, route, Status.FAILED, exc, started)
    wait = backoff_seconds(tries, exc.retry_after)
    return _requeue(
        generation,
        me,
        route,
        wait,
        exc,
        started,
        outcome="retry",
        retry_after=exc.retry_after,
    )


def _canceled_instead(generation, me, route: Route, exc: ProviderError, started: float) -> str | None:
    """A cancel was requested while the call was out: end the job instead of trying again.
    None if this worker no longer owns the job (the run that does decides)."""
    if not outcomes.owned(generation, me).filter(cancel_requested=True).exists():
        return None
    exc.message = f"Canceled: the last call failed ({exc.message}) and no retry was made"
    exc.hint = ""
    return outcomes.end(generation, me, route, Status.CANCELED, exc, started)


def _requeue(generation, me, route: Route, wait: float, exc: ProviderError, started: float, **fields) -> str | None:
    due = timezone.now() + timedelta(seconds=wait)
    # cancel_requested=False in the guard: a cancel that lands during the call wins
    # even after the check in _retry_or_fail, so a flagged job is never re-queued
    # (where nothing would ever run it or release its reservation).
    updated = (
        outcomes.owned(generation, me)
        .filter(cancel_requested=False)
        .update(
            status=Status.QUEUED,
            next_attempt_at=due,
            lease_until=None,
            worker="",
            error_code=exc.code,
            error_message=str(exc),
            attempt_log=outcomes.log_entry(
                generation, route, error=str(exc), status=exc.status, wait=round(wait, 3), **fields
            ),
        )
    )
    if updated:
        enqueue(generation.pk, run_after=due if wait > 0 else None)
        return Status.QUEUED
    return _canceled_instead(generation, me, route, exc, started)


def _switch(generation, me, route: Route, fallback: Route, why: str, exc: ProviderError, started: float) -> str | None:
    estimate = max(generation.estimated_cost, fallbacks.price(generation, fallback))
    try:
        # A dearer fallback reserves the difference under the budget locks, in the
        # same transaction as the switch: both happen, or neither.
        with transaction.atomic():
            updated = (
                outcomes.owned(generation, me)
                .filter(cancel_requested=False)
                .update(
                    status=Status.QUEUED,
                    next_attempt_at=timezone.now(),
                    lease_until=None,
                    worker="",
                    used_provider=fallback.provider_name,
                    used_model=fallback.model,
                    estimated_cost=estimate,
                    error_code="fallback",
                    error_message=f"{route} {why}; falling back to {fallback}.",
                    attempt_log=outcomes.log_entry(
                        generation, route, outcome="fallback", error=f"{why}; using {fallback}"
                    ),
                )
            )
            if updated:
                budgets.reserve_more(generation, estimate)
    except budgets.BudgetExceeded as refusal:
        exc.message = f"{exc.message}; the fallback {fallback} no longer fits the budget: {refusal.message}"
        return outcomes.end(generation, me, route, Status.FAILED, exc, started)
    if updated:
        enqueue(generation.pk)
        return Status.QUEUED
    return _canceled_instead(generation, me, route, exc, started)


def _key_refused(generation, me, route: Route, key: keys.KeyChoice | None, exc: AuthError, started) -> str | None:
    provider = route.provider
    if key is not None and key.index:
        keys.set_aside(provider, key, exc.status, exc.message)
        exc.message = f"{exc.message} [{key.label} set aside]"
        if keys.usable(provider):
            return _requeue(generation, me, route, 0.0, exc, started, outcome="key refused")
        exc.message = f"{exc.message}; no key left: " + ", ".join(keys.set_aside_labels(provider))
    fallback, _ = fallbacks.next_route(generation, route)
    if fallback is not None:
        return _switch(generation, me, route, fallback, f"refused every key: {exc}", exc, started)
    return outcomes.end(generation, me, route, Status.FAILED, exc, started)


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
