"""OpenAI-compatible chat completions relays that return images (OpenRouter style).

POST {base}/v1/chat/completions with `modalities` and `image_config`. Relays put the
image in different places; they are searched in this order: message.images[], a
content-array part of type image_url, a data URL in the text (often markdown), a plain
https image URL in the text (downloaded at once, under the provider's download rules).
"""

from __future__ import annotations

import base64
import re

from .base import BlockedError, ProviderImage, ProviderRequest, ProviderResult, RetryableError
from .gemini import reason_in_words
from .http import Call, decode_data_url, download_image, embedded_error, post, require_key
from .registry import ProviderConfig
from .results import repeat_calls

DATA_URL_IN_TEXT = re.compile(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/_=\-\s]+?(?=[)\s\"'\]]|$)")
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?\s*\)")
PLAIN_IMAGE_URL = re.compile(r"https?://[^\s)\"'<>\]]+?\.(?:png|jpe?g|webp|gif)(?:\?[^\s)\"'<>\]]*)?", re.IGNORECASE)


def endpoint(config: ProviderConfig) -> str:
    base = config.base_url.rstrip("/")
    if not base.endswith("/v1"):
        base = f"{base}/v1"
    return f"{base}/chat/completions"


def build_body(model: str, request: ProviderRequest) -> dict:
    content: list[dict] = [{"type": "text", "text": request.prompt}]
    for ref in request.references:
        url = f"data:{ref.mime_type};base64,{base64.b64encode(ref.data).decode('ascii')}"
        content.append({"type": "image_url", "image_url": {"url": url}})
    image_config = {"aspect_ratio": request.aspect_ratio}
    if request.send_size and request.size:
        image_config["image_size"] = request.size
    return {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "modalities": ["image", "text"],
        "image_config": image_config,
    }


def generate(config: ProviderConfig, request: ProviderRequest, api_key: str) -> ProviderResult:
    model = config.wire_model(request.model)
    body = build_body(model, request)
    call = Call(config=config, api_key=api_key, model=model, sent=(*body["image_config"].items(), ("model", model)))
    require_key(call)
    url = endpoint(config)
    return repeat_calls(request.n, lambda: parse_response(call, post(call, url, json=body)))


def parse_response(call: Call, body: dict) -> ProviderResult:
    usage = body.get("usage") or {}
    choices = body.get("choices")
    if not choices and isinstance(body.get("error"), dict):
        # Some relays answer 200 with an error body (OpenRouter passes upstream errors on).
        raise embedded_error(call, body)
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RetryableError(f"{call.name} sent a reply without choices")
    choice = choices[0]
    message = choice.get("message") or {}
    finish_reason = str(choice.get("finish_reason") or choice.get("native_finish_reason") or "")
    # OpenRouter normalises finish_reason ("stop", "content_filter") and keeps the model's
    # own in native_finish_reason ("IMAGE_SAFETY", "PROHIBITED_CONTENT"): the finer one says why.
    native = str(choice.get("native_finish_reason") or "")
    text = _text_of(message.get("content"))
    images, text = find_images(call, message, text)
    if not images:
        reason = _block_reason(native)
        if reason == "NO_IMAGE":
            reason = _block_reason(finish_reason)
        detail = f". The model said: {call.scrub(text.strip())[:500]}" if text.strip() else ""
        raise BlockedError(
            f"{call.name} refused the request: {reason_in_words(reason)} ({reason}){detail}", reason=reason, usage=usage
        )
    return ProviderResult(
        images=images,
        text=text.strip(),
        usage=usage,
        finish_reason=finish_reason,
        response_id=str(body.get("id") or ""),
        model_version=str(body.get("model") or ""),
    )


def _block_reason(finish_reason: str) -> str:
    upper = finish_reason.upper()
    if upper in ("CONTENT_FILTER", "SAFETY"):
        return "SAFETY"
    if upper in ("", "STOP", "LENGTH", "END_TURN"):
        return "NO_IMAGE" if upper != "LENGTH" else "MAX_TOKENS"
    return upper


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def find_images(call: Call, message: dict, text: str) -> tuple[list[ProviderImage], str]:
    """The images in a chat message, first place that has any wins; and the text without them."""
    urls = [_url_of(item) for item in message.get("images") or []]
    if not any(urls) and isinstance(message.get("content"), list):
        urls = [_url_of(p) for p in message["content"] if isinstance(p, dict) and p.get("type") == "image_url"]
    urls = [u for u in urls if u]
    if not urls:
        urls = [m.group(0) for m in DATA_URL_IN_TEXT.finditer(text)]
        text = _strip_images(text)
    if not urls:
        urls = [u for u in MARKDOWN_IMAGE.findall(text) if u.startswith(("https://", "http://"))]
        urls = urls or PLAIN_IMAGE_URL.findall(text)
        if urls:
            text = PLAIN_IMAGE_URL.sub("", MARKDOWN_IMAGE.sub("", text))
    return [_fetch(call, url) for url in urls], text


def _strip_images(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\(\s*data:[^)]*\)", "", text)
    return DATA_URL_IN_TEXT.sub("", text)


def _url_of(item) -> str:
    if not isinstance(item, dict):
        return ""
    image_url = item.get("image_url")
    if isinstance(image_url, dict):
        return str(image_url.get("url") or "")
    return str(image_url or item.get("url") or "")


def _fetch(call: Call, url: str) -> ProviderImage:
    if url.startswith("data:"):
        data, mime = decode_data_url(call, url)
    else:
        data, mime = download_image(call, url)
    if not data:
        raise RetryableError(f"{call.name} sent an empty image")
    return ProviderImage(data=data, mime_type=mime)
