"""OpenAI-compatible images relays: /v1/images/generations and /v1/images/edits.

Text-only requests go as JSON to generations; requests with reference images go as
multipart to edits (`image[]` repeated). Results come as `b64_json` or as a `url`,
which is downloaded at once (relay CDN links expire).
"""

from __future__ import annotations

from .base import BlockedError, ProviderImage, ProviderRequest, ProviderResult, RetryableError
from .http import Call, b64decode, decode_data_url, download_image, embedded_error, post, require_key, sniff_mime
from .registry import ProviderConfig

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def endpoint(config: ProviderConfig, path: str) -> str:
    base = config.base_url.rstrip("/")
    if not base.endswith("/v1"):
        base = f"{base}/v1"
    return f"{base}/images/{path}"


def size_fields(config: ProviderConfig, request: ProviderRequest) -> dict[str, str]:
    """Our ratio and size, as this relay wants them on the wire."""
    if config.size_style == "ratio":
        fields = {"size": request.aspect_ratio}
        if request.send_size and request.size:
            fields["image_size"] = request.size
        return fields
    if request.expected_pixels:
        width, height = request.expected_pixels
        return {"size": f"{width}x{height}"}
    return {}  # unknown pixel size: let the relay use its default, the ratio check flags it


def generate(config: ProviderConfig, request: ProviderRequest, api_key: str) -> ProviderResult:
    model = config.wire_model(request.model)
    fields = {
        "model": model,
        "prompt": request.prompt,
        "n": request.n,
        **size_fields(config, request),
        "response_format": "b64_json",
    }
    call = Call(
        config=config, api_key=api_key, model=model, sent=tuple((k, str(v)) for k, v in fields.items() if k != "prompt")
    )
    require_key(call)
    if request.references:
        files = [
            ("image[]", (f"reference-{i}.{EXTENSIONS.get(ref.mime_type, 'png')}", ref.data, ref.mime_type))
            for i, ref in enumerate(request.references)
        ]
        body = post(call, endpoint(config, "edits"), data={k: str(v) for k, v in fields.items()}, files=files)
    else:
        body = post(call, endpoint(config, "generations"), json=fields)
    return parse_response(call, body)


def parse_response(call: Call, body: dict) -> ProviderResult:
    usage = body.get("usage") or {}
    items = body.get("data")
    if items is None and body.get("error"):
        raise embedded_error(call, body)
    if not isinstance(items, list):
        raise RetryableError(f"{call.name} sent a reply without a data list")
    images = [
        _image(call, item) for item in items if isinstance(item, dict) and (item.get("b64_json") or item.get("url"))
    ]
    if not images:
        raise BlockedError(f"{call.name} returned no image (the relay gave no reason)", reason="NO_IMAGE", usage=usage)
    revised = [item["revised_prompt"] for item in items if isinstance(item, dict) and item.get("revised_prompt")]
    return ProviderResult(
        images=images,
        text="\n\n".join(revised),
        usage=usage,
        finish_reason="STOP",
        response_id=str(body.get("id") or body.get("created") or ""),
    )


def _image(call: Call, item: dict) -> ProviderImage:
    if str(item.get("b64_json") or "").startswith("data:"):
        data, mime = decode_data_url(call, item["b64_json"])
        return ProviderImage(data=data, mime_type=mime)
    if item.get("b64_json"):
        try:
            data = b64decode(item["b64_json"])
        except ValueError:
            raise RetryableError(f"{call.name} sent an image whose base64 data is damaged") from None
        return ProviderImage(data=data, mime_type=sniff_mime(data, "image/png"))
    if str(item["url"]).startswith("data:"):  # some relays put the data URL under `url`
        data, mime = decode_data_url(call, item["url"])
    else:
        data, mime = download_image(call, item["url"])
    return ProviderImage(data=data, mime_type=mime)
