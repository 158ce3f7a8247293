"""A fake OpenAI-compatible chat completions relay that returns images.

Reads `image_config` (aspect_ratio, image_size) and data-URL references from the
content array; puts the image where relays put it, chosen per call with
ok(where=...):
- "images": `choices[0].message.images[].image_url.url` as a data URL (OpenRouter; default)
- "images_url": the same list with an http URL served by the fake
- "content_array": a content-array part of type image_url
- "markdown": `![image](data:image/png;base64,...)` inside the text
- "data_url_text": a bare data URL inside the text
- "text_url": a plain http image URL inside the text (markdown=True wraps it in ![..](..))

Other behaviours: blocked(reason="content_filter", text=..., native="IMAGE_SAFETY"), error(status, ..., retry_after=,
reset=, echo_key=), embedded_error(code, message) (a 200 carrying an error body),
hang(s), truncated(), raw(Reply).

    python -m tests.fakes.openai_chat --port 8767 --latency 1.0 --fault-rate 0.3
"""

from __future__ import annotations

import base64
import io
import time

from PIL import Image

from .base import (
    CAPABILITIES,
    Behaviour,
    RecordedRequest,
    Reply,
    blocked,
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
from .openai_images import RelayFake, error_reply, openai_error

__all__ = ["FakeOpenAIChat", "ok", "blocked", "error", "embedded_error", "hang", "truncated", "raw", "garbage"]


def embedded_error(code: int = 429, message: str = "Provider returned error") -> Behaviour:
    return Behaviour("embedded_error", {"code": code, "message": message})


class FakeOpenAIChat(RelayFake):
    name = "openai_chat"

    def validate(self, req: RecordedRequest) -> Reply | None:
        if req.method != "POST" or req.path != "/v1/chat/completions":
            return Reply(404, openai_error(f"Invalid URL (POST {req.path})"))
        rejected = self.auth_failure(req)
        if rejected:
            return rejected
        body = req.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return Reply(400, openai_error("'messages' is required.", param="messages"))
        req.model = str(body.get("model") or "")
        if req.model.split("/")[-1] not in CAPABILITIES:
            return Reply(404, openai_error(f"{req.model} is not a valid model ID", code="model_not_found"))
        for message in body["messages"]:
            content = message.get("content")
            if isinstance(content, str):
                req.prompt += content
                continue
            for part in content or []:
                if part.get("type") == "text":
                    req.prompt += part.get("text", "")
                elif part.get("type") == "image_url":
                    url = (part.get("image_url") or {}).get("url", "")
                    try:
                        data = decode_b64(url.split(",", 1)[1])
                        with Image.open(io.BytesIO(data)) as img:
                            req.references.append(img.size)
                    except Exception:
                        return Reply(
                            400, openai_error("Invalid image_url: expected a base64 data URL.", param="messages")
                        )
        config = body.get("image_config") or {}
        req.ratio, req.size = config.get("aspect_ratio") or "1:1", config.get("image_size") or "1K"
        pixels = pixel_size(req.model, req.size, req.ratio)
        if not pixels:
            return Reply(400, openai_error(f"Unsupported image_config {config}.", param="image_config"))
        req.pixels = pixels
        return None

    def render(self, behaviour: Behaviour, req: RecordedRequest) -> Reply:
        if behaviour.kind == "error":
            return error_reply(behaviour.options, self.key_of(req))
        if behaviour.kind == "embedded_error":
            return Reply(
                200,
                {
                    "error": {"code": behaviour.options["code"], "message": behaviour.options["message"]},
                    "user_id": "fake",
                },
            )
        if behaviour.kind == "blocked":
            return Reply(
                200,
                self._completion(
                    req,
                    {"role": "assistant", "content": behaviour.options.get("text", "")},
                    finish_reason=behaviour.options.get("reason", "content_filter"),
                    native_finish_reason=behaviour.options.get("native"),
                ),
            )
        return Reply(200, self._success(req, **behaviour.options))

    def _success(
        self,
        req: RecordedRequest,
        *,
        where: str = "images",
        mime: str = "image/png",
        text: str = "Here is your image.",
        markdown: bool = True,
    ) -> dict:
        number = self.next_number()
        width, height = req.pixels
        image = image_bytes(
            width, height, colour_for("chat", number, req.prompt), "JPEG" if mime == "image/jpeg" else "PNG"
        )
        req.images.append(image)
        data_url = f"data:{mime};base64,{base64.b64encode(image).decode()}"
        message: dict = {"role": "assistant", "content": text}
        if where == "images":
            message["images"] = [{"type": "image_url", "image_url": {"url": data_url}, "index": 0}]
        elif where == "images_url":
            message["images"] = [{"type": "image_url", "image_url": {"url": self.add_file(image, mime)}}]
        elif where == "content_array":
            message["content"] = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": data_url}}]
        elif where == "markdown":
            message["content"] = f"{text}\n\n![image]({data_url})"
        elif where == "data_url_text":
            message["content"] = f"{text} {data_url}"
        elif where == "text_url":
            link = self.add_file(image, mime)
            message["content"] = f"{text}\n\n![image]({link})" if markdown else f"{text} {link}"
        return self._completion(req, message, finish_reason="stop")

    def _completion(
        self, req: RecordedRequest, message: dict, finish_reason: str, native_finish_reason: str | None = None
    ) -> dict:
        prompt_tokens = max(1, len(req.prompt) // 4) + 258 * len(req.references)
        completion = 1290 if req.images else 0
        choice = {"index": 0, "message": message, "finish_reason": finish_reason}
        if native_finish_reason:  # OpenRouter: the model's own reason next to the normalised one
            choice["native_finish_reason"] = native_finish_reason
        return {
            "id": f"gen-fake-{self.next_number()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion,
                "completion_tokens_details": {"image_tokens": completion},
            },
        }


if __name__ == "__main__":
    run_standalone(FakeOpenAIChat)
