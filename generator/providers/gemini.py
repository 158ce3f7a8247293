"""Gemini native generateContent (the real Nano Banana), and relays that speak it.

POST {base}/v1beta/models/{model}:generateContent. A base URL that already ends in a
version (`.../v1` or `.../v1beta`) is used as it is.
"""

from __future__ import annotations

import base64

from .base import BlockedError, ProviderImage, ProviderRequest, ProviderResult, RetryableError
from .http import Call, b64decode, embedded_error, post, require_key, sniff_mime
from .registry import ProviderConfig
from .results import repeat_calls

API_VERSIONS = ("v1", "v1beta", "v1alpha")
DEFAULT_API_VERSION = "v1beta"

REASON_WORDS = {
    "SAFETY": "it was flagged by the safety filters",
    "IMAGE_SAFETY": "the image was flagged by the safety filters",
    "PROHIBITED_CONTENT": "the request asked for prohibited content",
    "IMAGE_PROHIBITED_CONTENT": "the image would have contained prohibited content",
    "BLOCKLIST": "the prompt contains a blocked term",
    "SPII": "the request may involve sensitive personal information",
    "RECITATION": "the output would have recited protected material",
    "IMAGE_RECITATION": "the image would have reproduced protected material",
    "NO_IMAGE": "the model produced no image",
    "IMAGE_OTHER": "the model could not produce the image",
    "OTHER": "the model stopped for an unspecified reason",
    "MAX_TOKENS": "the model ran out of output tokens before making an image",
    "LANGUAGE": "the prompt's language is not supported",
    "MALFORMED_FUNCTION_CALL": "the model produced a malformed call instead of an image",
    "UNEXPECTED_TOOL_CALL": "the model tried to call a tool instead of making an image",
    "TOO_MANY_TOOL_CALLS": "the model made too many tool calls",
    "NO_CANDIDATES": "the reply held no result at all",
}


def reason_in_words(reason: str) -> str:
    return REASON_WORDS.get(reason, f"the model stopped ({reason})")


def endpoint(config: ProviderConfig, model: str) -> str:
    base = config.base_url.rstrip("/")
    if base.rsplit("/", 1)[-1] not in API_VERSIONS:
        base = f"{base}/{DEFAULT_API_VERSION}"
    return f"{base}/models/{model}:generateContent"


def build_body(request: ProviderRequest) -> dict:
    parts: list[dict] = [{"text": request.prompt}]
    for ref in request.references:
        parts.append({"inlineData": {"mimeType": ref.mime_type, "data": base64.b64encode(ref.data).decode("ascii")}})
    image_config: dict[str, str] = {}
    if request.aspect_ratio:
        image_config["aspectRatio"] = request.aspect_ratio
    if request.send_size and request.size:
        image_config["imageSize"] = request.size
    generation_config: dict = {"responseModalities": ["TEXT", "IMAGE"], "candidateCount": 1}
    if image_config:
        generation_config["imageConfig"] = image_config
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": generation_config}


def generate(config: ProviderConfig, request: ProviderRequest, api_key: str) -> ProviderResult:
    model = config.wire_model(request.model)
    body = build_body(request)
    image_config = body["generationConfig"].get("imageConfig", {})
    call = Call(config=config, api_key=api_key, model=model, sent=(*image_config.items(), ("model", model)))
    require_key(call)
    url = endpoint(config, model)
    return repeat_calls(request.n, lambda: parse_response(call, post(call, url, json=body)))


def parse_response(call: Call, body: dict) -> ProviderResult:
    if not body.get("candidates") and isinstance(body.get("error"), dict):
        # Relays speaking the native protocol pass upstream errors on inside a 200.
        raise embedded_error(call, body)
    usage = body.get("usageMetadata") or {}
    block_reason = (body.get("promptFeedback") or {}).get("blockReason")
    if block_reason:
        message = (body.get("promptFeedback") or {}).get("blockReasonMessage") or ""
        raise BlockedError(_blocked_message(call, block_reason, message, prompt=True), reason=block_reason, usage=usage)
    candidates = body.get("candidates") or []
    if not candidates:
        raise BlockedError(_blocked_message(call, "NO_CANDIDATES", ""), reason="NO_CANDIDATES", usage=usage)
    candidate = candidates[0]
    finish_reason = candidate.get("finishReason") or ""
    texts, images = _read_parts(call, (candidate.get("content") or {}).get("parts") or [])
    text = "\n\n".join(texts)
    if not images:
        reason = finish_reason if finish_reason and finish_reason != "STOP" else "NO_IMAGE"
        raise BlockedError(_blocked_message(call, reason, text), reason=reason, usage=usage)
    return ProviderResult(
        images=images,
        text=text,
        usage=usage,
        finish_reason=finish_reason,
        response_id=body.get("responseId") or "",
        model_version=body.get("modelVersion") or "",
    )


def _read_parts(call: Call, parts: list) -> tuple[list[str], list[ProviderImage]]:
    """Final text and images; interim "thought" parts are dropped."""
    texts: list[str] = []
    images: list[ProviderImage] = []
    for part in parts:
        if not isinstance(part, dict) or part.get("thought"):
            continue
        signature = part.get("thoughtSignature") or part.get("thought_signature") or ""
        inline = part.get("inlineData") or part.get("inline_data")
        if inline:
            images.append(_image(call, inline, signature))
        elif part.get("text"):
            texts.append(part["text"])
    return texts, images


def _image(call: Call, inline: dict, signature: str) -> ProviderImage:
    try:
        data = b64decode(inline.get("data") or "")
    except ValueError:
        raise RetryableError(f"{call.name} sent an image whose base64 data is damaged") from None
    if not data:
        raise RetryableError(f"{call.name} sent an empty image")
    declared = inline.get("mimeType") or inline.get("mime_type") or ""
    return ProviderImage(data=data, mime_type=sniff_mime(data, declared), thought_signature=signature)


def _blocked_message(call: Call, reason: str, detail: str, prompt: bool = False) -> str:
    what = "the prompt" if prompt else "the request"
    message = f"{call.name} refused {what}: {reason_in_words(reason)} ({reason})"
    if detail:
        message += f". The model said: {call.scrub(detail.strip())[:500]}"
    return message
