"""generator.providers.openai_chat against the fake chat relay, over real HTTP."""

from __future__ import annotations

import base64

import pytest

from generator.providers import openai_chat
from generator.providers.base import BlockedError, PermanentError, RateLimitedError, RetryableError
from tests.fakes.openai_chat import blocked, embedded_error, error, hang, ok, truncated

from .helpers import KEY, config_for, make_request, reference, size_of


def call(fake, request=None, key=KEY, **config):
    return openai_chat.generate(config_for(fake, "openai_chat", **config), request or make_request(), key)


def test_request_carries_modalities_image_config_and_data_url_references(fake_chat):
    call(fake_chat, make_request(references=(reference(),)))
    body = fake_chat.last.body
    assert fake_chat.last.path == "/v1/chat/completions"
    assert body["modalities"] == ["image", "text"]
    assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "2K"}
    content = body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "a banana on the moon"}
    prefix, data = content[1]["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/png;base64" and base64.b64decode(data) == reference().data


@pytest.mark.parametrize("where", ["images", "content_array", "markdown", "data_url_text"])
def test_image_found_wherever_the_relay_puts_it(fake_chat, where):
    fake_chat.script(ok(where=where))
    result = call(fake_chat)
    assert [img.data for img in result.images] == fake_chat.last.images
    assert size_of(result.images[0].data) == (2752, 1536)
    assert result.text == "Here is your image."  # no base64 left in the reply text
    assert result.usage["completion_tokens"] == 1290


@pytest.mark.parametrize(("where", "markdown"), [("text_url", True), ("text_url", False), ("images_url", True)])
def test_image_url_downloaded_when_local(fake_chat, where, markdown):
    fake_chat.script(ok(where=where, markdown=markdown))
    result = call(fake_chat, local=True)
    assert result.images[0].data == fake_chat.requests[0].images[0]
    assert "http" not in result.text


def test_image_url_over_http_refused_when_not_local(fake_chat):
    fake_chat.script(ok(where="text_url"))
    with pytest.raises(PermanentError) as caught:
        call(fake_chat)
    assert "only https" in str(caught.value)


def test_n_makes_n_calls(fake_chat):
    result = call(fake_chat, make_request(n=2))
    assert len(result.images) == 2 and len(fake_chat.requests) == 2
    assert result.usage["completion_tokens"] == 2580
    assert result.usage["completion_tokens_details"] == {"image_tokens": 2580}


def test_content_filter_is_blocked(fake_chat):
    fake_chat.script(blocked("content_filter"))
    with pytest.raises(BlockedError) as caught:
        call(fake_chat)
    assert caught.value.reason == "SAFETY" and "safety filters" in str(caught.value)


def test_text_only_reply_is_blocked_with_the_model_words(fake_chat):
    fake_chat.script(blocked("stop", text="I can't help with that image."))
    with pytest.raises(BlockedError) as caught:
        call(fake_chat)
    assert caught.value.reason == "NO_IMAGE" and "I can't help with that image." in str(caught.value)


def test_error_inside_a_200_body(fake_chat):
    fake_chat.script(embedded_error(429, "Rate limit exceeded upstream"))
    with pytest.raises(RateLimitedError):
        call(fake_chat)


@pytest.mark.parametrize("behaviour", [hang(2), truncated(), error(500), error(504)])
def test_transient_failures_are_retryable(fake_chat, behaviour):
    fake_chat.script(behaviour)
    with pytest.raises(RetryableError):
        call(fake_chat, timeout=0.3)


@pytest.mark.parametrize(
    ("finish", "native", "reason"),
    [
        ("content_filter", "IMAGE_SAFETY", "IMAGE_SAFETY"),
        ("stop", "IMAGE_PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT"),
        ("stop", "STOP", "NO_IMAGE"),
        ("content_filter", "SAFETY", "SAFETY"),
    ],
)
def test_native_finish_reason_names_the_block(fake_chat, finish, native, reason):
    fake_chat.script(blocked(finish, native=native))
    with pytest.raises(BlockedError) as caught:
        call(fake_chat)
    assert caught.value.reason == reason
