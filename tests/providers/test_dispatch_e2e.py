"""End to end: a Generation row -> dispatch.run -> a fake provider over HTTP -> stored outcome."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from generator import dispatch
from generator.models import Generation, SetAsideKey
from spend import pricing
from tests.conftest import upload
from tests.fakes.gemini import blocked, error, ok

from .helpers import KEY, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def gemini_env(fake_gemini, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_BASE_URL", fake_gemini.url)
    return fake_gemini


def stored_bytes(image) -> bytes:
    with default_storage.open(image.file.name, "rb") as fh:
        return fh.read()


def test_gemini_success_stores_exactly_the_final_image(gemini_env, make_generation):
    fake = gemini_env
    generation = make_generation(
        provider="gemini",
        model="gemini-3-pro-image-preview",
        aspect_ratio="16:9",
        size="2K",
        files={"references": [upload()]},
    )
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    sent = fake.last
    assert sent.references == [(64, 48)]
    [image] = generation.images.all()
    assert stored_bytes(image) == sent.images[0]
    assert (image.width, image.height) == (2752, 1536) and not image.ratio_mismatch
    assert image.mime_type == "image/png"
    assert image.thought_signature == sent.signature != ""
    assert generation.text_reply == "Here is your image."
    text_tokens = len(generation.full_prompt) // 4
    assert generation.usage == {
        "promptTokenCount": text_tokens + 560,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": text_tokens},
            {"modality": "IMAGE", "tokenCount": 560},
        ],
        "candidatesTokenCount": 1120,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
        "thoughtsTokenCount": 217,
        "totalTokenCount": text_tokens + 560 + 1120 + 217,
    }
    assert generation.response_id.startswith("fake-") and generation.finish_reason == "STOP"
    assert generation.used_provider == "gemini"
    assert generation.actual_cost == pricing.cost_from_usage("gemini-3-pro-image-preview", generation.usage) > 0


def test_gemini_n2_stores_both_images(gemini_env, make_generation):
    generation = make_generation(
        provider="gemini", model="gemini-3.1-flash-image-preview", aspect_ratio="1:1", size="512", n=2
    )
    images = list(generation.images.order_by("index"))
    assert [stored_bytes(img) for img in images] == [r.images[0] for r in gemini_env.requests]
    assert all((img.width, img.height) == (512, 512) for img in images)
    assert generation.usage["candidatesTokenCount"] == 2 * 747


def test_gemini_blocked_is_stored_as_blocked_in_words(gemini_env, make_generation):
    gemini_env.script(blocked("IMAGE_SAFETY"))
    generation = make_generation(provider="gemini", model="gemini-3-pro-image-preview")
    assert generation.status == Generation.Status.BLOCKED
    assert generation.error_code == "IMAGE_SAFETY"
    assert "flagged by the safety filters" in generation.error_message
    assert generation.usage["promptTokenCount"] > 0
    assert not generation.images.exists()


def test_gemini_prompt_block(gemini_env, make_generation):
    gemini_env.script(blocked("PROHIBITED_CONTENT", where="prompt"))
    generation = make_generation(provider="gemini", model="gemini-3-pro-image-preview")
    assert generation.status == Generation.Status.BLOCKED
    assert "prohibited content" in generation.error_message


def test_gemini_403_fails_with_the_hint(gemini_env, make_generation):
    gemini_env.script(error(403))
    generation = make_generation(provider="gemini", model="gemini-3-pro-image-preview")
    assert generation.status == Generation.Status.FAILED
    assert generation.error_code == "auth"
    assert "rejected the key (403)" in generation.error_message
    assert "check GEMINI_API_KEY" in generation.error_message


def test_gemini_429_is_requeued_after_the_retry_delay(gemini_env, make_generation):
    gemini_env.script(error(429, retry_delay="53s"))
    before = timezone.now()
    generation = make_generation(provider="gemini", model="gemini-3-pro-image-preview")
    assert generation.status == Generation.Status.QUEUED
    assert generation.error_code == "rate_limited"
    assert generation.next_attempt_at >= before + timedelta(seconds=53)


def test_relay_that_ignores_the_ratio_is_flagged(fake_images, monkeypatch, make_generation):
    monkeypatch.setenv("OPENAI_IMAGES_BASE_URL", fake_images.url)
    monkeypatch.setenv("OPENAI_IMAGES_API_KEY", KEY)
    fake_images.script(ok(ratio_ignored=True))
    generation = make_generation(
        provider="openai_images", model="gemini-3-pro-image-preview", aspect_ratio="16:9", size="1K"
    )
    assert generation.status == Generation.Status.SUCCEEDED
    assert fake_images.last.body["size"] == "1376x768"
    [image] = generation.images.all()
    assert (image.width, image.height) == (1024, 1024)
    assert image.ratio_mismatch and generation.error_code == "ratio_mismatch"
    assert stored_bytes(image) == fake_images.last.images[0]


def test_chat_relay_success(fake_chat, monkeypatch, make_generation):
    monkeypatch.setenv("OPENAI_CHAT_BASE_URL", fake_chat.url)
    monkeypatch.setenv("OPENAI_CHAT_API_KEY", KEY)
    fake_chat.script(ok(where="markdown"))
    generation = make_generation(provider="openai_chat", model="gemini-2.5-flash-image", aspect_ratio="4:5", size="1K")
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    [image] = generation.images.all()
    assert stored_bytes(image) == fake_chat.last.images[0]
    assert (image.width, image.height) == (896, 1152)
    assert "image_size" not in fake_chat.last.body["image_config"]  # 2.5 Flash takes no size


def test_key_never_reaches_logs_errors_or_the_database(gemini_env, make_generation, caplog):
    for name in (None, "httpx", "httpcore", "generator"):
        caplog.set_level(logging.DEBUG, logger=name)  # httpx and httpcore log every request at DEBUG
    gemini_env.script(
        ok(),
        error(401, echo_key=True),
        error(400, "bad key", echo_key=True),
        error(503, echo_key=True),
        blocked("SAFETY", where="text", text=f"you sent {KEY}"),
    )
    rows = []
    for _ in range(5):
        rows.append(make_generation(provider="gemini", model="gemini-3-pro-image-preview"))
        SetAsideKey.objects.all().delete()  # the 401 sets the only key aside; bring it back
    assert [r.status for r in rows] == ["succeeded", "failed", "failed", "queued", "blocked"]
    assert any(r.headers.get("x-goog-api-key") == KEY for r in gemini_env.requests)  # it was really sent
    assert "HTTP Request: POST" in caplog.text  # the client's own logging was captured
    assert KEY not in caplog.text
    for row in Generation.objects.all():
        dumped = json.dumps({f.name: str(getattr(row, f.name)) for f in row._meta.concrete_fields})
        assert KEY not in dumped, dumped
    assert "***" in rows[1].error_message


def test_cli_generate_wait_json_against_the_fake(gemini_env, admin_user, tmp_path):
    ref = tmp_path / "ref.png"
    ref.write_bytes(png())
    out = StringIO()
    call_command(
        "generate",
        "a banana on the moon",
        "--provider",
        "gemini",
        "--model",
        "gemini-3-pro-image-preview",
        "--aspect-ratio",
        "9:16",
        "--size",
        "1K",
        "--ref",
        str(ref),
        "--user",
        "admin",
        "--wait",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert result["status"] == "succeeded" and result["provider"] == "gemini"
    [image] = result["images"]
    assert (image["width"], image["height"]) == (768, 1376)
    assert Path(image["path"]).read_bytes() == gemini_env.last.images[0]
    assert float(result["actual_cost"]) > 0


def test_cli_reports_a_block(gemini_env, admin_user):
    gemini_env.script(blocked("IMAGE_SAFETY"))
    with pytest.raises(CommandError) as caught:
        call_command(
            "generate",
            "x",
            "--provider",
            "gemini",
            "--model",
            "gemini-3-pro-image-preview",
            "--user",
            "admin",
            "--wait",
            "--json",
            stdout=StringIO(),
        )
    assert "blocked" in str(caught.value) and "safety filters" in str(caught.value)


def test_dispatch_run_directly(gemini_env, user):
    generation = Generation.objects.create(
        user=user,
        prompt="p",
        full_prompt="a banana",
        provider="gemini",
        model="gemini-2.5-flash-image",
        aspect_ratio="3:4",
        size="1K",
    )
    assert dispatch.run(generation.pk) == Generation.Status.SUCCEEDED
    image = generation.images.get()
    assert (image.width, image.height) == (864, 1184)
    assert "imageSize" not in gemini_env.last.body["generationConfig"]["imageConfig"]


def _paid_relay(monkeypatch, fake_images, charge_failures: bool) -> None:
    from decimal import Decimal

    from spend.models import CallPrice

    monkeypatch.setenv(
        "PROVIDERS_JSON",
        json.dumps(
            [
                {
                    "name": "paidrelay",
                    "protocol": "openai_images",
                    "base_url": fake_images.url,
                    "key_env": "PAID_KEY",
                    "billing": "per_call",
                    "charge_failures": charge_failures,
                }
            ]
        ),
    )
    monkeypatch.setenv("PAID_KEY", KEY)
    CallPrice.objects.create(provider="paidrelay", price_per_image=Decimal("0.04"))


@pytest.mark.parametrize(("charge_failures", "expected"), [(True, "0.080000"), (False, "0.000000")])
def test_a_relay_that_bills_refusals_charges_its_call_price(
    fake_images, monkeypatch, make_generation, charge_failures, expected
):
    from spend.models import SpendEntry

    _paid_relay(monkeypatch, fake_images, charge_failures)
    fake_images.script(blocked())
    generation = make_generation(provider="paidrelay", model="gemini-3-pro-image-preview", n=2)
    assert generation.status == Generation.Status.BLOCKED
    assert str(generation.actual_cost) == expected
    assert sum(e.amount for e in SpendEntry.objects.filter(generation=generation)) == generation.actual_cost


def test_http_errors_are_never_billed_even_by_relays_that_bill_refusals(fake_images, monkeypatch, make_generation):
    from tests.fakes.openai_images import error as relay_error

    _paid_relay(monkeypatch, fake_images, True)
    fake_images.script(relay_error(400))
    generation = make_generation(provider="paidrelay", model="gemini-3-pro-image-preview")
    assert generation.status == Generation.Status.FAILED
    assert generation.actual_cost == 0
