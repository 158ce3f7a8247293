"""Shared machinery of the fake provider servers: real HTTP on loopback, threaded.

A fake is a context manager:

    with FakeGemini(api_key="test-key") as fake:
        fake.script(error(429, retry_delay="53s"), ok())
        ... call fake.url ...
        fake.requests[-1].body

Each request takes the next scripted behaviour (`ok()`, `blocked(...)`, `error(...)`,
`hang(...)`, `truncated()`, protocol-specific kinds); with the script empty it is a
success, or, with `fault_rate`, a random 429 / 503 / hang from a seeded RNG. `latency`
seconds are added to every call. Everything a fake sent back is recorded on the
request (`images`, `thought_images`) so tests can compare bytes exactly.
"""

from __future__ import annotations

import argparse
import base64
import collections
import email.parser
import email.policy
import hashlib
import io
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from generator.seed import MODEL_CAPABILITIES

CAPABILITIES = {cap["model_id"]: cap for cap in MODEL_CAPABILITIES}
# GA ids share the tables of their preview ids.
for _preview in list(CAPABILITIES):
    if _preview.endswith("-preview"):
        CAPABILITIES.setdefault(_preview.removesuffix("-preview"), CAPABILITIES[_preview])


# -- behaviours ----------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    kind: str
    options: dict = field(default_factory=dict)


def ok(**options: Any) -> Behaviour:
    return Behaviour("ok", options)


def blocked(reason: str = "IMAGE_SAFETY", **options: Any) -> Behaviour:
    return Behaviour("blocked", {"reason": reason, **options})


def error(status: int, message: str = "", **options: Any) -> Behaviour:
    """An HTTP error. Options: retry_delay ("53s", Gemini RetryInfo), headers={...}."""
    return Behaviour("error", {"status": status, "message": message, **options})


def hang(seconds: float = 30.0, **options: Any) -> Behaviour:
    """Wait this long before answering (a read timeout for an impatient client)."""
    return Behaviour("hang", {"seconds": seconds, **options})


def truncated(**options: Any) -> Behaviour:
    """A success whose body is cut off halfway (Content-Length promises more)."""
    return Behaviour("truncated", options)


def garbage(body: bytes = b"<html>Bad gateway</html>", status: int = 200) -> Behaviour:
    return Behaviour("raw", {"reply": Reply(status=status, body=body, content_type="text/html")})


def raw(reply: Reply) -> Behaviour:
    return Behaviour("raw", {"reply": reply})


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw: bytes
    at: float
    behaviour: str = ""
    status: int = 0
    # Images the fake sent back for this request, in order: final, and interim thoughts.
    images: list[bytes] = field(default_factory=list)
    thought_images: list[bytes] = field(default_factory=list)
    auth: str = ""  # how the key arrived: "x-goog-api-key", "query", "bearer" or ""
    # What the fake understood of the request.
    model: str = ""
    prompt: str = ""
    references: list[tuple[int, int]] = field(default_factory=list)  # pixel sizes
    ratio: str = ""
    size: str = ""
    signature: str = ""  # the first final image's thoughtSignature
    signatures: list[str] = field(default_factory=list)  # every final image's, in order
    n: int = 1
    pixels: tuple[int, int] = (0, 0)  # the size the fake will answer with
    response_format: str = ""


# -- images and tables -------------------------------------------------------------


@lru_cache(maxsize=256)
def image_bytes(width: int, height: int, colour: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    """Real image bytes at an exact size: a two-colour gradient, so bytes differ by colour."""
    small = Image.new("RGB", (2, 2), colour)
    small.putpixel((1, 1), tuple(255 - c for c in colour))
    img = small.resize((width, height), Image.Resampling.NEAREST)
    out = io.BytesIO()
    if fmt == "JPEG":
        img.save(out, format="JPEG", quality=80)
    else:
        img.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def colour_for(*parts: object) -> tuple[int, int, int]:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return digest[0], digest[1], digest[2]


def pixel_size(model: str, size: str, ratio: str) -> tuple[int, int] | None:
    cap = CAPABILITIES.get(model.split("/")[-1])
    if not cap:
        return None
    dims = cap["pixel_sizes"].get(size, {}).get(ratio)
    return (dims[0], dims[1]) if dims else None


def closest_ratio(model: str, width: int, height: int) -> str:
    cap = CAPABILITIES.get(model.split("/")[-1])
    ratios = cap["aspect_ratios"] if cap else ["1:1"]

    def distance(ratio: str) -> float:
        a, b = (int(x) for x in ratio.split(":"))
        return abs(a / b - width / height)

    return min(ratios, key=distance)


def decode_b64(data: str) -> bytes:
    """Both alphabets, padding optional; raises ValueError."""
    data = data.strip()
    data += "=" * (-len(data) % 4)
    if "-" in data or "_" in data:
        return base64.urlsafe_b64decode(data)
    return base64.b64decode(data, validate=True)


def parse_multipart(content_type: str, body: bytes) -> dict[str, list]:
    """{"field": ["value", ...], "image[]": [{"filename", "content_type", "data"}, ...]}."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, list] = collections.defaultdict(list)
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            fields[name].append({"filename": filename, "content_type": part.get_content_type(), "data": payload})
        else:
            fields[name].append(payload.decode())
    return dict(fields)


# -- the server ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        # A client that gives up (a read timeout on a 'hang', a killed worker) is part of
        # the fault scenarios, not an error of the fake: no traceback for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """Base of the protocol fakes. Subclasses implement `validate` and `render`."""

    name = "fake"
    fault_kinds = ("rate_limited", "unavailable", "hang")

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        api_key: str | None = None,
        hang_seconds: float = 30.0,
        fault_retry_delay: float = 1.0,
    ) -> None:
        self.host, self.port = host, port
        self.latency = latency
        self.fault_rate = fault_rate
        self.api_key = api_key
        self.hang_seconds = hang_seconds
        self.fault_retry_delay = fault_retry_delay
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._script: collections.deque[Behaviour] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._counter = 0
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeServer:
        self._httpd = _Server((self.host, self.port), _handler_for(self))
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name=f"{self.name}-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # scripting and inspection
    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._script.clear()

    def add_file(self, data: bytes, mime: str) -> str:
        """Serve bytes at a URL on this server (relay CDN links); return the URL."""
        name = hashlib.sha256(data).hexdigest()[:24] + (".jpg" if mime == "image/jpeg" else ".png")
        with self._lock:
            self._files[name] = (data, mime)
        return f"{self.url}/files/{name}"

    def next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self.fault_rate and self._rng.random() < self.fault_rate:
                return Behaviour("fault", {"fault": self._rng.choice(self.fault_kinds)})
        return ok()

    # request handling
    def handle(self, req: RecordedRequest) -> tuple[Reply, bool]:
        """The reply, and whether to truncate it."""
        if req.method == "GET" and req.path.startswith("/files/"):
            found = self._files.get(req.path.removeprefix("/files/"))
            if not found:
                return Reply(404, b"not found", content_type="text/plain"), False
            return Reply(200, found[0], content_type=found[1]), False
        rejected = self.validate(req)
        if rejected is not None:
            req.behaviour = "rejected"
            return rejected, False
        if self.latency:
            self.sleep(self.latency)
        behaviour = self._next_behaviour()
        if behaviour.kind == "fault":
            behaviour = self.fault(behaviour.options["fault"])
        req.behaviour = behaviour.kind
        if behaviour.kind == "hang":
            self.sleep(behaviour.options.get("seconds", self.hang_seconds))
            behaviour = ok(**{k: v for k, v in behaviour.options.items() if k != "seconds"})
        if behaviour.kind == "raw":
            return behaviour.options["reply"], False
        if behaviour.kind == "truncated":
            return self.render(ok(**behaviour.options), req), True
        return self.render(behaviour, req), False

    def fault(self, kind: str) -> Behaviour:
        if kind == "rate_limited":
            return error(
                429,
                retry_delay=f"{self.fault_retry_delay}s",
                headers={"Retry-After": str(int(self.fault_retry_delay) or 1)},
            )
        if kind == "unavailable":
            return error(503)
        return hang(self.hang_seconds)

    def check_bearer(self, req: RecordedRequest) -> str | None:
        """The bearer key, if one was sent."""
        header = req.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            req.auth = "bearer"
            return header[7:].strip()
        return None

    # for subclasses
    def validate(self, req: RecordedRequest) -> Reply | None:
        """A rejection (bad path, key or parameter) that does not consume the script."""
        return None

    def render(self, behaviour: Behaviour, req: RecordedRequest) -> Reply:
        raise NotImplementedError

    def record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # idle keep-alive connections close

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            req = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=_parse_body(self.headers, raw_body),
                raw=raw_body,
                at=time.time(),
            )
            server.record(req)
            reply, cut = server.handle(req)
            req.status = reply.status
            self._send(reply, cut)

        def _send(self, reply: Reply, cut: bool) -> None:
            body = reply.encoded()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to do
            if cut:
                self.close_connection = True

    return Handler


def _parse_body(headers: Any, raw_body: bytes) -> Any:
    content_type = headers.get("content-type", "")
    if not raw_body:
        return None
    if content_type.startswith("multipart/"):
        return parse_multipart(content_type, raw_body)
    try:
        return json.loads(raw_body)
    except ValueError:
        return None


def run_standalone(server_class: type[FakeServer], argv: list[str] | None = None) -> None:
    """`python -m tests.fakes.<protocol> --port 8765 --latency 1.0 --fault-rate 0.3`."""
    parser = argparse.ArgumentParser(description=f"Run the fake {server_class.name} server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of calls that fail at random")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument("--api-key", default=None, help="the only key accepted (default: any key)")
    parser.add_argument("--hang-seconds", type=float, default=30.0, help="how long a 'hang' fault waits")
    args = parser.parse_args(argv)
    fake = server_class(
        host=args.host,
        port=args.port,
        latency=args.latency,
        fault_rate=args.fault_rate,
        seed=args.seed,
        api_key=args.api_key,
        hang_seconds=args.hang_seconds,
    )
    with fake:
        print(fake.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
