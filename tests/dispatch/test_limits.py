"""Rule 2: RPM limits and concurrency caps shared by every worker; waiting costs no attempt."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from generator import dispatch, limits
from generator.limits import Limit
from generator.models import ConcurrencySlot, Generation

BACKENDS = ["database", "redis"]


@pytest.fixture(params=BACKENDS)
def backend(request, settings):
    settings.LIMIT_SLOT_WAIT_SECONDS = 0
    if request.param == "redis":
        request.getfixturevalue("redis_limits")
    else:
        settings.LIMITS_BACKEND = "database"
    return request.param


@pytest.mark.django_db
def test_gcra_spaces_requests_and_reports_the_wait(backend, settings):
    settings.LIMIT_MAX_SLEEP_SECONDS = 0
    settings.LIMIT_BURST = 1
    rpm = [Limit("gemini", rpm=60)]
    if backend == "database":
        clock = 1_000_000.0
        assert limits.acquire(rpm, "a", 60, now=clock).ok
        refused = limits.acquire(rpm, "b", 60, now=clock + 0.25)
        assert not refused.ok and refused.wait == pytest.approx(0.75)
        assert "60 requests/minute" in refused.reason
        assert limits.acquire(rpm, "b", 60, now=clock + 1.0).ok
    else:  # Redis keeps its own clock: check the wait against one interval
        assert limits.acquire(rpm, "a", 60).ok
        refused = limits.acquire(rpm, "b", 60)
        assert not refused.ok and 0.9 < refused.wait <= 1.0


@pytest.mark.django_db
def test_a_short_wait_is_reserved_and_slept_instead(backend, settings):
    settings.LIMIT_MAX_SLEEP_SECONDS = 1.0
    rpm = [Limit("gemini", rpm=600)]
    sleeps = [limits.acquire(rpm, f"h{i}", 60).wait for i in range(5)]
    # One turn each, 0.1 s apart: nobody shares a turn.
    assert [round(s, 1) for s in sleeps] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4], abs=0.06)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_share_one_concurrency_cap(backend):
    cap = [Limit("gemini", concurrency=3)]
    held: list[str] = []
    lock = threading.Lock()
    peak = [0]
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            for i in range(15):
                permit = limits.acquire(cap, f"{name}-{i}", 60)
                if permit.ok:
                    with lock:
                        held.append(permit.holder)
                        peak[0] = max(peak[0], len(held))
                    time.sleep(0.005)
                    with lock:
                        held.remove(permit.holder)
                    limits.release(permit)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] <= 3, "never above the cap"
    # Grab all three, then a fourth taker is refused whoever asks.
    permits = [limits.acquire(cap, f"x{i}", 60) for i in range(3)]
    assert all(p.ok for p in permits)
    assert not limits.acquire(cap, "x3", 60).ok
    limits.release(permits[0])
    assert limits.acquire(cap, "x4", 60).ok


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_full_cap_is_awaited_briefly_in_the_worker(settings):
    settings.LIMITS_BACKEND = "database"
    settings.LIMIT_SLOT_WAIT_SECONDS = 1.0
    cap = [Limit("gemini", concurrency=1)]
    first = limits.acquire(cap, "first", 60)
    timer = threading.Timer(0.2, limits.release, args=(first,))
    timer.start()
    started = time.monotonic()
    second = limits.acquire(cap, "second", 60)
    assert second.ok and 0.15 < time.monotonic() - started < 0.9
    limits.release(second)
    hold = limits.acquire(cap, "third", 60)
    settings.LIMIT_SLOT_WAIT_SECONDS = 0.1
    refused = limits.acquire(cap, "fourth", 60)
    assert hold.ok and not refused.ok and "concurrent calls" in refused.reason


@pytest.mark.django_db
def test_an_expired_slot_is_free_again(settings):
    settings.LIMITS_BACKEND = "database"
    cap = [Limit("gemini", concurrency=1)]
    now = time.time()
    assert limits.acquire(cap, "dead-worker", 10, now=now).ok
    assert not limits.acquire(cap, "other", 10, now=now + 5).ok
    assert limits.acquire(cap, "other", 10, now=now + 11).ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_jobs_held_by_the_cap_wait_without_spending_attempts(fake, gemini, monkeypatch, settings):
    """Two worker threads, a cap of 2 and 6 jobs: never more than 2 calls at the fake at once."""
    monkeypatch.setenv("GEMINI_CONCURRENCY", "2")
    settings.LIMIT_WAIT_SECONDS = 0.02
    settings.LIMIT_SLOT_WAIT_SECONDS = 0  # reschedule at once instead of awaiting a slot
    settings.LIMITS_BACKEND = "database"
    fake.latency = 0.15
    jobs = [gemini().pk for _ in range(6)]
    in_flight, peak, lock = [0], [0], threading.Lock()
    original = dispatch.call_provider

    def counting(provider, request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return original(provider, request)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(dispatch, "call_provider", counting)
    held_back = [0]

    def worker() -> None:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                pending = Generation.objects.filter(pk__in=jobs, status__in=Generation.ACTIVE_STATUSES)
                if not pending.exists():
                    return
                for pk in pending.values_list("pk", flat=True):
                    Generation.objects.filter(pk=pk, status="queued").update(next_attempt_at=timezone.now())
                    if dispatch.run(pk) is None and Generation.objects.filter(pk=pk, error_code="waiting").exists():
                        held_back[0] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = Generation.objects.filter(pk__in=jobs)
    assert {g.status for g in rows} == {"succeeded"}
    assert peak[0] == 2
    assert held_back[0] > 0, "some jobs were held back by the cap"
    assert [g.attempts for g in rows] == [1] * 6, "waiting for a slot spends no attempt"
    assert len(fake.requests) == 6
    assert not ConcurrencySlot.objects.exclude(holder="").exists(), "every slot was given back"


@pytest.mark.django_db
def test_limit_state_is_visible_in_the_admin(admin_client, settings):
    settings.LIMITS_BACKEND = "database"
    permit = limits.acquire([Limit("gemini", rpm=60, concurrency=2)], "worker-a", 60)
    assert permit.ok
    slots = admin_client.get("/admin/generator/concurrencyslot/").content.decode()
    assert "worker-a" in slots and "gemini" in slots
    assert "gemini" in admin_client.get("/admin/generator/ratestate/").content.decode()


def test_a_hold_does_not_shorten_a_retry_another_worker_scheduled_meanwhile(fake, gemini, monkeypatch):
    # Worker A reads the job as due; before A's limit check says "wait", worker B
    # claims it, gets a 429 asking for 53 s and re-queues it. A's hold must not
    # overwrite B's schedule with its own 1 s (hammering a provider that said wait).
    generation = gemini()
    retry_at = timezone.now() + timedelta(seconds=53)

    def meanwhile_full(limits_, holder, lease_seconds, now=None):
        Generation.objects.filter(pk=generation.pk).update(attempts=1, next_attempt_at=retry_at)
        return limits.Permit(ok=False, wait=1.0, reason="all 1 concurrent calls to gemini in use")

    monkeypatch.setenv("GEMINI_CONCURRENCY", "1")
    monkeypatch.setattr(limits, "acquire", meanwhile_full)
    assert dispatch.run(generation.pk) is None
    assert Generation.objects.get(pk=generation.pk).next_attempt_at == retry_at
