from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from generator.models import Generation

from .conftest import png_bytes

pytestmark = pytest.mark.django_db


def run_cli(*args: str) -> dict:
    out = StringIO()
    call_command("generate", *args, stdout=out)
    return json.loads(out.getvalue())


def test_generate_prints_one_json_object_with_the_stored_image(admin_user):
    result = run_cli(
        "a red bicycle",
        "--model",
        "gemini-3-pro-image-preview",
        "--aspect-ratio",
        "16:9",
        "--size",
        "2K",
        "--user",
        "admin",
        "--wait",
        "--json",
    )
    assert result["status"] == "succeeded"
    assert result["provider"] == "demo" and result["model"] == "gemini-3-pro-image-preview"
    assert result["attempts"] == 1
    assert result["estimated_cost"] == "0.000000" and result["actual_cost"] == "0.000000"
    assert result["error"] is None
    [image] = result["images"]
    assert (image["width"], image["height"]) == (2752, 1536)
    path = Path(image["path"])
    assert path.is_absolute() and path.is_file()
    with PILImage.open(path) as img:
        assert img.size == (2752, 1536)
    assert Generation.objects.get(pk=result["id"]).user == admin_user


def test_generate_with_style_preset_n_and_refs(admin_user, tmp_path):
    ref = tmp_path / "cat.png"
    ref.write_bytes(png_bytes())
    result = run_cli(
        "a cat in a kitchen",
        "--model",
        "gemini-3.1-flash-image-preview",
        "--preset",
        "phone-wallpaper",
        "--style",
        "watercolor",
        "--aspect-ratio",
        "9:16",
        "--size",
        "512",
        "--n",
        "2",
        "--ref",
        str(ref),
        "--wait",
        "--json",
    )
    assert result["status"] == "succeeded"
    assert [(i["width"], i["height"]) for i in result["images"]] == [(384, 688), (384, 688)]
    generation = Generation.objects.get(pk=result["id"])
    assert generation.references.count() == 1
    assert "watercolor painting" in generation.full_prompt and "phone wallpaper" in generation.full_prompt


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--aspect-ratio", "7:3"], "--aspect-ratio: Nano Banana Pro does not support aspect ratio 7:3"),
        (["x", "--size", "512"], "--size: Nano Banana Pro does not support size 512"),
        (["x", "--model", "nope"], "--model: no active model 'nope'; choose one of gemini-3-pro-image-preview"),
        (["x", "--provider", "gemini"], "--provider: no configured provider 'gemini'; choose one of demo"),
        (["x", "--style", "nope"], "--style: no active style 'nope'; choose one of .*watercolor"),
        (["x", "--preset", "nope"], "--preset: no active use-case preset 'nope'; choose one of .*phone-wallpaper"),
        (["x", "--ref", __file__], "--ref: test_cli.py is not an image"),
        (["x", "--wait", "--timeout", "0"], "--timeout: 0 s; give a number of seconds above 0"),
        (["x", "--n", "9"], "--n: Ensure this value is less than or equal to 4"),
        (["x", "--ref", "/no/such/file.png"], "--ref /no/such/file.png: no such file"),
        (["x", "--user", "nobody"], "No user named 'nobody'"),
        (["", "--model", "gemini-3-pro-image-preview"], "--prompt: Write a prompt first."),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(admin_user, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command(
            "generate",
            *args,
            "--model" if "--model" not in args else "--json",
            *(["gemini-3-pro-image-preview"] if "--model" not in args else []),
            stdout=StringIO(),
        )
    assert Generation.objects.count() == 0


def test_failed_generation_exits_non_zero(admin_user, monkeypatch):
    from generator import dispatch
    from generator.providers.base import PermanentError

    def refuse(provider, request):
        raise PermanentError("Gemini rejected the request (400): bad aspect ratio", status=400)

    monkeypatch.setattr(dispatch, "call_provider", refuse)
    with pytest.raises(CommandError, match="failed: Gemini rejected the request"):
        call_command("generate", "x", "--wait", "--json", stdout=StringIO())
    assert Generation.objects.get().status == "failed"


def test_ensure_admin_prints_the_url_it_is_given(db):
    out = StringIO()
    call_command("ensure_admin", "--url", "http://127.0.0.1:8041/", stdout=out)
    call_command("ensure_admin", "--url", "http://127.0.0.1:8041/", stdout=out)
    assert "8000" not in out.getvalue()
    assert out.getvalue().count("Log in at http://127.0.0.1:8041/") == 2


def test_generate_batch_reads_prompts_from_stdin(admin_user, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"# prompts\na cat\n\na dog\n")))
    out = StringIO()
    call_command("generate_batch", "-", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["total"] == 2
    assert [g.prompt for g in Generation.objects.order_by("id")] == ["a cat", "a dog"]


def test_generate_batch_names_the_valid_styles_for_a_bad_row(admin_user, tmp_path):
    csv_file = tmp_path / "prompts.csv"
    csv_file.write_text("prompt,style\na cat,\na dog,nope\n")
    with pytest.raises(CommandError, match="Line 3: style: no active style 'nope'; choose one of .*watercolor"):
        call_command("generate_batch", str(csv_file), stdout=StringIO())
    assert Generation.objects.count() == 0
