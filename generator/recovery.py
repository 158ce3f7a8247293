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
from .doorbell import can_defer, enqueue
from .models import Generation
from .outcomes import log_entry

Status = Generation.Status


def cancel(generation: Generation) -> bool:
    """Cancel a queued job now; a running one is only flagged: its call finishes (and is
    charged), and no retry or fallback follows. True if it was canceled at once."""
    with transaction.atomic():
        # Flag first. A flagged job cannot be claimed, re-queued or switched to a
        # fallback (those UPDATEs require cancel_requested=False), so it cannot slip
        # from running back to queued between this statement and the next.
        Generation.objects.filter(pk=generation.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(
            cancel_requested=True
        )
        generation.refresh_from_db(fields=["attempts"])
        message = (
            f"Canceled while waiting to retry, after {generation.attempts} attempt(s); nothing more was sent."
            if generation.attempts
            else "Canceled before it was sent."
        )
        canceled = _cancel_queued(generation.pk, message)
    if canceled:
        generation.refresh_from_db()
    return canceled


def _cancel_queued(pk: int, message: str) -> bool:
    with transaction.atomic():
        if not Generation.objects.filter(pk=pk, status=Status.QUEUED).update(
            status=Status.CANCELED, cancel_requested=True, finished_at=timezone.now(), error_message=message
        ):
            return False
        budgets.release(Generation.objects.get(pk=pk))
    return True


def _lease_expiries(generation: Generation) -> int:
    return sum(1 for e in generation.attempt_log if e.get("outcome") == "lease expired")


def _end_dead(gen: Generation, now, status: str, code: str, message: str) -> bool:
    """End a job whose worker died, releasing its reservation: the outcome of its last
    call is unknown, so nothing is charged."""
    entries = log_entry(gen, None, outcome=status, error=message)
    with transaction.atomic():
        if not Generation.objects.filter(
            pk=gen.pk, status=Status.RUNNING, worker=gen.worker, lease_until__lt=now
        ).update(
            status=status,
            worker="",
            lease_until=None,
            finished_at=now,
            error_code=code,
            error_message=message,
            attempt_log=entries,
        ):
            return False
        budgets.release(Generation.objects.get(pk=gen.pk))
    return True


def sweep(now=None) -> dict[str, int]:
    """Re-queue jobs whose worker died (lease expired) and re-ring lost doorbells.

    A dead worker's job is canceled instead if its cancel was requested, and failed
    if workers have died on it GENERATION_MAX_ATTEMPTS times (a job that crashes
    its worker must not loop forever); both release the reservation.
    """
    now = now or timezone.now()
    requeued = ended = 0
    for gen in Generation.objects.filter(status=Status.RUNNING, lease_until__lt=now).only(
        "pk", "worker", "attempts", "attempt_log", "provider", "model", "used_provider", "used_model",
        "cancel_requested",
    ):  # fmt: skip
        deaths = _lease_expiries(gen) + 1
        if gen.cancel_requested:
            if _end_dead(
                gen,
                now,
                Status.CANCELED,
                "canceled",
                "Canceled; the worker stopped responding during the call, so no result was kept and nothing was "
                "charged.",
            ):
                ended += 1
        elif deaths >= settings.GENERATION_MAX_ATTEMPTS:
            if _end_dead(
                gen,
                now,
                Status.FAILED,
                "worker_lost",
                f"The worker stopped responding {deaths} times while making this generation, so it was given up "
                "— check the worker's log (out of memory?) and resubmit.",
            ):
                ended += 1
        else:
            log_entries = log_entry(gen, None, outcome="lease expired", error="worker stopped responding; re-queued")
            if Generation.objects.filter(
                pk=gen.pk, status=Status.RUNNING, worker=gen.worker, lease_until__lt=now
            ).update(status=Status.QUEUED, worker="", lease_until=None, next_attempt_at=now, attempt_log=log_entries):
                requeued += 1
                enqueue(gen.pk)
        limits.release_holder(gen.worker)
    # A queued row whose cancel was flagged can never run: finish the cancel.
    for pk in Generation.objects.filter(status=Status.QUEUED, cancel_requested=True).values_list("pk", flat=True)[
        :1000
    ]:
        if _cancel_queued(pk, "Canceled."):
            ended += 1
    # Queued rows that should have started a while ago: the doorbell was lost
    # (broker restart, enqueue after a crash). Ringing again is safe. A backend that
    # cannot defer never got a retry's or a held job's doorbell at all (see
    # doorbell.enqueue): ring those as soon as they are due.
    stale = now - timedelta(seconds=settings.SWEEP_STALE_SECONDS)
    due_by = stale if can_defer() else now
    rung = 0
    for pk in (
        Generation.objects.filter(status=Status.QUEUED, cancel_requested=False)
        .filter(Q(next_attempt_at__lte=due_by) | Q(next_attempt_at__isnull=True, created_at__lte=stale))
        .values_list("pk", flat=True)[:1000]
    ):
        enqueue(pk)
        rung += 1
    return {"requeued": requeued, "ended": ended, "rung": rung}
