"""The official google-genai SDK, pointed at the fake, parses everything the fake sends.

This keeps the fake faithful to Google's format: if the fake drifted, the SDK (which
Google keeps in step with the real API) would fail to read it.
"""

from __future__ import annotations

import base64

import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.gemini import FakeGemini, blocked, error, ok

from .helpers import KEY, png, size_of


@pytest.fixture
def fake():
    with FakeGemini(api_key=KEY) as server:
        yield server


def client(fake, version: str = "v1beta") -> genai.Client:
    options = types.HttpOptions(
        base_url=fake.url, api_version=version, timeout=10_000, retry_options=types.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=KEY, http_options=options)


def generate(
    fake, model: str = "gemini-3-pro-image-preview", version: str = "v1beta", contents=None, image_config=None
):
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=image_config or types.ImageConfig(aspect_ratio="16:9", image_size="2K"),
    )
    sdk = client(fake, version)  # keep a reference: a collected Client closes its connection
    return sdk.models.generate_content(model=model, contents=contents or "a banana", config=config)


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_sdk_reads_a_success_with_thoughts(fake, version):
    response = generate(fake, version=version)
    sent = fake.last
    assert sent.path == f"/{version}/models/gemini-3-pro-image-preview:generateContent"
    assert sent.auth == "x-goog-api-key"
    parts = response.candidates[0].content.parts
    assert [bool(p.thought) for p in parts] == [True, True, False, False]
    assert parts[1].inline_data.data == sent.thought_images[0]
    final = parts[3]
    assert final.inline_data.data == sent.images[0] and final.inline_data.mime_type == "image/png"
    assert size_of(final.inline_data.data) == (2752, 1536)
    assert final.thought_signature == base64.b64decode(sent.signature)
    assert parts[2].text == "Here is your image."
    assert parts[2].thought_signature and parts[2].thought_signature != final.thought_signature
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.candidates_token_count == 1120 and usage.thoughts_token_count == 217
    assert usage.candidates_tokens_details[0].modality == types.MediaModality.IMAGE
    assert response.model_version == "gemini-3-pro-image-preview" and response.response_id


def test_sdk_request_with_reference_uses_forms_the_fake_accepts(fake):
    contents = [types.Part.from_bytes(data=png(), mime_type="image/png"), "put this in a kitchen"]
    response = generate(fake, contents=contents)
    assert fake.last.references == [(64, 48)]
    assert response.candidates[0].content.parts[-1].inline_data.data == fake.last.images[0]


def test_sdk_reads_flash_25_without_size_and_jpeg(fake):
    fake.script(ok(mime="image/jpeg"))
    response = generate(fake, model="gemini-2.5-flash-image", image_config=types.ImageConfig(aspect_ratio="9:16"))
    parts = response.candidates[0].content.parts
    assert not any(p.thought for p in parts)
    assert parts[-1].inline_data.mime_type == "image/jpeg"
    assert size_of(parts[-1].inline_data.data) == (768, 1344)


def test_sdk_reads_a_prompt_block(fake):
    fake.script(blocked("PROHIBITED_CONTENT", where="prompt"))
    response = generate(fake)
    assert response.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    assert not response.candidates


@pytest.mark.parametrize(
    ("reason", "where"),
    [
        ("IMAGE_SAFETY", "finish"),
        ("SAFETY", "no_content"),
        ("NO_IMAGE", "finish"),
        ("IMAGE_OTHER", "finish"),
        ("STOP", "text"),
    ],
)
def test_sdk_reads_blocked_candidates(fake, reason, where):
    fake.script(blocked(reason, where=where))
    response = generate(fake)
    candidate = response.candidates[0]
    assert candidate.finish_reason == types.FinishReason(reason)
    assert not any(p.inline_data for p in (candidate.content.parts or [])) if candidate.content else True
    assert response.usage_metadata.prompt_token_count == 2


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, errors.ClientError),
        (403, errors.ClientError),
        (404, errors.ClientError),
        (429, errors.ClientError),
        (500, errors.ServerError),
        (503, errors.ServerError),
    ],
)
def test_sdk_reads_error_bodies(fake, status, kind):
    fake.script(error(status, retry_delay="45.837906927s" if status == 429 else None))
    with pytest.raises(kind) as caught:
        generate(fake)
    assert caught.value.code == status
    assert caught.value.status and caught.value.message
    if status == 429:
        details = caught.value.details["error"]["details"]
        assert details[-1]["retryDelay"] == "45.837906927s"


def test_sdk_with_a_wrong_key_gets_api_key_invalid(fake):
    options = types.HttpOptions(base_url=fake.url, retry_options=types.HttpRetryOptions(attempts=1))
    sdk = genai.Client(api_key="wrong", http_options=options)
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.generate_content(model="gemini-3-pro-image-preview", contents="x")
    assert caught.value.code == 400 and "API key not valid" in caught.value.message
