"""A fake OpenAI-compatible images relay: /v1/images/generations and /v1/images/edits.

Takes `size` as "WxH" or as a ratio ("16:9", with `image_size` "2K"); answers with
`b64_json` or a `url` served by the fake itself (http on loopback, so the client must
be configured `local=True` to fetch it). Bearer auth.

Behaviours: ok(response_format="url" | "b64_json", ratio_ignored=True, mime=, data_url=True),
url() (same as ok(response_format="url")), blocked() (400 moderation_blocked), empty()
(200 with no data), error(status, message, code=, retry_after=, reset=, headers=, echo_key=),
hang(s), truncated(), raw(Reply).

    python -m tests.fakes.openai_images --port 8766 --latency 1.0 --fault-rate 0.3
"""

from __future__ import annotations

import base64
import io
import re
import time

from PIL import Image

from .base import (
    CAPABILITIES,
    Behaviour,
    FakeServer,
    RecordedRequest,
    Reply,
    blocked,
    colour_for,
    error,
    garbage,
    hang,
    image_bytes,
    ok,
    pixel_size,
    raw,
    run_standalone,
    truncated,
)

__all__ = [
    "FakeOpenAIImages",
    "ok",
    "url",
    "blocked",
    "empty",
    "error",
    "hang",
    "truncated",
    "raw",
    "garbage",
    "openai_error",
]

WXH = re.compile(r"^(\d+)x(\d+)$")


def url(**options) -> Behaviour:
    return ok(response_format="url", **options)


def empty() -> Behaviour:
    return Behaviour("empty")


def openai_error(
    message: str, *, type_: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


DEFAULT_ERRORS = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", "forbidden"),
    404: ("The model does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The upstream model is overloaded.", "server_error", None),
    504: ("Upstream timed out.", "server_error", None),
}


def error_reply(options: dict, key: str = "") -> Reply:
    status = options["status"]
    message, type_, code = DEFAULT_ERRORS.get(status, ("Error.", "server_error", None))
    message = options.get("message") or message
    if options.get("echo_key"):  # some relays echo the key they refused
        message = f"{message} You sent: {key}"
    headers = dict(options.get("headers") or {})
    if options.get("retry_after") is not None:
        headers["Retry-After"] = str(options["retry_after"])
    if options.get("reset") is not None:
        headers["X-RateLimit-Remaining"] = "0"
        headers["X-RateLimit-Reset"] = str(options["reset"])
    body = openai_error(
        message, type_=options.get("type", type_), code=options.get("code", code), param=options.get("param")
    )
    return Reply(status, body, headers=headers)


class RelayFake(FakeServer):
    """Shared by the two OpenAI-compatible fakes: Bearer auth and OpenAI error bodies."""

    def auth_failure(self, req: RecordedRequest) -> Reply | None:
        key = self.check_bearer(req)
        if not key:
            return Reply(401, openai_error("You didn't provide an API key.", code="missing_api_key"))
        if self.api_key is not None and key != self.api_key:
            return Reply(401, openai_error("Incorrect API key provided.", code="invalid_api_key"))
        return None

    def fault(self, kind: str) -> Behaviour:
        if kind == "rate_limited":
            return error(429, retry_after=max(1, int(self.fault_retry_delay)))
        return super().fault(kind)

    def key_of(self, req: RecordedRequest) -> str:
        return req.headers.get("authorization", "")[7:]


class FakeOpenAIImages(RelayFake):
    name = "openai_images"

    def validate(self, req: RecordedRequest) -> Reply | None:
        if req.method != "POST" or req.path not in ("/v1/images/generations", "/v1/images/edits"):
            return Reply(404, openai_error(f"Invalid URL (POST {req.path})"))
        rejected = self.auth_failure(req)
        if rejected:
            return rejected
        fields = self._fields(req)
        if fields is None:
            return Reply(400, openai_error("Could not parse the request body."))
        req.model, req.prompt = fields.get("model", ""), fields.get("prompt", "")
        if not req.prompt:
            return Reply(400, openai_error("Missing required parameter: 'prompt'.", param="prompt"))
        if req.model.split("/")[-1] not in CAPABILITIES:
            return Reply(404, openai_error(f"The model `{req.model}` does not exist.", code="model_not_found"))
        if req.path.endswith("/edits"):
            images = (req.body or {}).get("image[]") or (req.body or {}).get("image") or []
            if not images:
                return Reply(400, openai_error("Missing required parameter: 'image'.", param="image"))
            for item in images:
                with Image.open(io.BytesIO(item["data"])) as img:
                    req.references.append(img.size)
        return self._size(req, fields)

    def _fields(self, req: RecordedRequest) -> dict | None:
        if req.path.endswith("/edits"):
            if not isinstance(req.body, dict):
                return None
            return {k: v[0] for k, v in req.body.items() if v and isinstance(v[0], str)}
        return req.body if isinstance(req.body, dict) else None

    def _size(self, req: RecordedRequest, fields: dict) -> Reply | None:
        size = str(fields.get("size") or "1024x1024")
        match = WXH.match(size)
        req.n = int(fields.get("n") or 1)
        req.response_format = fields.get("response_format") or "url"
        if match:
            req.pixels = (int(match.group(1)), int(match.group(2)))
            req.size = size
            return None
        req.ratio, req.size = size, str(fields.get("image_size") or "1K")
        pixels = pixel_size(req.model, req.size, req.ratio)
        if not pixels:
            return Reply(400, openai_error(f"Invalid size {size!r} / image_size {req.size!r}.", param="size"))
        req.pixels = pixels
        return None

    def render(self, behaviour: Behaviour, req: RecordedRequest) -> Reply:
        if behaviour.kind == "error":
            return error_reply(behaviour.options, self.key_of(req))
        if behaviour.kind == "blocked":
            return Reply(
                400,
                openai_error(
                    "Your request was rejected as a result of our safety system.",
                    type_="image_generation_user_error",
                    code=behaviour.options.get("code", "moderation_blocked"),
                ),
            )
        if behaviour.kind == "empty":
            return Reply(200, {"created": int(time.time()), "data": []})
        return Reply(200, self._success(req, **behaviour.options))

    def _success(
        self,
        req: RecordedRequest,
        *,
        response_format: str | None = None,
        ratio_ignored: bool = False,
        mime: str = "image/png",
        data_url: bool = False,
        revised_prompt: str = "",
    ) -> dict:
        fmt = response_format or req.response_format
        width, height = (1024, 1024) if ratio_ignored else req.pixels
        number = self.next_number()
        data = []
        for i in range(req.n):
            image = image_bytes(
                width, height, colour_for("relay", number, i, req.prompt), "JPEG" if mime == "image/jpeg" else "PNG"
            )
            req.images.append(image)
            item: dict = {}
            if fmt == "url":
                item["url"] = self.add_file(image, mime)
            else:
                encoded = base64.b64encode(image).decode()
                item["b64_json"] = f"data:{mime};base64,{encoded}" if data_url else encoded
            if revised_prompt:
                item["revised_prompt"] = revised_prompt
            data.append(item)
        tokens_in = max(1, len(req.prompt) // 4)
        return {
            "created": int(time.time()),
            "data": data,
            "usage": {
                "input_tokens": tokens_in,
                "output_tokens": 1290 * req.n,
                "total_tokens": tokens_in + 1290 * req.n,
                "input_tokens_details": {"text_tokens": tokens_in, "image_tokens": 0},
            },
        }


if __name__ == "__main__":
    run_standalone(FakeOpenAIImages)
