"""Shared fixtures.

Transactional tests (threads, live_server) must ask for serialized_rollback
(`@pytest.mark.django_db(transaction=True, serialized_rollback=True)`, or the
`django_db_serialized_rollback` fixture): their flush would otherwise delete the
seeded presets, models and prices that every later test relies on.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from generator.models import Generation, ModelCapability


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="wonderland-42")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", password="builder-42")


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client


def png_bytes(width: int = 64, height: int = 48, colour=(200, 30, 30), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(out, format=fmt)
    return out.getvalue()


def upload(name: str = "ref.png", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes() if data is None else data)


def form_data(**overrides) -> dict:
    data = {
        "prompt": "a red bicycle leaning on a wall",
        "provider": "demo",
        "model": "gemini-3-pro-image-preview",
        "aspect_ratio": "16:9",
        "size": "1K",
        "n": 1,
        "style": "",
        "preset": "",
        "visibility": "team",
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_generation(db, user):
    """Submit a generation through the real form and submit path, then run it."""
    from generator import dispatch, generations
    from generator.forms import GenerationForm

    def make(run: bool = True, owner=None, files=None, **overrides) -> Generation:
        owner = owner or user
        form = GenerationForm(form_data(**overrides), files or {}, user=owner)
        assert form.is_valid(), form.errors
        generation = generations.submit(owner, form.cleaned_data)
        if run:
            dispatch.run(generation.pk)
        generation.refresh_from_db()
        return generation

    return make


@pytest.fixture
def pro_model(db) -> ModelCapability:
    return ModelCapability.objects.get(model_id="gemini-3-pro-image-preview")
