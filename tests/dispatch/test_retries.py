"""Rule 1: what is retried, how long it waits, and what is recorded."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from generator import dispatch
from generator.models import Generation
from tests.fakes.gemini import error, hang, truncated

pytestmark = pytest.mark.django_db

RETRYABLE = {
    "429 with RetryInfo": error(429, retry_delay="2s"),
    "408": error(408),
    "500": error(500),
    "502": error(502),
    "503": error(503),
    "504": error(504),
    "read timeout": hang(2.0),
    "truncated body": truncated(),
}
FINAL = {
    "400": (error(400, "Unsupported aspect ratio"), "failed"),
    "401": (error(401), "failed"),
    "403": (error(403), "failed"),
    "404": (error(404), "failed"),
}


def _due_now(generation: Generation) -> None:
    Generation.objects.filter(pk=generation.pk).update(next_attempt_at=timezone.now())


@pytest.mark.parametrize("name", list(RETRYABLE))
def test_retryable_answers_are_retried_and_then_succeed(name, fake, gemini):
    fake.script(RETRYABLE[name])
    generation = gemini()
    assert dispatch.run(generation.pk) == Generation.Status.QUEUED
    generation.refresh_from_db()
    assert generation.attempts == 1 and generation.next_attempt_at > timezone.now() - timedelta(seconds=1)
    [entry] = generation.attempt_log
    assert entry["outcome"] == "retry" and entry["error"] and entry["wait"] >= 0
    _due_now(generation)
    assert dispatch.run(generation.pk) == Generation.Status.SUCCEEDED
    generation.refresh_from_db()
    assert generation.attempts == 2 == len(fake.requests)
    assert generation.images.count() == 1


@pytest.mark.parametrize("name", list(FINAL))
def test_permanent_answers_are_not_retried(name, fake, gemini):
    behaviour, status = FINAL[name]
    fake.script(behaviour)
    generation = gemini()
    assert dispatch.run(generation.pk) == status
    generation.refresh_from_db()
    assert generation.attempts == 1 and len(fake.requests) == 1
    assert generation.attempt_log[-1]["outcome"] == status


def test_safety_block_is_not_retried(fake, gemini):
    from tests.fakes.gemini import blocked

    fake.script(blocked("IMAGE_SAFETY"))
    generation = gemini()
    assert dispatch.run(generation.pk) == Generation.Status.BLOCKED
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "behaviour, at_least",
    [
        (error(429, retry_delay="45.837906927s"), 45.8),  # Google's RetryInfo in the error details
        (error(503, headers={"Retry-After": "30"}), 30.0),  # a relay's Retry-After header
    ],
)
def test_the_providers_own_wait_is_honoured(behaviour, at_least, fake, gemini):
    fake.script(behaviour)
    generation = gemini()
    before = timezone.now()
    dispatch.run(generation.pk)
    generation.refresh_from_db()
    assert generation.attempt_log[0]["wait"] >= at_least
    assert generation.next_attempt_at >= before + timedelta(seconds=at_least)
    # Not due yet: a run now does nothing and sends nothing.
    assert dispatch.run(generation.pk) is None and len(fake.requests) == 1


def test_backoff_is_full_jitter_with_a_cap():
    waits = [dispatch.backoff_seconds(attempt, None) for attempt in range(1, 12) for _ in range(50)]
    assert all(0 <= w <= dispatch.BACKOFF_CAP_SECONDS for w in waits)
    assert max(dispatch.backoff_seconds(2, None) for _ in range(200)) <= 4.0
    assert len({round(w, 3) for w in waits}) > 100  # jittered, not fixed steps
    assert dispatch.backoff_seconds(1, 300.0) == 300.0  # the provider's wait wins


def test_gives_up_after_the_maximum_and_says_so(fake, gemini, settings):
    settings.GENERATION_MAX_ATTEMPTS = 3
    fake.script(error(503), error(503), error(503))
    generation = gemini()
    for _ in range(3):
        dispatch.run(generation.pk)
        _due_now(generation)
    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED
    assert generation.attempts == 3 == len(fake.requests)
    assert "gave up after 3 attempts" in generation.error_message
    assert [e["outcome"] for e in generation.attempt_log] == ["retry", "retry", "failed"]


def test_attempts_errors_and_waits_are_on_the_page_and_in_the_cli_json(fake, gemini, alice_client, capsys):
    fake.script(error(429, retry_delay="3s"), error(503))
    generation = gemini()
    dispatch.run(generation.pk)
    _due_now(generation)
    dispatch.run(generation.pk)
    _due_now(generation)
    dispatch.run(generation.pk)
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "Attempt log" in page and "answered 429" in page and "answered 503" in page
    assert "3.0 s" in page or "3 s" in page
    generation.refresh_from_db()
    out = StringIO()
    from generator.management.commands.generate import generation_json

    out.write(json.dumps(generation_json(generation)))
    assert json.loads(out.getvalue())["attempts"] == 3 == len(fake.requests)


def test_cli_attempts_count_real_calls(fake, admin_user, settings, monkeypatch):
    monkeypatch.setattr(dispatch, "BACKOFF_BASE_SECONDS", 0.05)
    fake.script(error(503))
    settings.GENERATION_MAX_ATTEMPTS = 5
    out = StringIO()
    call_command(
        "generate", "a kite", "--provider", "gemini", "--model", "gemini-3-pro-image-preview",
        "--user", "admin", "--wait", "--json", "--timeout", "20", stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["attempts"] == 2 == len(fake.requests)
