"""Shared dispatch state: rate limits, concurrency slots, circuit breakers, set-aside keys.

Imported by generator/models.py so Django registers these with the app. Every row is
changed only by guarded UPDATEs, so workers on any number of machines agree.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RateState(models.Model):
    """One requests-per-minute limit, as a GCRA "theoretical arrival time"."""

    scope = models.CharField(max_length=160, unique=True)
    # Epoch seconds: the earliest moment the next request may start, ignoring burst.
    tat = models.FloatField(default=0.0)
    # Bumped on every change: the compare-and-swap guard.
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "rate limit state"

    def __str__(self) -> str:
        return self.scope


class ConcurrencySlot(models.Model):
    """One of a scope's N concurrent-call slots; free when holder is empty or its lease ran out."""

    scope = models.CharField(max_length=160)
    index = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scope", "index"]
        constraints = [models.UniqueConstraint(fields=["scope", "index"], name="slot_scope_index_unique")]

    def __str__(self) -> str:
        return f"{self.scope} #{self.index}"

    @property
    def in_use(self) -> bool:
        return bool(self.holder) and self.lease_until is not None and self.lease_until > timezone.now()


class Breaker(models.Model):
    """A circuit breaker for one provider/model."""

    scope = models.CharField(max_length=160, unique=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Set while open; once it has passed, one probe call is let through (half-open).
    open_until = models.DateTimeField(null=True, blank=True)
    probing = models.BooleanField(default=False)
    times_opened = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope"]

    def __str__(self) -> str:
        return self.scope

    @property
    def state(self) -> str:
        if self.open_until is None:
            return "closed"
        if self.open_until > timezone.now() and not self.probing:
            return "open"
        return "half-open"


class SetAsideKey(models.Model):
    """An API key a provider refused (401/403). Stored by fingerprint only, never the key."""

    provider = models.CharField(max_length=50)
    fingerprint = models.CharField(max_length=16, help_text="First hex digits of the key's SHA-256.")
    index = models.PositiveSmallIntegerField(help_text="1-based position in the provider's key variable.")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    set_aside_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "index"]
        constraints = [models.UniqueConstraint(fields=["provider", "fingerprint"], name="setaside_provider_fp_unique")]
        verbose_name = "set-aside API key"

    def __str__(self) -> str:
        return f"{self.provider} key #{self.index} ({self.fingerprint})"
