"""Shared HTTP for the provider modules: one client, one error mapping, safe downloads.

Every failure becomes a ProviderError subclass whose message names the cause and the
fix. API keys never appear in what we raise or log: provider messages are scrubbed of
them before they are kept.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cache
from urllib.parse import urljoin, urlsplit

import httpx

from .base import (
    AuthError,
    BlockedError,
    PermanentError,
    ProviderError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryableError,
)
from .registry import ProviderConfig

CONNECT_TIMEOUT = 15.0
RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504, 520, 522, 524, 529}
# The largest API reply read into memory (a few 4K images in base64 fit easily).
RESPONSE_MAX_BYTES = 256 * 1024 * 1024
# A bare 429 (no RetryInfo, no Retry-After, nothing about quota): wait this long.
BARE_429_WAIT_SECONDS = 60.0
# Phrases that mean "out of money or quota", not "too fast".
QUOTA_WORDS = re.compile(
    r"credit|billing|insufficient[_ ]quota|prepa(id|y)|balance|top up|exceeded your current quota", re.IGNORECASE
)
# Request parameters a 400 message may name, in the spellings the protocols use.
KNOWN_PARAMS = (
    "imageSize",
    "image_size",
    "aspectRatio",
    "aspect_ratio",
    "candidateCount",
    "responseModalities",
    "modalities",
    "inlineData",
    "inline_data",
    "mimeType",
    "response_format",
    "image_config",
    "size",
    "quality",
    "model",
    "prompt",
    "image",
    "n",
)
MIME_BY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


@dataclass(frozen=True)
class Call:
    """Who we are calling and with what, for error messages and key scrubbing."""

    config: ProviderConfig
    api_key: str = field(default="", repr=False)  # never in a repr, a log line or a traceback
    model: str = ""
    # Wire parameter name -> value we sent, so a 400 can say which one was refused.
    sent: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.config.display_name

    def scrub(self, text: str) -> str:
        """Remove every key of this provider from text that came from outside."""
        secrets = {self.api_key, *self.config.api_keys()}
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


# -- clients -----------------------------------------------------------------


@cache
def client(read_timeout: float) -> httpx.Client:
    """A pooled client per timeout; httpx clients are safe to share between threads."""
    timeout = httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT, pool=read_timeout)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    return httpx.Client(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)


def auth_headers(config: ProviderConfig, api_key: str) -> dict[str, str]:
    if not api_key:
        return {}
    if config.auth_style == "x-goog-api-key":
        return {"x-goog-api-key": api_key}
    return {"Authorization": f"Bearer {api_key}"}


def require_key(call: Call) -> None:
    """A provider that names a key variable gets no call without a key."""
    if call.config.key_env and not call.api_key:
        raise AuthError(
            f"{call.name} has no API key",
            hint=f"set {call.config.key_env} in the environment and restart",
        )


def post(call: Call, url: str, **kwargs) -> dict:
    """POST and return the parsed JSON object, or raise the typed error."""
    headers = {**auth_headers(call.config, call.api_key), **kwargs.pop("headers", {})}
    try:
        with client(call.config.request_timeout()).stream("POST", url, headers=headers, **kwargs) as streamed:
            response = _buffered(call, streamed)
    except httpx.TimeoutException as exc:
        raise RetryableError(f"{call.name} did not answer in time ({_timeout_kind(exc)})") from None
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise RetryableError(
            f"Connection to {call.name} failed: {call.scrub(str(exc)) or type(exc).__name__}",
            hint=f"is {call.config.base_url} reachable?",
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise PermanentError(
            f"Cannot call {call.name}: {call.scrub(str(exc))}", hint="check the provider's base URL"
        ) from None
    if response.status_code >= 400:
        raise error_from_response(call, response)
    return parse_json(call, response)


def _buffered(call: Call, response: httpx.Response) -> httpx.Response:
    """The reply read into memory, but never more than RESPONSE_MAX_BYTES of it."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > RESPONSE_MAX_BYTES:
        raise PermanentError(_reply_too_big(call, int(declared)))
    chunks, total = [], 0
    for chunk in response.iter_bytes():  # decoded: a small gzip bomb is counted at full size
        total += len(chunk)
        if total > RESPONSE_MAX_BYTES:
            raise PermanentError(_reply_too_big(call, total))
        chunks.append(chunk)
    skip = ("content-encoding", "content-length", "transfer-encoding")
    return httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() not in skip],
        content=b"".join(chunks),
        request=response.request,
        extensions={"reason_phrase": response.extensions.get("reason_phrase", b"")},
    )


def _reply_too_big(call: Call, size: int) -> str:
    return f"{call.name} sent a reply larger than {RESPONSE_MAX_BYTES // 1_048_576} MB ({size} bytes or more)"


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect timeout",
        httpx.ReadTimeout: "read timeout",
        httpx.WriteTimeout: "write timeout",
        httpx.PoolTimeout: "no free connection",
    }.get(type(exc), "timeout")


def parse_json(call: Call, response: httpx.Response) -> dict:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RetryableError(
            f"{call.name} sent an unreadable reply (HTTP {response.status_code}, {len(response.content)} bytes, "
            f"{response.headers.get('content-type', 'no content type')})",
            status=response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise RetryableError(f"{call.name} sent JSON that is not an object", status=response.status_code)
    return body


# -- error mapping -----------------------------------------------------------


def error_body(response: httpx.Response) -> dict:
    """The `error` object of a Google or OpenAI error body, or {}."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    return {}


def embedded_error(call: Call, body: dict) -> ProviderError:
    """A 200 whose body is an error object (some relays pass upstream errors on so)."""
    code = body["error"].get("code") if isinstance(body.get("error"), dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 502
    return error_from_response(call, httpx.Response(status, json=body))


def error_from_response(call: Call, response: httpx.Response) -> ProviderError:
    status = response.status_code
    error = error_body(response)
    message = call.scrub(str(error.get("message") or "").strip()) or _short_text(call, response)
    said = f"{call.name} answered {status}" + (f": {message}" if message else "")
    retry_after = retry_info_delay(error)
    if retry_after is None:  # "0s" is a wait too: retry now, not "quota used up"
        retry_after = retry_after_header(response.headers)

    if status == 429:
        return rate_limit_error(call, said, error, retry_after)
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(said, status=status, retry_after=retry_after, hint=_retry_hint(status))
    if status in (401, 403) or _reason(error) in ("API_KEY_INVALID", "API_KEY_EXPIRED"):
        return AuthError(
            f"{call.name} rejected the key ({status})" + (f": {message}" if message else ""),
            status=status,
            hint=f"check {call.config.key_env or 'the API key'}",
        )
    if _is_policy_refusal(error):
        return BlockedError(
            f"{call.name} refused the request on policy grounds: {message}",
            reason=str(error.get("code") or "CONTENT_POLICY").upper(),
        )
    if status == 404:
        return PermanentError(
            said,
            status=status,
            hint=f"unknown model id {call.model!r} at {call.name}: check the model id "
            f"(or model_aliases) and the base URL {call.config.base_url}",
        )
    if status == 413:
        return PermanentError(said, status=status, hint="the request is too large: send fewer or smaller references")
    if status == 400:
        return PermanentError(said, status=status, hint=bad_parameter_hint(call, message, error))
    return PermanentError(said, status=status)


def rate_limit_error(call: Call, said: str, error: dict, retry_after: float | None) -> ProviderError:
    if retry_after is not None:
        return RateLimitedError(said, status=429, retry_after=retry_after)
    # A 429 that says nothing about when to come back is, on Gemini, prepaid credits or
    # a quota used up; on relays "insufficient_quota" or "credits" says the same. Hours
    # of retries would only keep the job (and its budget reservation) hanging, so these
    # fail now with a fix; the user resubmits after topping up.
    google_style = error.get("status") == "RESOURCE_EXHAUSTED"
    if google_style or QUOTA_WORDS.search(f"{error.get('code', '')} {error.get('message', '')}"):
        return QuotaExhaustedError(
            said,
            status=429,
            hint=f"the quota or prepaid credits for {call.config.key_env or call.name} look used up: "
            "check the account's billing, then resubmit",
        )
    # A relay that throttles without saying for how long: wait a conservative minute.
    return RateLimitedError(said, status=429, retry_after=BARE_429_WAIT_SECONDS)


def _retry_hint(status: int) -> str:
    return {503: "the model is overloaded; it will be retried", 504: "the provider timed out; it will be retried"}.get(
        status, "it will be retried"
    )


def _reason(error: dict) -> str:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    return ""


def _is_policy_refusal(error: dict) -> bool:
    code = str(error.get("code") or "").lower()
    return code in ("content_policy_violation", "moderation_blocked", "content_filter")


def _short_text(call: Call, response: httpx.Response) -> str:
    text = response.text.strip() if response.content else ""
    if not text or text.startswith("<"):  # an HTML error page says nothing useful
        return response.reason_phrase or ""
    return call.scrub(text[:300])


def bad_parameter_hint(call: Call, message: str, error: dict) -> str:
    sent = dict(call.sent)
    param = str(error.get("param") or "")
    if not param:
        lowered = message.lower()
        param = next((p for p in KNOWN_PARAMS if re.search(rf"\b{re.escape(p.lower())}\b", lowered)), "")
    if not param:
        return "the provider rejected a parameter; see its message"
    value = sent.get(param) or next(
        (v for k, v in sent.items() if k.lower().replace("_", "") == param.lower().replace("_", "").split(".")[-1]), ""
    )
    sent_note = f" (we sent {value!r})" if value else ""
    return f"the provider rejected the {param} parameter{sent_note}: check the model's sizes and ratios in the admin"


# -- waits -------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def retry_info_delay(error: dict) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail ("53s", "45.837906927s")."""
    for detail in error.get("details") or []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, dict):  # {"seconds": 53, "nanos": 0} in some transcodings
            return float(delay.get("seconds") or 0) + float(delay.get("nanos") or 0) / 1e9
        match = _DURATION.match(str(delay or ""))
        if match:
            return float(match.group(1))
    return None


def retry_after_header(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds from Retry-After (seconds or HTTP date) or X-RateLimit-Reset."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    for name in ("x-ratelimit-reset", "x-ratelimit-reset-requests"):
        value = headers.get(name)
        if value:
            seconds = _reset_seconds(value.strip(), now)
            if seconds is not None:
                return seconds
    return None


def _reset_seconds(value: str, now: float) -> float | None:
    """X-RateLimit-Reset comes as seconds to wait, a Unix time (s or ms), or "6m0s"."""
    try:
        number = float(value)
    except ValueError:
        parts = _GO_DURATION.findall(value)
        if not parts:
            return None
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
        return sum(float(n) * scale[unit] for n, unit in parts)
    if number > 1e11:  # Unix time in milliseconds
        return max(0.0, number / 1000 - now)
    if number > 1e9:  # Unix time in seconds
        return max(0.0, number - now)
    return max(0.0, number)


# -- image bytes -------------------------------------------------------------


def b64decode(data: str) -> bytes:
    """Either base64 alphabet, with or without padding; raises ValueError."""
    cleaned = re.sub(r"\s+", "", data)
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned)
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64: {exc}") from None


def sniff_mime(data: bytes, declared: str = "") -> str:
    for magic, mime in MIME_BY_MAGIC:
        if data.startswith(magic):
            return mime
    return declared or "application/octet-stream"


_DATA_URL = re.compile(r"^data:(image/[\w.+-]+)?(?:;[\w=.-]+)*;base64,(.*)$", re.DOTALL)


def decode_data_url(call: Call, url: str) -> tuple[bytes, str]:
    match = _DATA_URL.match(url.strip())
    if not match:
        raise RetryableError(f"{call.name} sent a data URL that is not base64 image data")
    try:
        data = b64decode(match.group(2))
    except ValueError:
        raise RetryableError(f"{call.name} sent an image whose base64 data is damaged") from None
    return data, sniff_mime(data, match.group(1) or "")


def download_image(call: Call, url: str) -> tuple[bytes, str]:
    """Fetch a result URL now (they expire), within the provider's safety rules."""
    config = call.config
    # download_timeout bounds the whole download, not only each read: a server that
    # trickles a byte now and then would otherwise hold the worker indefinitely.
    deadline = time.monotonic() + config.download_timeout
    for _hop in range(4):
        check_download_url(config, url)
        try:
            with client(config.download_timeout).stream("GET", url, timeout=config.download_timeout) as response:
                if not config.local:
                    check_peer(call, response)
                if response.is_redirect and response.headers.get("location"):
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    error = RetryableError if response.status_code in RETRYABLE_STATUSES else PermanentError
                    raise error(
                        f"Downloading the image from {call.name} failed: HTTP {response.status_code}",
                        status=response.status_code,
                    )
                data = _read_capped(call, response, deadline)
                mime = sniff_mime(data, response.headers.get("content-type", "").split(";")[0].strip())
                if not mime.startswith("image/"):  # an expired link's HTML page, say
                    raise PermanentError(
                        f"{call.name} linked to something that is not an image ({mime}, {len(data)} bytes)",
                        status=response.status_code,
                    )
                return data, mime
        except httpx.TimeoutException:
            raise RetryableError(f"Downloading the image from {call.name} timed out") from None
        except httpx.InvalidURL:
            raise PermanentError(f"{call.name} linked to an invalid image URL") from None
        except httpx.HTTPError as exc:
            raise RetryableError(f"Downloading the image from {call.name} failed: {type(exc).__name__}") from None
    raise PermanentError(f"{call.name} redirected the image download too many times")


def _read_capped(call: Call, response: httpx.Response, deadline: float) -> bytes:
    cap = call.config.download_max_bytes
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise PermanentError(_too_big(call, int(declared)))
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise RetryableError(f"Downloading the image from {call.name} timed out (too slow)")
        total += len(chunk)
        if total > cap:
            raise PermanentError(_too_big(call, total))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(call: Call, size: int) -> str:
    return (
        f"The image {call.name} linked to is larger than the {call.config.download_max_bytes // 1_048_576} MB "
        f"download limit ({size} bytes or more)"
    )


def check_download_url(config: ProviderConfig, url: str) -> None:
    """https only, and never a private or loopback address, unless the provider is local."""
    parts = urlsplit(url)
    if config.local:
        if parts.scheme not in ("http", "https"):
            raise PermanentError(f"Refusing to download the image from a {parts.scheme or 'relative'} URL")
        return
    if parts.scheme != "https":
        raise PermanentError(
            f"Refusing to download the image over {parts.scheme or 'a relative URL'}: only https is allowed",
            hint="set local=true on the provider if it really serves images over plain http",
        )
    host = parts.hostname or ""
    for address in _addresses(host, parts.port or 443):
        if is_forbidden(address):
            raise _private(host)


def _private(host: str) -> PermanentError:
    return PermanentError(
        f"Refusing to download the image from {host}: it resolves to a private or loopback address",
        hint="set local=true on the provider if it runs on your own network",
    )


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Not a public unicast address, also when an IPv4 address hides inside an IPv6 one."""
    if not address.is_global or address.is_multicast:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (address.teredo or (None, None))[1]
        if address in _NAT64 or address in _V4_COMPATIBLE:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_forbidden(embedded)
    return False


def check_peer(call: Call, response: httpx.Response) -> None:
    """The address we actually connected to: DNS may answer differently the second time."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%")[0])
    except ValueError:
        return
    if is_forbidden(address):
        raise _private(response.url.host)


def _addresses(host: str, port: int) -> Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise RetryableError(f"Cannot resolve the image host {host}") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
