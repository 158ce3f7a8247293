"""A fake of Gemini's native generateContent, faithful to the documented wire format.

Serves `/v1/` and `/v1beta/models/{model}:generateContent`; takes the key as
`x-goog-api-key`, `?key=` or a Bearer header; reads camelCase and snake_case and both
base64 alphabets; answers with real PNG (or JPEG) bytes at the exact pixel size of the
model's table, thought parts on gemini-3 models, thoughtSignature and usageMetadata.

Behaviours (see tests/fakes/base.py): ok(mime=, thoughts=, text=, size=(w, h), urlsafe=,
images=), blocked(reason, where="finish" | "prompt" | "no_content" | "text" | "empty"),
error(status, message, retry_delay="53s", headers=, echo_key=), hang(s), truncated(), raw(Reply).

    python -m tests.fakes.gemini --port 8765 --latency 1.0 --fault-rate 0.3
"""

from __future__ import annotations

import base64
import hashlib
import io
import re

from PIL import Image

from .base import (
    CAPABILITIES,
    Behaviour,
    FakeServer,
    RecordedRequest,
    Reply,
    blocked,
    closest_ratio,
    colour_for,
    decode_b64,
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

__all__ = ["FakeGemini", "ok", "blocked", "error", "hang", "truncated", "raw", "garbage"]

PATH = re.compile(r"^/(v1|v1beta)/models/([^/:]+):generateContent$")
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    408: "Request timed out.",
    429: "You exceeded your current quota, please check your plan and billing details. For more information on "
    "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    502: "Bad Gateway",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
THOUGHT_TOKENS = 217


def google_error(status: int, message: str = "", details: list | None = None) -> dict:
    body = {
        "code": status,
        "message": message or MESSAGES.get(status, "Error"),
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        body["details"] = details
    return {"error": body}


def retry_details(delay: str) -> list[dict]:
    """What a real per-minute 429 carries: QuotaFailure, Help and RetryInfo."""
    return [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count",
                    "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
                    "quotaDimensions": {"location": "global", "model": "gemini-3-pro-image"},
                    "quotaValue": "1000000",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]


# Field names the real API knows (proto JSON: camelCase or snake_case). Like the real
# API, the fake refuses any other name with a 400, so a misspelt or misplaced field
# (imageConfig outside generationConfig, say) fails here as it would at Google.
KNOWN_FIELDS = {
    "": {
        "contents",
        "generationConfig",
        "systemInstruction",
        "safetySettings",
        "tools",
        "toolConfig",
        "cachedContent",
        "model",
    },
    "contents": {"role", "parts"},
    "parts": {
        "text",
        "inlineData",
        "fileData",
        "thought",
        "thoughtSignature",
        "functionCall",
        "functionResponse",
        "executableCode",
        "codeExecutionResult",
        "videoMetadata",
        "mediaResolution",
        "partMetadata",
    },
    "inline_data": {"mimeType", "data"},
    "generation_config": {
        "stopSequences",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseModalities",
        "candidateCount",
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "enableEnhancedCivicAnswers",
        "speechConfig",
        "thinkingConfig",
        "imageConfig",
        "mediaResolution",
    },
    "image_config": {"aspectRatio", "imageSize"},
}


def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def unknown_field(body: dict) -> str | None:
    """The real API's message for the first field name it does not know, or None."""

    def check(obj, kind: str, where: str) -> str | None:
        if not isinstance(obj, dict):
            return None
        for key in obj:
            if _camel(key) not in KNOWN_FIELDS[kind]:
                at = f" at '{where}'" if where else ""
                return f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.'
        return None

    problems = [check(body, "", "")]
    for c, content in enumerate(body.get("contents") or []):
        problems.append(check(content, "contents", f"contents[{c}]"))
        for p, part in enumerate((content.get("parts") if isinstance(content, dict) else None) or []):
            problems.append(check(part, "parts", f"contents[{c}].parts[{p}]"))
            inline = _get(part, "inlineData", "inline_data")
            problems.append(check(inline, "inline_data", f"contents[{c}].parts[{p}].inline_data"))
    gen = _get(body, "generationConfig", "generation_config")
    problems.append(check(gen, "generation_config", "generation_config"))
    problems.append(check(_get(gen, "imageConfig", "image_config"), "image_config", "generation_config.image_config"))
    return next((p for p in problems if p), None)


def _get(data: dict, camel: str, snake: str, default=None):
    if not isinstance(data, dict):
        return default
    return data.get(camel, data.get(snake, default))


class FakeGemini(FakeServer):
    name = "gemini"

    def __init__(self, *, strict_size: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        # Reject imageSize on gemini-2.5-flash-image (the reference leaves open whether the
        # real API ignores or rejects it; the strict reading proves the client omits it).
        self.strict_size = strict_size

    # -- validation: path, key, parameters (does not consume the script) --------------
    def validate(self, req: RecordedRequest) -> Reply | None:
        match = PATH.match(req.path)
        if req.method != "POST" or not match:
            return Reply(404, google_error(404, f"Unknown path {req.path}"))
        version, model = match.groups()
        req.model = model
        key = self._key(req)
        if not key:
            return Reply(
                403,
                google_error(
                    403,
                    "Method doesn't allow unregistered callers (callers without established identity). "
                    "Please use API Key or other form of API consumer identity to call this API.",
                ),
            )
        if self.api_key is not None and key != self.api_key:
            return Reply(
                400,
                google_error(
                    400,
                    "API key not valid. Please pass a valid API key.",
                    [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        }
                    ],
                ),
            )
        if model not in CAPABILITIES:
            return Reply(
                404,
                google_error(
                    404,
                    f"models/{model} is not found for API version {version}, or is not supported for "
                    "generateContent. Call ListModels to see the list of available models and their "
                    "supported methods.",
                ),
            )
        return self._check_body(req, model)

    def _key(self, req: RecordedRequest) -> str:
        if req.headers.get("x-goog-api-key"):
            req.auth = "x-goog-api-key"
            return req.headers["x-goog-api-key"]
        if req.query.get("key"):
            req.auth = "query"
            return req.query["key"][0]
        return self.check_bearer(req) or ""

    def _check_body(self, req: RecordedRequest, model: str) -> Reply | None:
        body = req.body
        if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
            return Reply(400, google_error(400, 'Invalid JSON payload received. Unknown name "contents".'))
        unknown = unknown_field(body)
        if unknown:
            return Reply(400, google_error(400, unknown))
        for c, content in enumerate(body["contents"]):
            for p, part in enumerate(content.get("parts") or []):
                if part.get("text"):
                    req.prompt += part["text"]
                inline = _get(part, "inlineData", "inline_data")
                if inline is None:
                    continue
                where = f"contents[{c}].parts[{p}].inline_data"
                try:
                    data = decode_b64(inline.get("data") or "")
                    with Image.open(io.BytesIO(data)) as img:
                        req.references.append(img.size)
                except Exception:
                    return Reply(
                        400, google_error(400, f"Invalid value at '{where}.data' (TYPE_BYTES), Base64 decoding failed")
                    )
                if not _get(inline, "mimeType", "mime_type"):
                    return Reply(400, google_error(400, f"{where}.mime_type: required field is not set"))
        gen = _get(body, "generationConfig", "generation_config", {}) or {}
        image_config = _get(gen, "imageConfig", "image_config", {}) or {}
        cap = CAPABILITIES[model]
        ratio = _get(image_config, "aspectRatio", "aspect_ratio")
        size = _get(image_config, "imageSize", "image_size")
        if ratio is not None and ratio not in cap["aspect_ratios"]:
            return Reply(400, google_error(400, f"Unsupported aspectRatio: {ratio!r}."))
        if size is not None and self.strict_size and not cap["sends_image_size"]:
            return Reply(400, google_error(400, f"imageSize is not supported by {model}."))
        if size is not None and cap["sends_image_size"] and size not in cap["sizes"]:
            return Reply(
                400,
                google_error(
                    400, f"Invalid value for imageSize: {size!r}. Supported values: {', '.join(cap['sizes'])}."
                ),
            )
        if not ratio:
            ratio = closest_ratio(model, *req.references[0]) if req.references else "1:1"
        req.ratio, req.size = ratio, size if (size and cap["sends_image_size"]) else "1K"
        return None

    # -- replies ------------------------------------------------------------------
    def render(self, behaviour: Behaviour, req: RecordedRequest) -> Reply:
        if behaviour.kind == "error":
            return self._error(behaviour.options, self._key(req))
        if behaviour.kind == "blocked":
            return Reply(200, self._blocked(req, **behaviour.options))
        return Reply(200, self._success(req, **behaviour.options))

    def _error(self, options: dict, key: str) -> Reply:
        status = options["status"]
        delay = options.get("retry_delay")
        details = retry_details(delay) if delay else options.get("details")
        message = options.get("message") or MESSAGES.get(status, "Error")
        if options.get("echo_key"):  # a careless relay repeating the key it refused
            message = f"{message} (key: {key})"
        return Reply(status, google_error(status, message, details), headers=dict(options.get("headers") or {}))

    def usage(self, req: RecordedRequest, *, thoughts: bool, images: int = 1, output: bool = True) -> dict:
        model = req.model
        cap = CAPABILITIES[model]
        text_tokens = max(1, len(req.prompt) // 4)
        image_in = cap["input_image_tokens"] * len(req.references)
        usage: dict = {"promptTokenCount": text_tokens + image_in}
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": text_tokens}]
        if image_in:
            usage["promptTokensDetails"].append({"modality": "IMAGE", "tokenCount": image_in})
        total = usage["promptTokenCount"]
        if output:
            image_out = int(cap["output_tokens"].get(req.size, 0)) * images
            usage["candidatesTokenCount"] = image_out
            usage["candidatesTokensDetails"] = [{"modality": "IMAGE", "tokenCount": image_out}]
            total += image_out
            if thoughts:
                usage["thoughtsTokenCount"] = THOUGHT_TOKENS
                total += THOUGHT_TOKENS
        usage["totalTokenCount"] = total
        return usage

    def _success(
        self,
        req: RecordedRequest,
        *,
        mime: str = "image/png",
        thoughts: bool | None = None,
        text: str = "Here is your image.",
        size: tuple[int, int] | None = None,
        urlsafe: bool = False,
        images: int = 1,
    ) -> dict:
        model = req.model
        thoughts = model.startswith("gemini-3") if thoughts is None else thoughts
        width, height = size or pixel_size(model, req.size, req.ratio)
        number = self.next_number()
        fmt = "JPEG" if mime == "image/jpeg" else "PNG"
        encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
        parts: list[dict] = []
        if thoughts:
            interim = image_bytes(max(64, width // 4), max(64, height // 4), colour_for("thought", number), "PNG")
            req.thought_images.append(interim)
            parts += [
                {"text": "**Composing the scene**\n\nPlanning the layout first.", "thought": True},
                {"inlineData": {"mimeType": "image/png", "data": encode(interim).decode()}, "thought": True},
            ]

        # As the real gemini-3 models do: the first part after the thoughts and every
        # image part carry a signature, each its own, so a client that keeps the wrong
        # one (the text's, or one image's for all) is caught.
        def sign(what: str) -> dict:
            if not thoughts:
                return {}
            digest = hashlib.sha256(f"sig-{number}-{what}".encode()).digest() * 2
            return {"thoughtSignature": base64.b64encode(digest).decode()}

        if text:
            parts.append({"text": text, **sign("text")})
        for i in range(images):
            final = image_bytes(width, height, colour_for("final", number, i, req.prompt), fmt)
            req.images.append(final)
            signed = sign(f"image-{i}")
            req.signatures.append(signed.get("thoughtSignature", ""))
            parts.append({"inlineData": {"mimeType": mime, "data": encode(final).decode()}, **signed})
        req.signature = req.signatures[0] if req.signatures else ""
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": self.usage(req, thoughts=thoughts, images=images),
            "modelVersion": model,
            "responseId": f"fake-{number}",
        }

    def _blocked(self, req: RecordedRequest, *, reason: str, where: str = "finish", text: str = "") -> dict:
        usage = self.usage(req, thoughts=False, output=False)
        if where == "prompt":
            return {"promptFeedback": {"blockReason": reason}, "usageMetadata": usage, "modelVersion": req.model}
        if where == "empty":
            return {"usageMetadata": usage, "modelVersion": req.model}
        candidate: dict = {"finishReason": reason, "index": 0}
        if where == "finish":
            candidate["content"] = {"role": "model"}
        elif where == "text":
            candidate["content"] = {"role": "model", "parts": [{"text": text or "I can't draw that."}]}
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": req.model}


if __name__ == "__main__":
    run_standalone(FakeGemini)
