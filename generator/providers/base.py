"""The provider interface: one request in, images (or a typed error) out.

A protocol module exposes `generate(config, request) -> ProviderResult` and raises
only ProviderError subclasses. Dispatch decides what to do with each error kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class ReferenceInput:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class ProviderRequest:
    prompt: str
    model: str
    aspect_ratio: str
    size: str
    n: int = 1
    seed: int = 0
    references: tuple[ReferenceInput, ...] = ()
    # Expected output pixels for this model/ratio/size (from ModelCapability), if known.
    expected_pixels: tuple[int, int] | None = None
    # Whether to put imageSize on the wire (some models reject it).
    send_size: bool = True


@dataclass
class ProviderImage:
    data: bytes
    mime_type: str
    thought_signature: str = ""


@dataclass
class ProviderResult:
    images: list[ProviderImage]
    text: str = ""
    # Raw usage numbers as the provider sent them (Gemini usageMetadata, OpenAI usage).
    usage: dict = field(default_factory=dict)
    finish_reason: str = ""
    response_id: str = ""
    model_version: str = ""
    # Set by per-call-priced providers that report their own charge.
    reported_cost: Decimal | None = None


class ProviderError(Exception):
    """Base of every error a provider call can end in."""

    retryable = False
    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        hint: str = "",
        retry_after: float | None = None,
        usage: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint
        # Seconds the provider asked us to wait (RetryInfo, Retry-After, ...), if any.
        self.retry_after = retry_after
        self.usage = usage or {}

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} — {self.hint}"
        return text


class RetryableError(ProviderError):
    """The same call may succeed later: 408, 429, 5xx, timeouts, truncated bodies."""

    retryable = True
    code = "retryable"


class RateLimitedError(RetryableError):
    code = "rate_limited"


class PermanentError(ProviderError):
    """Retrying cannot help: bad request, bad key, unknown model, unparseable reply."""

    code = "permanent"


class AuthError(PermanentError):
    """The key was refused (401/403). Dispatch sets that key aside."""

    code = "auth"


class BlockedError(ProviderError):
    """The provider refused on safety or policy grounds (a 200 with no image)."""

    code = "blocked"

    def __init__(self, message: str, *, reason: str = "", usage: dict | None = None) -> None:
        super().__init__(message, usage=usage)
        self.reason = reason


class QuotaExhaustedError(PermanentError):
    """A 429 that means "out of credits or quota", not "slow down": retrying soon is waste."""

    code = "quota_exhausted"
