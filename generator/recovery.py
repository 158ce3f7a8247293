"""Recovery: cancel a job, and the sweeper that re-queues jobs whose worker died and
re-rings doorbells that were lost. Every change is a guarded UPDATE, so the sweeper,
a cancel and a worker can race freely.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from spend import budgets

from . import limits
from .doorbell import enqueue
from .models import Generation
from .outcomes import log_entry

Status = Generation.Status


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
        "pk", "worker", "attempts", "attempt_log", "provider", "model", "used_provider", "used_model"
    ):
        log_entries = log_entry(gen, None, outcome="lease expired", error="worker stopped responding; re-queued")
        if Generation.objects.filter(pk=gen.pk, status=Status.RUNNING, worker=gen.worker, lease_until__lt=now).update(
            status=Status.QUEUED, worker="", lease_until=None, next_attempt_at=now, attempt_log=log_entries
        ):
            requeued += 1
            limits.release_holder(gen.worker)
            enqueue(gen.pk)
    # Queued rows that should have started a while ago: the doorbell was lost
    # (broker restart, enqueue after a crash). Ringing again is safe.
    stale = now - timedelta(seconds=settings.SWEEP_STALE_SECONDS)
    rung = 0
    for pk in (
        Generation.objects.filter(status=Status.QUEUED, cancel_requested=False)
        .filter(Q(next_attempt_at__lte=stale) | Q(next_attempt_at__isnull=True, created_at__lte=stale))
        .values_list("pk", flat=True)[:1000]
    ):
        enqueue(pk)
        rung += 1
    return {"requeued": requeued, "rung": rung}
