"""The queue is only a doorbell: ringing it tells a worker to look at a Generation row.

Ringing twice is harmless (only one claim can win); a lost ring is re-rung by the
sweeper (generator/recovery.py).
"""

from __future__ import annotations


def can_defer() -> bool:
    from .tasks import run_generation

    return run_generation.get_backend().supports_defer


def enqueue(generation_id: int, run_after=None) -> None:
    """Ring the doorbell. Harmless to ring twice: only one claim can win."""
    from .tasks import run_generation

    task = run_generation
    if run_after is not None:
        if not can_defer():
            return  # the sweeper rings again once the row is due
        task = task.using(run_after=run_after)
    task.enqueue(generation_id)
