"""Several API keys per provider, rotated; a key refused with 401/403 is set aside.

Keys come only from the environment (comma-separated). A set-aside key is remembered by
a short SHA-256 fingerprint and its position, which is all any page or log shows.
A refusal can pass (billing restored, the API switched on), so a set-aside key is tried
again after KEY_SET_ASIDE_SECONDS (0: only when an admin re-enables it); refused again,
it is set aside again from then.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .dispatch_models import SetAsideKey
from .providers.registry import ProviderConfig

_turn = itertools.count()


@dataclass(frozen=True)
class KeyChoice:
    index: int  # 1-based position in the variable
    key: str
    fingerprint: str

    @property
    def label(self) -> str:
        return f"key #{self.index} ({self.fingerprint})"


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def _set_aside(provider: ProviderConfig):
    rows = SetAsideKey.objects.filter(provider=provider.name)
    if settings.KEY_SET_ASIDE_SECONDS > 0:
        rows = rows.filter(set_aside_at__gt=timezone.now() - timedelta(seconds=settings.KEY_SET_ASIDE_SECONDS))
    return rows


def usable(provider: ProviderConfig) -> list[KeyChoice]:
    aside = set(_set_aside(provider).values_list("fingerprint", flat=True))
    choices = [KeyChoice(i + 1, key, fingerprint(key)) for i, key in enumerate(provider.api_keys())]
    return [c for c in choices if c.fingerprint not in aside]


def pick(provider: ProviderConfig) -> KeyChoice | None:
    """The next usable key in turn; None if the provider has keys but all are set aside."""
    if not provider.api_keys():
        return KeyChoice(0, "", "")  # no key configured: the protocol module says what to set
    choices = usable(provider)
    if not choices:
        return None
    return choices[next(_turn) % len(choices)]


def set_aside(provider: ProviderConfig, choice: KeyChoice, status: int | None, reason: str) -> None:
    SetAsideKey.objects.update_or_create(
        provider=provider.name,
        fingerprint=choice.fingerprint,
        defaults={"index": choice.index, "status": status, "reason": reason[:1000], "set_aside_at": timezone.now()},
    )


def set_aside_labels(provider: ProviderConfig) -> list[str]:
    return [f"key #{k.index} ({k.fingerprint})" for k in _set_aside(provider)]
