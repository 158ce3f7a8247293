"""Which providers are configured, from settings and the environment.

Built in:
- `demo`: always there unless DEMO_PROVIDER=0; offline, free.
- `gemini`: when GEMINI_API_KEY is set (GEMINI_BASE_URL for native-protocol relays).
- `openai_images`: when OPENAI_IMAGES_BASE_URL is set (key OPENAI_IMAGES_API_KEY).
- `openai_chat`: when OPENAI_CHAT_BASE_URL is set (key OPENAI_CHAT_API_KEY).

More providers come from PROVIDERS_JSON, a JSON list of objects with the fields of
ProviderConfig (name, protocol, base_url, key_env, models, ...). Keys themselves are
only ever read from the environment variable named by `key_env`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import import_module
from types import ModuleType

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PROTOCOLS = ("demo", "gemini", "openai_images", "openai_chat")
AUTH_STYLES = ("x-goog-api-key", "bearer")
SIZE_STYLES = ("wxh", "ratio")
DEFAULT_GEMINI_MODELS = ("gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview")


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    protocol: str
    label: str = ""
    base_url: str = ""
    key_env: str = ""
    # Model ids this provider serves; empty means every active ModelCapability.
    models: tuple[str, ...] = ()
    # Our model id -> the id the provider wants on the wire (relays rename models).
    model_aliases: dict = field(default_factory=dict)
    # "x-goog-api-key" (Google) or "bearer" (most relays).
    auth_style: str = "bearer"
    # openai_images: how ratio and size go on the wire: "wxh" ("1376x768") or
    # "ratio" (size="16:9" plus image_size="2K").
    size_style: str = "wxh"
    # Allow http:// and private/loopback addresses for downloaded result URLs.
    local: bool = False
    # Result URLs (openai_images `url`, image links in chat replies) are fetched at once
    # with this size cap and timeout.
    download_max_bytes: int = 50 * 1024 * 1024
    download_timeout: float = 60.0
    rpm: int = 0
    concurrency: int = 0
    timeout: float = 0.0
    # "tokens": cost from usage numbers and ModelPrice; "per_call": from CallPrice.
    billing: str = "tokens"
    # Whether a blocked or failed call is charged (some providers bill them).
    charge_failures: bool = False
    fallbacks: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def is_demo(self) -> bool:
        return self.protocol == "demo"

    def api_keys(self) -> list[str]:
        """Keys from the environment (comma-separated for rotation). Never stored."""
        if not self.key_env:
            return []
        return [k.strip() for k in os.environ.get(self.key_env, "").split(",") if k.strip()]

    def wire_model(self, model_id: str) -> str:
        return self.model_aliases.get(model_id, model_id)

    def serves(self, model_id: str) -> bool:
        return not self.models or model_id in self.models

    def request_timeout(self) -> float:
        return self.timeout or settings.PROVIDER_TIMEOUT_SECONDS


def _from_dict(data: dict) -> ProviderConfig:
    known = {f.name for f in fields(ProviderConfig)}
    unknown = set(data) - known
    if unknown:
        raise ImproperlyConfigured(f"PROVIDERS_JSON: unknown field(s) {sorted(unknown)} in {data.get('name')!r}")
    if data.get("protocol") not in PROTOCOLS:
        raise ImproperlyConfigured(
            f"PROVIDERS_JSON: provider {data.get('name')!r} has protocol {data.get('protocol')!r}; "
            f"use one of {', '.join(PROTOCOLS)}"
        )
    data = dict(data)
    for key in ("models", "fallbacks"):
        if key in data:
            data[key] = tuple(data[key])
    # JSON "false" (a string) is truthy: a mistyped `"local": "false"` would switch the
    # download safety rules off. Flags must be real booleans, numbers real numbers.
    for f in fields(ProviderConfig):
        if f.name not in data:
            continue
        value, wanted = data[f.name], f.type
        if wanted == "bool" and not isinstance(value, bool):
            raise ImproperlyConfigured(
                f"PROVIDERS_JSON: {f.name} of {data.get('name')!r} must be true or false, not {value!r}"
            )
        if wanted in ("int", "float") and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ImproperlyConfigured(f"PROVIDERS_JSON: {f.name} of {data.get('name')!r} must be a number")
    return _checked(ProviderConfig(**data))


def _checked(config: ProviderConfig) -> ProviderConfig:
    if config.auth_style not in AUTH_STYLES:
        raise ImproperlyConfigured(
            f"Provider {config.name!r}: auth_style {config.auth_style!r}; use one of {', '.join(AUTH_STYLES)}"
        )
    if config.size_style not in SIZE_STYLES:
        raise ImproperlyConfigured(
            f"Provider {config.name!r}: size_style {config.size_style!r}; use one of {', '.join(SIZE_STYLES)}"
        )
    if config.protocol not in ("demo",) and not config.base_url:
        raise ImproperlyConfigured(f"Provider {config.name!r} needs a base_url")
    return config


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@cache
def _configured(env_snapshot: tuple) -> dict[str, ProviderConfig]:
    env = dict(env_snapshot)
    providers: dict[str, ProviderConfig] = {}
    if settings.DEMO_PROVIDER_ENABLED:
        providers["demo"] = ProviderConfig(name="demo", protocol="demo", label="Demo (offline)")
    if env.get("GEMINI_API_KEY"):
        providers["gemini"] = ProviderConfig(
            name="gemini",
            protocol="gemini",
            label="Google Gemini",
            base_url=env.get("GEMINI_BASE_URL") or "https://generativelanguage.googleapis.com",
            key_env="GEMINI_API_KEY",
            auth_style=env.get("GEMINI_AUTH_STYLE") or "x-goog-api-key",
            models=DEFAULT_GEMINI_MODELS,
            rpm=int(env.get("GEMINI_RPM") or 0),
            concurrency=int(env.get("GEMINI_CONCURRENCY") or 0),
        )
    if env.get("OPENAI_IMAGES_BASE_URL"):
        providers["openai_images"] = ProviderConfig(
            name="openai_images",
            protocol="openai_images",
            label="Images relay",
            base_url=env["OPENAI_IMAGES_BASE_URL"],
            key_env="OPENAI_IMAGES_API_KEY",
            size_style=env.get("OPENAI_IMAGES_SIZE_STYLE") or "wxh",
            local=_flag(env.get("OPENAI_IMAGES_LOCAL")),
            billing="per_call",
            rpm=int(env.get("OPENAI_IMAGES_RPM") or 0),
            concurrency=int(env.get("OPENAI_IMAGES_CONCURRENCY") or 0),
        )
    if env.get("OPENAI_CHAT_BASE_URL"):
        providers["openai_chat"] = ProviderConfig(
            name="openai_chat",
            protocol="openai_chat",
            label="Chat relay",
            base_url=env["OPENAI_CHAT_BASE_URL"],
            key_env="OPENAI_CHAT_API_KEY",
            local=_flag(env.get("OPENAI_CHAT_LOCAL")),
            rpm=int(env.get("OPENAI_CHAT_RPM") or 0),
            concurrency=int(env.get("OPENAI_CHAT_CONCURRENCY") or 0),
        )
    if env.get("PROVIDERS_JSON"):
        try:
            extra = json.loads(env["PROVIDERS_JSON"])
        except json.JSONDecodeError as exc:
            raise ImproperlyConfigured(f"PROVIDERS_JSON is not valid JSON: {exc}") from exc
        for item in extra:
            config = _from_dict(item)
            providers[config.name] = config
    return {name: _checked(config) for name, config in providers.items()}


_ENV_KEYS = (
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "GEMINI_AUTH_STYLE",
    "GEMINI_RPM",
    "GEMINI_CONCURRENCY",
    "OPENAI_IMAGES_BASE_URL",
    "OPENAI_IMAGES_SIZE_STYLE",
    "OPENAI_IMAGES_RPM",
    "OPENAI_IMAGES_CONCURRENCY",
    "OPENAI_IMAGES_LOCAL",
    "OPENAI_CHAT_BASE_URL",
    "OPENAI_CHAT_RPM",
    "OPENAI_CHAT_CONCURRENCY",
    "OPENAI_CHAT_LOCAL",
    "PROVIDERS_JSON",
)


def providers() -> dict[str, ProviderConfig]:
    """The configured providers, in a stable order (demo first when present)."""
    # Keyed on the relevant environment (presence of keys, not their values), so
    # tests that set variables see the change without a process restart.
    snapshot = tuple(
        (k, ("set" if k.endswith("API_KEY") and os.environ.get(k) else os.environ.get(k, ""))) for k in _ENV_KEYS
    )
    return _configured((*snapshot, ("demo", settings.DEMO_PROVIDER_ENABLED)))


def get_provider(name: str) -> ProviderConfig | None:
    return providers().get(name)


def default_provider() -> ProviderConfig | None:
    """A real provider if one is configured, else the demo."""
    configured = providers()
    real = [p for p in configured.values() if not p.is_demo]
    if real:
        return real[0]
    return configured.get("demo")


def protocol_module(protocol: str) -> ModuleType:
    if protocol not in PROTOCOLS:
        raise ImproperlyConfigured(f"Unknown provider protocol {protocol!r}")
    return import_module(f"generator.providers.{protocol}")
