"""generator.providers.gemini against the fake Gemini server, over real HTTP."""

from __future__ import annotations

import base64
import socket

import httpx
import pytest

from generator.providers import gemini, http
from generator.providers.base import (
    AuthError,
    BlockedError,
    PermanentError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryableError,
)
from tests.fakes.base import Reply
from tests.fakes.gemini import blocked, error, garbage, google_error, hang, ok, raw, truncated

from .helpers import KEY, config_for, make_request, reference, size_of


def call(fake, request=None, key=KEY, **config):
    return gemini.generate(config_for(fake, "gemini", **config), request or make_request(), key)


def test_success_keeps_the_final_image_text_signature_and_usage(fake_gemini):
    result = call(fake_gemini)
    sent = fake_gemini.last
    assert len(result.images) == 1
    image = result.images[0]
    assert image.data == sent.images[0]
    assert image.data not in sent.thought_images and sent.thought_images  # the interim image was dropped
    assert size_of(image.data) == (2752, 1536)
    assert image.mime_type == "image/png"
    assert image.thought_signature == sent.signature != ""
    assert result.text == "Here is your image."  # thought text is not the reply
    assert result.finish_reason == "STOP"
    assert result.usage == {
        "promptTokenCount": 5,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5}],
        "candidatesTokenCount": 1120,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
        "thoughtsTokenCount": 217,
        "totalTokenCount": 1342,
    }
    assert result.model_version == "gemini-3-pro-image-preview"
    assert result.response_id.startswith("fake-")


def test_request_uses_the_documented_wire_form(fake_gemini):
    call(fake_gemini, make_request(references=(reference(), reference((1, 2, 3)))))
    sent = fake_gemini.last
    assert sent.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY and "authorization" not in sent.headers
    parts = sent.body["contents"][0]["parts"]
    assert parts[0] == {"text": "a banana on the moon"}
    assert [set(p["inlineData"]) for p in parts[1:]] == [{"mimeType", "data"}] * 2
    assert base64.b64decode(parts[1]["inlineData"]["data"], validate=True) == reference().data
    config = sent.body["generationConfig"]
    assert config["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert config["responseModalities"] == ["TEXT", "IMAGE"]
    assert sent.references == [(64, 48), (64, 48)]


def test_flash_25_gets_no_image_size(fake_gemini):
    request = make_request(model="gemini-2.5-flash-image", size="1K", aspect_ratio="21:9", send_size=False)
    result = call(fake_gemini, request)
    assert fake_gemini.last.body["generationConfig"]["imageConfig"] == {"aspectRatio": "21:9"}
    assert size_of(result.images[0].data) == (1536, 672)
    assert result.images[0].thought_signature == ""
    assert result.usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 1290}]


@pytest.mark.parametrize(
    ("size", "ratio", "pixels"), [("512", "16:9", (688, 384)), ("4K", "1:8", (1536, 12288)), ("1K", "4:1", (2048, 512))]
)
def test_flash_31_sizes(fake_gemini, size, ratio, pixels):
    result = call(fake_gemini, make_request(model="gemini-3.1-flash-image-preview", size=size, aspect_ratio=ratio))
    assert size_of(result.images[0].data) == pixels


def test_each_image_keeps_its_own_thought_signature(fake_gemini):
    # gemini-3.1 Flash rejects an edit turn whose image lacks its own signature: two images
    # in one reply must each keep theirs, not the text part's nor each other's.
    fake_gemini.script(ok(images=2))
    result = call(fake_gemini, make_request(model="gemini-3.1-flash-image-preview", size="1K", aspect_ratio="1:1"))
    sent = fake_gemini.last
    assert [img.data for img in result.images] == sent.images
    assert [img.thought_signature for img in result.images] == sent.signatures
    assert len(set(sent.signatures)) == 2 and "" not in sent.signatures


def test_bearer_auth_style(fake_gemini):
    call(fake_gemini, auth_style="bearer")
    assert fake_gemini.last.auth == "bearer"
    assert fake_gemini.last.headers["authorization"] == f"Bearer {KEY}"
    assert "x-goog-api-key" not in fake_gemini.last.headers


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_base_url_with_explicit_version(fake_gemini, version):
    result = call(fake_gemini, base_url=f"{fake_gemini.url}/{version}/")
    assert fake_gemini.last.path == f"/{version}/models/gemini-3-pro-image-preview:generateContent"
    assert result.images


def test_model_alias_goes_on_the_wire(fake_gemini):
    call(fake_gemini, model_aliases={"gemini-3-pro-image-preview": "gemini-3-pro-image"})
    assert fake_gemini.last.path.endswith("/models/gemini-3-pro-image:generateContent")


def test_jpeg_and_urlsafe_base64_are_read(fake_gemini):
    fake_gemini.script(ok(mime="image/jpeg", urlsafe=True))
    result = call(fake_gemini)
    assert result.images[0].mime_type == "image/jpeg"
    assert result.images[0].data == fake_gemini.last.images[0]


def test_n_makes_n_calls_and_adds_up_usage(fake_gemini):
    result = call(fake_gemini, make_request(n=3))
    assert len(fake_gemini.requests) == 3
    assert [img.data for img in result.images] == [r.images[0] for r in fake_gemini.requests]
    assert len({img.data for img in result.images}) == 3
    assert result.usage["candidatesTokenCount"] == 3 * 1120
    assert result.usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 3360}]
    assert result.usage["totalTokenCount"] == 3 * 1342
    assert [img.thought_signature for img in result.images] == [r.signature for r in fake_gemini.requests]


def test_n_keeps_paid_images_when_a_later_call_is_blocked(fake_gemini):
    fake_gemini.script(ok(), blocked("IMAGE_SAFETY"))
    result = call(fake_gemini, make_request(n=2))
    assert len(result.images) == 1
    assert "Only 1 of 2 images" in result.text and "IMAGE_SAFETY" in result.text
    assert result.usage["promptTokenCount"] == 10  # both calls' prompts were counted


@pytest.mark.parametrize(
    ("behaviour", "reason", "words"),
    [
        (blocked("PROHIBITED_CONTENT", where="prompt"), "PROHIBITED_CONTENT", "prohibited content"),
        (blocked("SAFETY", where="prompt"), "SAFETY", "safety filters"),
        (blocked("IMAGE_SAFETY"), "IMAGE_SAFETY", "image was flagged"),
        (blocked("IMAGE_PROHIBITED_CONTENT"), "IMAGE_PROHIBITED_CONTENT", "prohibited content"),
        (blocked("NO_IMAGE"), "NO_IMAGE", "no image"),
        (blocked("IMAGE_OTHER"), "IMAGE_OTHER", "could not produce"),
        (blocked("RECITATION", where="no_content"), "RECITATION", "protected material"),
        (blocked("IMAGE_RECITATION"), "IMAGE_RECITATION", "protected material"),
        (blocked("BLOCKLIST"), "BLOCKLIST", "blocked term"),
        (blocked("SPII"), "SPII", "personal information"),
        (blocked("OTHER"), "OTHER", "unspecified"),
        (blocked("STOP", where="text", text="I cannot draw real people."), "NO_IMAGE", "I cannot draw real people"),
        (blocked("STOP", where="empty"), "NO_CANDIDATES", "no result"),
    ],
)
def test_blocked_outcomes(fake_gemini, behaviour, reason, words):
    fake_gemini.script(behaviour)
    with pytest.raises(BlockedError) as caught:
        call(fake_gemini)
    assert caught.value.reason == reason
    assert words in str(caught.value)
    assert caught.value.usage["promptTokenCount"] == 5


@pytest.mark.parametrize(
    ("behaviour", "kind", "hint"),
    [
        (error(400, "Invalid value for imageSize: '2K'."), PermanentError, "imageSize parameter (we sent '2K')"),
        (error(400, "Unsupported aspectRatio: '16:9'."), PermanentError, "aspectRatio parameter (we sent '16:9')"),
        (error(401), AuthError, "check GEMINI_API_KEY"),
        (error(403), AuthError, "check GEMINI_API_KEY"),
        (error(404), PermanentError, "unknown model id 'gemini-3-pro-image-preview'"),
        (error(408), RetryableError, "retried"),
        (error(500), RetryableError, "retried"),
        (error(502), RetryableError, "retried"),
        (error(503), RetryableError, "overloaded"),
        (error(504), RetryableError, "retried"),
    ],
)
def test_http_errors_are_typed_with_hints(fake_gemini, behaviour, kind, hint):
    fake_gemini.script(behaviour)
    with pytest.raises(kind) as caught:
        call(fake_gemini)
    assert type(caught.value) is kind
    assert caught.value.status == behaviour.options["status"]
    assert hint in caught.value.hint
    assert str(behaviour.options["status"]) in str(caught.value)


@pytest.mark.parametrize(("delay", "seconds"), [("53s", 53.0), ("45.837906927s", 45.837906927), ("0.5s", 0.5)])
def test_rate_limit_reads_retry_info(fake_gemini, delay, seconds):
    fake_gemini.script(error(429, retry_delay=delay))
    with pytest.raises(RateLimitedError) as caught:
        call(fake_gemini)
    assert caught.value.retry_after == pytest.approx(seconds)
    assert caught.value.retryable


def test_rate_limit_without_retry_info_is_not_retried(fake_gemini):
    fake_gemini.script(error(429, "Your prepayment credits are depleted."))
    with pytest.raises(QuotaExhaustedError) as caught:
        call(fake_gemini)
    assert not caught.value.retryable
    assert "GEMINI_API_KEY" in caught.value.hint and "billing" in caught.value.hint


def test_wrong_key_is_an_auth_error(fake_gemini):
    with pytest.raises(AuthError) as caught:
        call(fake_gemini, key="not-the-key")
    assert caught.value.status == 400  # Gemini answers a bad key with 400 API_KEY_INVALID
    assert "check GEMINI_API_KEY" in str(caught.value)
    assert "not-the-key" not in str(caught.value)


def test_missing_key_fails_before_calling(fake_gemini):
    with pytest.raises(AuthError) as caught:
        call(fake_gemini, key="")
    assert "set GEMINI_API_KEY" in str(caught.value)
    assert fake_gemini.requests == []


def test_unknown_model_from_the_server(fake_gemini):
    with pytest.raises(PermanentError) as caught:
        call(fake_gemini, make_request(model="gemini-9-ultra"))
    assert caught.value.status == 404
    assert "unknown model id 'gemini-9-ultra'" in caught.value.hint


def test_read_timeout_is_retryable(fake_gemini):
    fake_gemini.script(hang(3))
    with pytest.raises(RetryableError) as caught:
        call(fake_gemini, timeout=0.3)
    assert "read timeout" in str(caught.value)


def test_truncated_body_is_retryable(fake_gemini):
    fake_gemini.script(truncated())
    with pytest.raises(RetryableError):
        call(fake_gemini)


def test_unparseable_body_is_retryable(fake_gemini):
    fake_gemini.script(garbage())
    with pytest.raises(RetryableError) as caught:
        call(fake_gemini)
    assert "unreadable reply" in str(caught.value)


def test_connection_refused_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = config_for(type("F", (), {"url": f"http://127.0.0.1:{port}"})(), "gemini")
    with pytest.raises(RetryableError) as caught:
        gemini.generate(config, make_request(), KEY)
    assert "reachable" in caught.value.hint


@pytest.mark.parametrize(("status", "kind"), [(503, RetryableError), (400, PermanentError)])
def test_error_body_inside_a_200_is_a_typed_error_not_a_block(fake_gemini, status, kind):
    # Native-protocol relays pass an upstream error on with HTTP 200.
    fake_gemini.script(raw(Reply(200, google_error(status, "upstream said no"))))
    with pytest.raises(kind) as caught:
        call(fake_gemini)
    assert type(caught.value) is kind and caught.value.status == status
    assert "upstream said no" in str(caught.value)


def test_reply_larger_than_the_cap_is_refused(fake_gemini, monkeypatch):
    monkeypatch.setattr(http, "RESPONSE_MAX_BYTES", 10_000)
    with pytest.raises(PermanentError) as caught:
        call(fake_gemini)
    assert "larger than" in str(caught.value)


def test_reply_without_length_stops_reading_at_the_cap(monkeypatch):
    monkeypatch.setattr(http, "RESPONSE_MAX_BYTES", 10_000)
    served = []

    def body():
        for _ in range(100):
            served.append(1)
            yield b"x" * 4096

    config = config_for(type("F", (), {"url": "http://127.0.0.1:9"})(), "gemini")
    response = httpx.Response(200, content=body())  # chunked: no Content-Length to go by
    with pytest.raises(PermanentError, match="larger than"):
        http._buffered(http.Call(config=config), response)
    assert len(served) <= 3


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"imageConfig": {"aspectRatio": "1:1"}}, "imageConfig"),  # outside generationConfig
        ({"generationConfig": {"imageConfig": {"aspect_ration": "1:1"}}}, "aspect_ration"),
        ({"generationConfig": {"image_size": "2K"}}, "image_size"),  # belongs in imageConfig
    ],
)
def test_fake_refuses_unknown_fields_like_the_real_api(fake_gemini, body, name):
    payload = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], **body}
    url = f"{fake_gemini.url}/v1beta/models/gemini-3-pro-image-preview:generateContent"
    response = httpx.post(url, json=payload, headers={"x-goog-api-key": KEY})
    assert response.status_code == 400
    assert f'Unknown name "{name}"' in response.json()["error"]["message"]
