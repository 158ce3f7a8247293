"""Rules 3-5: circuit breakers, fallback chains, several keys per provider."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generator import breakers, dispatch, keys
from generator.models import Breaker, Generation, SetAsideKey
from tests.fakes.gemini import error

from .conftest import KEY

pytestmark = pytest.mark.django_db
PRO = "gemini:gemini-3-pro-image-preview"


def _due_now(generation: Generation) -> None:
    Generation.objects.filter(pk=generation.pk).update(next_attempt_at=timezone.now())


def _run_until_settled(generation: Generation, limit: int = 10) -> Generation:
    for _ in range(limit):
        _due_now(generation)
        dispatch.run(generation.pk)
        generation.refresh_from_db()
        if not generation.is_active:
            break
    return generation


def test_breaker_opens_after_a_run_of_failures_and_jobs_then_wait(fake, gemini, settings, admin_client):
    settings.BREAKER_FAILURES = 3
    fake.script(error(503), error(503), error(503))
    for _ in range(3):
        dispatch.run(gemini().pk)
    assert breakers.check(PRO).allowed is False
    waiting = gemini()
    assert dispatch.run(waiting.pk) is None
    waiting.refresh_from_db()
    assert waiting.status == "queued" and waiting.attempts == 0, "held back without spending an attempt"
    assert "circuit breaker is open" in waiting.error_message
    assert waiting.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert len(fake.requests) == 3, "nothing was sent while open"
    page = admin_client.get("/admin/generator/breaker/").content.decode()
    assert PRO in page and ">open<" in page


def test_half_open_lets_one_probe_through_and_success_closes(fake, gemini, settings):
    settings.BREAKER_FAILURES = 2
    fake.script(error(503), error(503))
    dispatch.run(gemini().pk)
    dispatch.run(gemini().pk)
    Breaker.objects.filter(scope=PRO).update(open_until=timezone.now() - timedelta(seconds=1))
    assert breakers.check(PRO).probe is True
    assert breakers.check(PRO).allowed is False, "only one probe at a time"
    assert Breaker.objects.get(scope=PRO).state == "half-open"
    probe = gemini()
    Breaker.objects.filter(scope=PRO).update(open_until=timezone.now() - timedelta(seconds=1))
    assert dispatch.run(probe.pk) == "succeeded"
    assert Breaker.objects.get(scope=PRO).state == "closed"


def test_a_failed_probe_opens_the_breaker_again(settings):
    settings.BREAKER_FAILURES = 1
    assert breakers.record_failure(PRO, "503") is True
    Breaker.objects.filter(scope=PRO).update(open_until=timezone.now() - timedelta(seconds=1))
    assert breakers.check(PRO).probe
    assert breakers.record_failure(PRO, "503 again") is True
    row = Breaker.objects.get(scope=PRO)
    assert row.state == "open" and row.times_opened == 2


def test_fallback_when_retries_are_exhausted_records_who_made_the_image(fake, gemini, settings):
    settings.GENERATION_MAX_ATTEMPTS = 2
    settings.FALLBACKS = {"gemini-3-pro-image-preview": ["demo:gemini-3-pro-image-preview"]}
    fake.script(error(503), error(503))
    generation = _run_until_settled(gemini(aspect_ratio="16:9", size="2K"))
    assert generation.status == "succeeded"
    assert (generation.used_provider, generation.used_model) == ("demo", "gemini-3-pro-image-preview")
    assert generation.attempts == 3 and len(fake.requests) == 2
    assert [e["outcome"] for e in generation.attempt_log] == ["retry", "fallback", "succeeded"]
    assert generation.attempt_log[-1]["provider"] == "demo"
    assert (generation.images.get().width, generation.images.get().height) == (2752, 1536)


def test_fallback_when_the_breaker_is_open(fake, gemini, settings):
    settings.FALLBACKS = {"gemini-3-pro-image-preview": ["demo:gemini-3-pro-image-preview"]}
    Breaker.objects.create(scope=PRO, consecutive_failures=9, open_until=timezone.now() + timedelta(minutes=1))
    generation = gemini()
    assert dispatch.run(generation.pk) == "succeeded"
    generation.refresh_from_db()
    assert generation.used_provider == "demo" and fake.requests == []
    assert "circuit breaker open" in generation.attempt_log[0]["error"]


def test_fallback_skips_routes_that_cannot_make_the_same_image(fake, gemini, settings):
    settings.GENERATION_MAX_ATTEMPTS = 1
    # 2.5 Flash makes only 1K: it cannot stand in for a 2K request.
    settings.FALLBACKS = {"gemini-3-pro-image-preview": ["demo:gemini-2.5-flash-image"]}
    fake.script(error(503))
    generation = _run_until_settled(gemini(size="2K"))
    assert generation.status == "failed"
    assert "does not support 2K" in generation.error_message
    assert generation.images.count() == 0


def test_fallback_must_fit_the_budget(fake, gemini, settings, user):
    from decimal import Decimal

    from spend.models import Budget

    Budget.objects.create(user=user, period="month", amount=Decimal("0.10"))
    settings.GENERATION_MAX_ATTEMPTS = 1
    # Requested: 3.1 Flash 1K; the Pro fallback costs more than was reserved.
    settings.FALLBACKS = {"gemini-3.1-flash-image-preview": ["gemini:gemini-3-pro-image-preview"]}
    fake.script(error(503))
    generation = _run_until_settled(gemini(model="gemini-3.1-flash-image-preview"))
    assert generation.status == "failed"
    assert "price does not fit the budget" in generation.error_message
    assert len(fake.requests) == 1
    # With room in the budget the dearer fallback is taken.
    Budget.objects.filter(user=user).update(amount=Decimal("5"))
    fake.script(error(503))
    generation = _run_until_settled(gemini(model="gemini-3.1-flash-image-preview"))
    assert generation.status == "succeeded" and generation.used_model == "gemini-3-pro-image-preview"


def test_keys_rotate(fake, gemini, monkeypatch):
    fake.api_key = None  # any key
    monkeypatch.setenv("GEMINI_API_KEY", "key-one-aaaa, key-two-bbbb")
    for _ in range(4):
        assert dispatch.run(gemini().pk) == "succeeded"
    used = [r.headers["x-goog-api-key"] for r in fake.requests]
    assert set(used) == {"key-one-aaaa", "key-two-bbbb"}


def test_a_refused_key_is_set_aside_and_the_others_carry_on(fake, gemini, monkeypatch, admin_client, alice_client):
    bad = "revoked-key-9d9d9d"
    monkeypatch.setenv("GEMINI_API_KEY", f"{bad},{KEY}")
    jobs = [gemini() for _ in range(4)]
    for job in jobs:
        _run_until_settled(job)
    assert {Generation.objects.get(pk=j.pk).status for j in jobs} == {"succeeded"}
    refused = [r for r in fake.requests if r.headers["x-goog-api-key"] == bad]
    assert len(refused) == 1, "the bad key was used once, then set aside"
    aside = SetAsideKey.objects.get()
    assert aside.index == 1 and bad not in str(aside.__dict__)
    label = f"key #1 ({aside.fingerprint})"
    victim = next(Generation.objects.get(pk=j.pk) for j in jobs if Generation.objects.get(pk=j.pk).attempts == 2)
    assert victim.attempt_log[0]["outcome"] == "key refused" and label in victim.attempt_log[0]["error"]
    assert label in admin_client.get("/admin/generator/setasidekey/").content.decode()
    page = alice_client.get(victim.get_absolute_url()).content.decode()
    assert label in page and bad not in page


def test_every_key_refused_fails_with_the_fix(fake, gemini, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "nope-1111,nope-2222")
    generation = _run_until_settled(gemini())
    assert generation.status == "failed"
    assert SetAsideKey.objects.count() == 2
    message = generation.error_message
    assert "key #1" in message and "key #2" in message and "nope" not in message


def test_choosing_a_fallback_does_not_use_up_its_probe(fake, gemini, settings):
    settings.GENERATION_MAX_ATTEMPTS = 1
    settings.FALLBACKS = {"gemini-3-pro-image-preview": ["demo:gemini-3-pro-image-preview"]}
    demo = "demo:gemini-3-pro-image-preview"
    Breaker.objects.create(scope=demo, consecutive_failures=9, open_until=timezone.now() - timedelta(seconds=1))
    fake.script(error(503))
    generation = _run_until_settled(gemini())
    assert generation.status == "succeeded" and generation.used_provider == "demo"
    assert Breaker.objects.get(scope=demo).state == "closed"


def test_a_set_aside_key_is_tried_again_after_a_while(fake, gemini, settings):
    # A 401/403 can pass (billing re-enabled, API switched on): a set-aside key
    # comes back on its own after KEY_SET_ASIDE_SECONDS instead of never.
    settings.KEY_SET_ASIDE_SECONDS = 600
    aside = SetAsideKey.objects.create(provider="gemini", fingerprint=keys.fingerprint(KEY), index=1, status=403)
    assert dispatch.run(gemini().pk) == "failed", "still set aside"
    SetAsideKey.objects.filter(pk=aside.pk).update(set_aside_at=timezone.now() - timedelta(seconds=601))
    assert dispatch.run(gemini().pk) == "succeeded"
    # Refused again: set aside again from now.
    fake.api_key = "another-key"
    _run_until_settled(gemini())
    assert SetAsideKey.objects.get().set_aside_at > timezone.now() - timedelta(seconds=60)


def _ledger(generation: Generation) -> list[tuple[str, str]]:
    from spend.models import SpendEntry

    return [(e.kind, str(e.amount)) for e in SpendEntry.objects.filter(generation=generation).order_by("pk")]


def test_a_dearer_fallback_reserves_the_difference_and_settles_exactly(fake, gemini, settings, user):
    from decimal import Decimal

    from spend.budgets import tightest
    from spend.models import Budget

    Budget.objects.create(user=user, period="month", amount=Decimal("5"))
    settings.GENERATION_MAX_ATTEMPTS = 1
    settings.FALLBACKS = {"gemini-3.1-flash-image-preview": ["gemini:gemini-3-pro-image-preview"]}
    fake.script(error(503))
    generation = gemini(model="gemini-3.1-flash-image-preview")
    first_estimate = generation.estimated_cost
    _due_now(generation)
    assert dispatch.run(generation.pk) == "queued"  # switched to the Pro fallback
    generation.refresh_from_db()
    assert generation.estimated_cost > first_estimate
    # While it waits, the budget already counts the dearer route.
    assert tightest(user.pk).used == generation.estimated_cost
    generation = _run_until_settled(generation)
    assert generation.status == "succeeded"
    kinds = [k for k, _ in _ledger(generation)]
    assert kinds == ["reserve", "reserve", "release", "settle"]
    assert tightest(user.pk).used == generation.actual_cost


def test_a_fallback_that_no_longer_fits_fails_and_releases_everything(fake, gemini, settings, user, monkeypatch):
    from decimal import Decimal

    from generator import fallbacks
    from spend.budgets import tightest
    from spend.models import Budget

    budget = Budget.objects.create(user=user, period="month", amount=Decimal("5"))
    settings.GENERATION_MAX_ATTEMPTS = 1
    settings.FALLBACKS = {"gemini-3.1-flash-image-preview": ["gemini:gemini-3-pro-image-preview"]}
    fake.script(error(503))
    generation = gemini(model="gemini-3.1-flash-image-preview")
    # Between the unlocked check and the switch, someone else used up the budget.
    choose = fallbacks.next_route

    def then_budget_shrinks(*args, **kwargs):
        found = choose(*args, **kwargs)
        Budget.objects.filter(pk=budget.pk).update(amount=generation.estimated_cost)
        return found

    monkeypatch.setattr(fallbacks, "next_route", then_budget_shrinks)
    _due_now(generation)
    assert dispatch.run(generation.pk) == "failed"
    generation.refresh_from_db()
    assert "no longer fits the budget" in generation.error_message
    assert generation.estimated_cost == tightest(user.pk).amount
    assert [k for k, _ in _ledger(generation)] == ["reserve", "release"]
    assert tightest(user.pk).used == 0
