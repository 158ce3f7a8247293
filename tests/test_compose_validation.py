"""Bad input gets a clear error and changes nothing: no rows, no files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from PIL import Image as PILImage

from generator.forms import GenerationForm
from generator.models import Generation, ReferenceImage
from spend.models import SpendEntry

from .conftest import form_data, png_bytes, upload

pytestmark = pytest.mark.django_db


def media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def assert_nothing_created(before: set[Path]) -> None:
    assert Generation.objects.count() == 0
    assert ReferenceImage.objects.count() == 0
    assert SpendEntry.objects.count() == 0
    assert media_files() == before


def big_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("1", (width, height)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("overrides", "files", "field", "message"),
    [
        ({"prompt": ""}, [], "prompt", "Write a prompt first."),
        ({"prompt": "   "}, [], "prompt", "Write a prompt first."),
        ({"prompt": "x" * 8001}, [], "prompt", "8001 characters; the limit is 8000"),
        ({"aspect_ratio": "1:8"}, [], "aspect_ratio", "does not support aspect ratio 1:8"),
        ({"size": "512"}, [], "size", "does not support size 512"),
        ({"model": "gemini-2.5-flash-image", "size": "2K"}, [], "size", "does not support size 2K"),
        (
            {"model": "no-such-model"},
            [],
            "model",
            "no active model 'no-such-model'; choose one of gemini-3-pro-image-preview",
        ),
        ({"n": 5}, [], "n", "less than or equal to 4"),
        ({"n": 0}, [], "n", "greater than or equal to 1"),
        ({"provider": "gemini"}, [], "provider", "no configured provider 'gemini'; choose one of demo"),
        ({"style": "nope"}, [], "style", "no active style 'nope'; choose one of "),
        ({"preset": "nope"}, [], "preset", "no active use-case preset 'nope'; choose one of "),
        ({"model": "gemini-2.5-flash-image"}, [upload(f"r{i}.png") for i in range(4)], "references", "at most 3"),
        ({}, [upload("notes.png", b"this is not an image")], "references", "not an image"),
        ({}, [upload("cut.png", png_bytes()[:60])], "references", "corrupt or truncated"),
        ({}, [upload("huge.png", b"\x89PNG" + b"0" * (20 * 1024 * 1024 + 1))], "references", "the limit is 20 MB"),
        ({}, [upload("wide.png", big_png(10_000, 5_001))], "references", "the limit is 50 megapixels"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_nothing_is_stored(alice_client, overrides, files, field, message):
    before = media_files()
    data = form_data(**overrides)
    if files:
        data["references"] = files
    response = alice_client.post(reverse("generator:compose"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert message.split(";")[0] in response.content.decode().replace("&#x27;", "'")
    assert_nothing_created(before)


def test_form_accepts_a_valid_request_with_references(user):
    form = GenerationForm(
        form_data(),
        MultiValueDict({"references": [upload("a.png"), upload("b.jpg", png_bytes(fmt="JPEG"))]}),
        user=user,
    )
    assert form.is_valid(), form.errors
    refs = form.cleaned_data["references"]
    assert [r.mime_type for r in refs] == ["image/png", "image/jpeg"]
    assert (refs[0].width, refs[0].height) == (64, 48)


def test_preset_brings_its_style(user):
    form = GenerationForm(form_data(preset="ecommerce-product", aspect_ratio="1:1", size="2K"), user=user)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["style"].slug == "product-photo"
