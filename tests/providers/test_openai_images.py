"""generator.providers.openai_images against the fake images relay, over real HTTP."""

from __future__ import annotations

import base64
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from generator.providers import http as openai_images_http
from generator.providers import openai_images
from generator.providers.base import (
    AuthError,
    BlockedError,
    PermanentError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryableError,
)
from tests.fakes.base import Reply
from tests.fakes.openai_images import blocked, empty, error, hang, ok, raw, truncated, url

from .helpers import KEY, config_for, make_request, png, reference, size_of


def call(fake, request=None, key=KEY, **config):
    return openai_images.generate(config_for(fake, "openai_images", **config), request or make_request(), key)


def test_generations_with_wxh_size_and_b64(fake_images):
    result = call(fake_images)
    sent = fake_images.last
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "model": "gemini-3-pro-image-preview",
        "prompt": "a banana on the moon",
        "n": 1,
        "size": "2752x1536",
        "response_format": "b64_json",
    }
    assert [img.data for img in result.images] == sent.images
    assert size_of(result.images[0].data) == (2752, 1536)
    assert result.usage["output_tokens"] == 1290


def test_ratio_size_style(fake_images):
    result = call(fake_images, size_style="ratio")
    assert fake_images.last.body["size"] == "16:9" and fake_images.last.body["image_size"] == "2K"
    assert size_of(result.images[0].data) == (2752, 1536)


def test_ratio_style_without_image_size_for_flash_25(fake_images):
    request = make_request(model="gemini-2.5-flash-image", size="1K", send_size=False, aspect_ratio="3:2")
    call(fake_images, request, size_style="ratio")
    assert fake_images.last.body["size"] == "3:2" and "image_size" not in fake_images.last.body


def test_edits_send_references_as_repeated_image_fields(fake_images):
    refs = (reference(), reference((0, 0, 255)))
    result = call(fake_images, make_request(references=refs, n=2))
    sent = fake_images.last
    assert sent.path == "/v1/images/edits"
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert [part["data"] for part in sent.body["image[]"]] == [r.data for r in refs]
    assert sent.body["size"] == ["2752x1536"] and sent.body["n"] == ["2"]
    assert [img.data for img in result.images] == sent.images and len(result.images) == 2


def test_data_url_in_b64_json(fake_images):
    fake_images.script(ok(data_url=True, mime="image/jpeg"))
    result = call(fake_images)
    assert result.images[0].data == fake_images.last.images[0]
    assert result.images[0].mime_type == "image/jpeg"


def test_url_result_is_downloaded_when_local(fake_images):
    fake_images.script(url(revised_prompt="a ripe banana on the moon"))
    result = call(fake_images, local=True)
    assert result.images[0].data == fake_images.requests[0].images[0]
    assert fake_images.last.method == "GET" and fake_images.last.path.startswith("/files/")
    assert result.text == "a ripe banana on the moon"


def test_plain_http_url_is_refused_unless_local(fake_images):
    fake_images.script(url())
    with pytest.raises(PermanentError) as caught:
        call(fake_images)
    assert "only https" in str(caught.value) and "local=true" in caught.value.hint
    assert all(r.method == "POST" for r in fake_images.requests)  # nothing was fetched


def test_download_size_cap(fake_images):
    fake_images.script(url())
    with pytest.raises(PermanentError) as caught:
        call(fake_images, local=True, download_max_bytes=1000)
    assert "download limit" in str(caught.value)


def test_download_timeout_is_retryable(fake_images):
    fake_images.script(url())
    original = fake_images.handle

    def slow_files(req):
        if req.method == "GET":
            fake_images.sleep(2)
        return original(req)

    fake_images.handle = slow_files
    with pytest.raises(RetryableError) as caught:
        call(fake_images, local=True, download_timeout=0.3)
    assert "timed out" in str(caught.value)


def test_ignored_ratio_comes_back_as_is(fake_images):
    fake_images.script(ok(ratio_ignored=True))
    result = call(fake_images)
    assert size_of(result.images[0].data) == (1024, 1024)  # dispatch flags the mismatch


def test_moderation_block(fake_images):
    fake_images.script(blocked())
    with pytest.raises(BlockedError) as caught:
        call(fake_images)
    assert caught.value.reason == "MODERATION_BLOCKED"
    assert "policy" in str(caught.value)


def test_empty_data_is_blocked_not_success(fake_images):
    fake_images.script(empty())
    with pytest.raises(BlockedError) as caught:
        call(fake_images)
    assert caught.value.reason == "NO_IMAGE"


def test_retry_after_header(fake_images):
    fake_images.script(error(429, retry_after=7))
    with pytest.raises(RateLimitedError) as caught:
        call(fake_images)
    assert caught.value.retry_after == 7


def test_x_ratelimit_reset_header(fake_images):
    fake_images.script(error(429, reset="6m0s"))
    with pytest.raises(RateLimitedError) as caught:
        call(fake_images)
    assert caught.value.retry_after == 360


def test_insufficient_quota_is_not_retried(fake_images):
    fake_images.script(error(429, "You exceeded your current quota.", code="insufficient_quota"))
    with pytest.raises(QuotaExhaustedError) as caught:
        call(fake_images)
    assert "OPENAI_IMAGES_API_KEY" in caught.value.hint


def test_bare_429_waits_a_minute(fake_images):
    fake_images.script(error(429, "Too many requests", code="rate_limit_exceeded"))
    with pytest.raises(RateLimitedError) as caught:
        call(fake_images)
    assert caught.value.retry_after == 60


def test_400_names_the_parameter(fake_images):
    fake_images.script(error(400, "Invalid size.", param="size"))
    with pytest.raises(PermanentError) as caught:
        call(fake_images)
    assert "size parameter (we sent '2752x1536')" in caught.value.hint


def test_bad_key_is_auth_error_and_the_echoed_key_is_scrubbed(fake_images):
    fake_images.script(error(401, echo_key=True))
    with pytest.raises(AuthError) as caught:
        call(fake_images)
    assert "check OPENAI_IMAGES_API_KEY" in str(caught.value)
    assert KEY not in str(caught.value) and "***" in str(caught.value)


def test_unknown_model(fake_images):
    with pytest.raises(PermanentError) as caught:
        call(fake_images, make_request(model="dall-e-9"))
    assert caught.value.status == 404 and "unknown model id 'dall-e-9'" in caught.value.hint


@pytest.mark.parametrize("behaviour", [hang(2), truncated(), error(502), error(503)])
def test_transient_failures_are_retryable(fake_images, behaviour):
    fake_images.script(behaviour)
    with pytest.raises(RetryableError):
        call(fake_images, timeout=0.3)


def test_error_inside_a_200_body(fake_images):
    fake_images.script(raw(Reply(200, {"error": {"code": 503, "message": "upstream overloaded"}})))
    with pytest.raises(RetryableError) as caught:
        call(fake_images)
    assert "upstream overloaded" in str(caught.value)


def test_unusable_base_url_is_permanent(fake_images):
    with pytest.raises(PermanentError) as caught:
        call(fake_images, base_url="ftp://relay.example")
    assert "base URL" in caught.value.hint


def test_download_checks_the_address_actually_connected_to(fake_images, monkeypatch):
    # DNS rebinding: the name resolved to a public address when checked, then to
    # loopback when httpx connected. The connected peer is checked again.
    monkeypatch.setattr(openai_images_http, "check_download_url", lambda config, url: None)
    fake_images.script(url())
    with pytest.raises(PermanentError) as caught:
        call(fake_images)
    assert "private or loopback" in str(caught.value)


def test_download_timeout_bounds_a_trickling_server(fake_images):
    # Each read arrives within the timeout, the whole download does not.
    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "40")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    link = f"http://127.0.0.1:{server.server_address[1]}/slow.png"
    fake_images.script(raw(Reply(200, {"created": 1, "data": [{"url": link}]})))
    started = time.monotonic()
    try:
        with pytest.raises(RetryableError, match="timed out"):
            call(fake_images, local=True, download_timeout=0.5)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 1.8


def test_data_url_under_url_is_decoded_not_downloaded(fake_images):
    image = png(40, 30)
    link = "data:image/png;base64," + base64.b64encode(image).decode()
    fake_images.script(raw(Reply(200, {"created": 1, "data": [{"url": link}]})))
    result = call(fake_images)
    assert result.images[0].data == image and result.images[0].mime_type == "image/png"


def test_a_link_to_something_that_is_not_an_image_fails_clearly(fake_images):
    link = fake_images.add_file(b"<html>This link has expired</html>", "text/html")
    fake_images.script(raw(Reply(200, {"created": 1, "data": [{"url": link}]})))
    with pytest.raises(PermanentError, match="not an image"):
        call(fake_images, local=True)
