"""Rules 6-7: the sweeper after a crash, and cancel of a job or a whole batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from generator import batches, dispatch, limits
from generator.limits import Limit
from generator.models import ConcurrencySlot, Generation
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
