"""Claim -> call -> store -> settle with the demo provider."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from PIL import Image as PILImage

from generator import dispatch
from generator.models import Generation, Image

from .conftest import png_bytes, upload

pytestmark = pytest.mark.django_db


def test_demo_generation_stores_exact_pixels_and_thumbnail(make_generation):
    generation = make_generation(size="2K", aspect_ratio="16:9", n=2)
    assert generation.status == Generation.Status.SUCCEEDED
    assert generation.attempts == 1
    images = list(generation.images.order_by("index"))
    assert [(i.width, i.height) for i in images] == [(2752, 1536), (2752, 1536)]
    for image in images:
        data = default_storage.open(image.file.name).read()
        assert hashlib.sha256(data).hexdigest() == image.sha256
        assert image.file.name.endswith(f"{image.sha256}.png")
        with default_storage.open(image.thumbnail.name) as fh, PILImage.open(fh) as thumb:
            assert thumb.format == "WEBP"
            assert max(thumb.size) == 512
    assert images[0].sha256 != images[1].sha256, "each image of a generation differs"
    assert generation.actual_cost == 0 and generation.used_provider == "demo"


def test_demo_is_deterministic_for_prompt_and_seed(make_generation):
    a = make_generation(seed=7).images.get()
    b = make_generation(seed=7).images.get()
    c = make_generation(seed=8).images.get()
    assert a.sha256 == b.sha256
    assert a.sha256 != c.sha256


def test_demo_uses_reference_images_visibly(make_generation):
    plain = make_generation(seed=1).images.get()
    red = make_generation(
        seed=1, files=MultiValueDict({"references": [upload("red.png", png_bytes(colour=(255, 0, 0)))]})
    )
    with_ref = red.images.get()
    assert with_ref.sha256 != plain.sha256
    assert red.references.count() == 1
    with default_storage.open(with_ref.file.name) as fh, PILImage.open(fh) as img:
        # The reference is pasted as a tile at the bottom left: red pixels appear there.
        w, h = img.size
        region = img.convert("RGB").crop((0, h * 2 // 3, w // 2, h))
        assert (255, 0, 0) in {c for _, c in region.getcolors(1 << 20)}


def test_a_job_is_claimed_once(make_generation):
    generation = make_generation(run=False)
    assert dispatch.claim(generation.pk, "w1") is not None
    assert dispatch.claim(generation.pk, "w2") is None
    assert Generation.objects.get(pk=generation.pk).worker == "w1"


def test_running_twice_stores_images_once(make_generation):
    generation = make_generation()
    assert dispatch.run(generation.pk) is None
    assert Image.objects.filter(generation=generation).count() == 1


def test_lost_lease_discards_the_late_result(make_generation, monkeypatch):
    generation = make_generation(run=False)
    original = dispatch.call_provider

    def slow_then_swept(provider, request):
        result = original(provider, request)
        # Meanwhile the sweeper decided this worker was dead and another took the job.
        Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert dispatch.sweep()["requeued"] == 1
        return result

    monkeypatch.setattr(dispatch, "call_provider", slow_then_swept)
    assert dispatch.run(generation.pk) is None
    generation.refresh_from_db()
    assert generation.status == Generation.Status.QUEUED
    assert generation.images.count() == 0
    monkeypatch.setattr(dispatch, "call_provider", original)
    assert dispatch.run(generation.pk) == Generation.Status.SUCCEEDED
    generation.refresh_from_db()
    assert generation.attempts == 2
    assert generation.images.count() == 1
    assert [e["outcome"] for e in generation.attempt_log] == ["lease expired", "succeeded"]


def test_sweeper_requeues_only_expired_leases(make_generation):
    live = make_generation(run=False)
    dead = make_generation(run=False)
    dispatch.claim(live.pk, "alive")
    dispatch.claim(dead.pk, "dead")
    Generation.objects.filter(pk=dead.pk).update(lease_until=timezone.now() - timedelta(seconds=5))
    assert dispatch.sweep()["requeued"] == 1
    assert Generation.objects.get(pk=live.pk).status == "running"
    assert Generation.objects.get(pk=dead.pk).status == "queued"


def test_cancel_a_queued_job(make_generation):
    generation = make_generation(run=False)
    assert dispatch.cancel(generation)
    generation.refresh_from_db()
    assert generation.status == Generation.Status.CANCELED
    assert dispatch.run(generation.pk) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_claims_have_one_winner(make_generation):
    generation = make_generation(run=False)
    winners: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(8)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            if dispatch.claim(generation.pk, name):
                winners.append(name)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(winners) == 1
    assert Generation.objects.get(pk=generation.pk).attempts == 1
