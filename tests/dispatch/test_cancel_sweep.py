"""Rules 6-7: the sweeper after a crash, and cancel of a job or a whole batch."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from generator import batches, dispatch, limits
from generator.limits import Limit
from generator.models import ConcurrencySlot, Generation
from generator.providers.base import AuthError
from spend.models import SpendEntry
from tests.fakes.gemini import error

pytestmark = pytest.mark.django_db


def test_sweeper_requeues_a_dead_workers_job_and_frees_its_slots(fake, gemini, monkeypatch):
    monkeypatch.setenv("GEMINI_CONCURRENCY", "1")
    generation = gemini()
    # A worker took a slot and the job, then died (kill -9): nothing released either.
    assert limits.acquire([Limit("gemini", concurrency=1)], "dead-worker", 600).ok
    assert dispatch.claim(generation.pk, "dead-worker")
    Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert dispatch.sweep()["requeued"] == 1
    assert not ConcurrencySlot.objects.filter(holder="dead-worker").exists()
    assert dispatch.run(generation.pk) == "succeeded"
    generation.refresh_from_db()
    assert generation.images.count() == 1 and generation.attempts == 2
    settles = SpendEntry.objects.filter(generation=generation, kind="settle")
    assert settles.count() == 1 and settles.get().amount == generation.actual_cost
    assert SpendEntry.objects.filter(generation=generation).aggregate(s=Sum("amount"))["s"] == generation.actual_cost


def _batch(make_generation, user, count: int):
    from generator.models import Batch

    batch = Batch.objects.create(user=user, name="three")
    rows = [make_generation(run=False, provider="gemini", size="1K") for _ in range(count)]
    Generation.objects.filter(pk__in=[g.pk for g in rows]).update(batch=batch)
    return batch, rows


def test_cancel_a_whole_batch_states_what_happens_in_flight(fake, make_generation, user, alice_client):
    batch, rows = _batch(make_generation, user, 3)
    assert dispatch.claim(rows[0].pk, "busy-worker")  # this one is with the provider
    response = alice_client.post(f"/batches/{batch.pk}/cancel/", follow=True)
    page = response.content.decode()
    assert "Canceled 2 queued generations" in page
    assert "1 already with the provider will finish and be charged; none of them will be retried" in page
    statuses = {g.pk: g.status for g in Generation.objects.filter(batch=batch)}
    assert sorted(statuses.values()) == ["canceled", "canceled", "running"]
    for g in Generation.objects.filter(batch=batch, status="canceled"):
        assert SpendEntry.objects.filter(generation=g).aggregate(s=Sum("amount"))["s"] == 0, "reservation released"
    assert dispatch.run(rows[1].pk) is None and fake.requests == []


def test_a_running_job_canceled_is_not_retried(fake, gemini, alice_client):
    fake.script(error(503))
    generation = gemini()
    original = dispatch.call_provider

    def cancel_while_in_flight(provider, request):
        page = alice_client.post(f"/generations/{generation.pk}/cancel/", follow=True).content.decode()
        assert "will not be retried" in page
        return original(provider, request)

    dispatch.call_provider, saved = cancel_while_in_flight, dispatch.call_provider
    try:
        assert dispatch.run(generation.pk) == "canceled"
    finally:
        dispatch.call_provider = saved
    generation.refresh_from_db()
    assert generation.status == "canceled" and "no retry was made" in generation.error_message
    assert len(fake.requests) == 1


def test_batch_progress_counts(fake, make_generation, user):
    batch, rows = _batch(make_generation, user, 2)
    dispatch.run(rows[0].pk)
    progress = batches.progress(batch)
    assert (progress.total, progress.done, progress.percent) == (2, 1, 50)


def _net(generation) -> Decimal:
    return SpendEntry.objects.filter(generation=generation).aggregate(s=Sum("amount"))["s"]


def test_a_canceled_job_whose_worker_died_ends_canceled_and_releases_its_reservation(fake, gemini):
    generation = gemini()
    assert generation.estimated_cost > 0
    assert dispatch.claim(generation.pk, "doomed-worker")
    assert dispatch.cancel(generation) is False  # in flight: flagged only
    # The worker is killed mid-call; its lease runs out.
    Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    dispatch.sweep()
    generation.refresh_from_db()
    assert generation.status == "canceled", "not re-queued as a job nobody will ever run"
    assert _net(generation) == 0, "reservation released"
    assert dispatch.sweep()["requeued"] == 0 and _net(generation) == 0, "released once"


def test_cancel_during_a_refused_key_does_not_requeue_the_job(fake, gemini, monkeypatch, alice_client):
    monkeypatch.setenv("GEMINI_API_KEY", "key-one-aaaa,key-two-bbbb")
    generation = gemini()

    def cancel_then_refuse(provider, request):
        alice_client.post(f"/generations/{generation.pk}/cancel/")
        raise AuthError("Gemini rejected the key (403)", status=403)

    monkeypatch.setattr(dispatch, "call_provider", cancel_then_refuse)
    assert dispatch.run(generation.pk) == "canceled"
    generation.refresh_from_db()
    assert generation.status == "canceled" and "no retry was made" in generation.error_message
    assert _net(generation) == 0


def test_a_requeue_racing_a_cancel_ends_canceled(fake, gemini, monkeypatch):
    # The cancel lands after the worker checked for one and before it re-queues.
    fake.script(error(503))
    generation = gemini()
    real = dispatch.backoff_seconds

    def cancel_meanwhile(attempt, retry_after):
        dispatch.cancel(Generation.objects.get(pk=generation.pk))
        return real(attempt, retry_after)

    monkeypatch.setattr(dispatch, "backoff_seconds", cancel_meanwhile)
    assert dispatch.run(generation.pk) == "canceled"
    generation.refresh_from_db()
    assert generation.status == "canceled" and _net(generation) == 0


def test_the_sweeper_finishes_a_stranded_cancel(fake, gemini):
    # A row left queued with its cancel flag set (by an older version, or a crash
    # between statements) would never run and never release its money.
    generation = gemini()
    Generation.objects.filter(pk=generation.pk).update(cancel_requested=True)
    dispatch.sweep()
    generation.refresh_from_db()
    assert generation.status == "canceled" and _net(generation) == 0


def test_a_job_that_keeps_killing_its_worker_fails_instead_of_looping(fake, gemini, settings):
    settings.GENERATION_MAX_ATTEMPTS = 3
    generation = gemini()
    for n in range(3):
        assert dispatch.claim(generation.pk, f"worker-{n}"), f"claim {n}"
        Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        dispatch.sweep()
    generation.refresh_from_db()
    assert generation.status == "failed"
    assert "stopped responding 3 times" in generation.error_message
    assert _net(generation) == 0
    assert dispatch.claim(generation.pk, "worker-x") is None


def test_without_deferral_the_sweeper_rings_a_retry_as_soon_as_it_is_due(fake, gemini, settings):
    # A backend that cannot defer (ImmediateBackend) drops a retry's doorbell: the
    # sweeper is then the only one to ring, and must not add SWEEP_STALE_SECONDS.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    fake.script(error(503))
    generation = gemini()
    assert dispatch.run(generation.pk) == "queued"
    Generation.objects.filter(pk=generation.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert dispatch.sweep()["rung"] == 1
    generation.refresh_from_db()
    assert generation.status == "succeeded" and generation.attempts == 2


def test_canceling_a_job_waiting_to_retry_says_so(fake, gemini):

    fake.script(error(503))
    generation = gemini()
    assert dispatch.run(generation.pk) == "queued"
    assert dispatch.cancel(generation)
    generation.refresh_from_db()
    assert generation.status == "canceled"
    assert generation.error_message == "Canceled while waiting to retry, after 1 attempt(s); nothing more was sent."
    fresh = gemini()
    assert dispatch.cancel(fresh)
    fresh.refresh_from_db()
    assert fresh.error_message == "Canceled before it was sent."
