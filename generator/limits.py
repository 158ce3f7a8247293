"""Requests-per-minute limits and concurrency caps shared by every worker on every machine.

State lives in the database (RateState, ConcurrencySlot) or, when REDIS_URL is set, in
Redis. Limits apply per provider and, where MODEL_LIMITS configures one, per model:
a call needs a permit from each scope that applies.

RPM uses GCRA (one "theoretical arrival time" per scope, changed by compare-and-swap):
requests are spaced 60/rpm seconds apart, with LIMIT_BURST requests allowed at once.
A call whose turn is at most LIMIT_MAX_SLEEP_SECONDS away reserves that turn and
sleeps until it (pacing); one further away is refused with the wait, and dispatch
reschedules the job without spending an attempt. A full concurrency cap is awaited in
the worker for up to LIMIT_SLOT_WAIT_SECONDS, then the job is rescheduled likewise.
Slots are held for the provider call only, not while the result is stored.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db.models import Q

from .dispatch_models import ConcurrencySlot, RateState


@dataclass(frozen=True)
class Limit:
    scope: str
    rpm: int = 0
    concurrency: int = 0


@dataclass
class Permit:
    ok: bool
    # Not ok: seconds until trying again is worthwhile. Ok: seconds to sleep (pacing).
    wait: float = 0.0
    reason: str = ""
    holder: str = ""
    slots: list[str] = field(default_factory=list)


def limits_for(provider, model: str) -> list[Limit]:
    """The limits a call to `model` on `provider` must respect (provider-wide, then per model)."""
    found = []
    if provider.rpm or provider.concurrency:
        found.append(Limit(provider.name, provider.rpm, provider.concurrency))
    per_model = settings.MODEL_LIMITS.get(f"{provider.name}:{model}")
    if per_model:
        found.append(
            Limit(f"{provider.name}:{model}", int(per_model.get("rpm", 0)), int(per_model.get("concurrency", 0)))
        )
    return found


def acquire(limits: list[Limit], holder: str, lease_seconds: float, now: float | None = None) -> Permit:
    """Take a concurrency slot in every scope, then an RPM turn in every scope; all or nothing."""
    backend = _backend()
    permit = Permit(ok=True, holder=holder)
    for limit in limits:
        if limit.concurrency and not _await_slot(backend, limit, holder, lease_seconds, now):
            release(permit)
            wait = settings.LIMIT_WAIT_SECONDS * random.uniform(0.5, 1.5)
            return Permit(
                ok=False, wait=wait, reason=f"all {limit.concurrency} concurrent calls to {limit.scope} in use"
            )
        if limit.concurrency:
            permit.slots.append(limit.scope)
    for limit in limits:
        if limit.rpm:
            wait = backend.take_turn(limit.scope, limit.rpm, now)
            if wait < 0:
                release(permit)
                return Permit(
                    ok=False, wait=-wait, reason=f"{limit.scope} is at its limit of {limit.rpm} requests/minute"
                )
            permit.wait = max(permit.wait, wait)
    return permit


def _await_slot(backend, limit: Limit, holder: str, lease_seconds: float, now: float | None) -> bool:
    """Take a slot, polling for up to LIMIT_SLOT_WAIT_SECONDS: calls end every moment, so a
    short wait in the worker beats a round trip through the queue's scheduler."""
    deadline = time.monotonic() + (settings.LIMIT_SLOT_WAIT_SECONDS if now is None else 0)
    while True:
        if backend.take_slot(limit.scope, limit.concurrency, holder, lease_seconds, now):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(random.uniform(0.01, 0.03))


def release(permit: Permit) -> None:
    backend = _backend()
    for scope in permit.slots:
        backend.free_slot(scope, permit.holder)
    permit.slots = []


def release_holder(holder: str) -> int:
    """Free every slot a (dead) worker held; the sweeper calls this. Leases expire anyway."""
    return _backend().free_holder(holder)


def _gcra(rpm: int) -> tuple[float, float, float]:
    interval = 60.0 / rpm
    return interval, interval * max(0, settings.LIMIT_BURST - 1), settings.LIMIT_MAX_SLEEP_SECONDS


class DatabaseLimits:
    def take_slot(self, scope: str, cap: int, holder: str, lease_seconds: float, now: float | None) -> bool:
        moment = _dt(now)
        for _ in range(2):
            free = ConcurrencySlot.objects.filter(scope=scope, index__lt=cap).filter(
                Q(holder="") | Q(lease_until__lt=moment)
            )
            candidates = list(free.values_list("pk", "holder", "lease_until")[:cap])
            random.shuffle(candidates)  # spread concurrent takers over different rows
            for pk, old_holder, old_lease in candidates:
                # Compare-and-swap: wins only if nobody took the slot since we read it.
                if ConcurrencySlot.objects.filter(pk=pk, holder=old_holder, lease_until=old_lease).update(
                    holder=holder, lease_until=moment + timedelta(seconds=lease_seconds)
                ):
                    return True
            if ConcurrencySlot.objects.filter(scope=scope, index__lt=cap).count() >= cap:
                return False
            # First use of this scope, or its cap was raised: make the missing slots.
            ConcurrencySlot.objects.bulk_create(
                [ConcurrencySlot(scope=scope, index=i) for i in range(cap)], ignore_conflicts=True
            )
        return False

    def free_slot(self, scope: str, holder: str) -> None:
        ConcurrencySlot.objects.filter(scope=scope, holder=holder).update(holder="", lease_until=None)

    def free_holder(self, holder: str) -> int:
        return ConcurrencySlot.objects.filter(holder=holder).update(holder="", lease_until=None)

    def take_turn(self, scope: str, rpm: int, now: float | None) -> float:
        interval, tau, max_sleep = _gcra(rpm)
        for _ in range(50):
            row, _ = RateState.objects.get_or_create(scope=scope)
            moment = time.time() if now is None else now
            tat = max(row.tat, moment)
            wait = tat - tau - moment
            if wait > max_sleep:
                return -wait
            if RateState.objects.filter(pk=row.pk, version=row.version).update(
                tat=tat + interval, version=row.version + 1
            ):
                return max(0.0, wait)
        return -interval  # heavy contention: come back shortly

    def reset(self) -> None:
        RateState.objects.all().delete()
        ConcurrencySlot.objects.all().delete()


# Lua runs atomically inside Redis, so check-and-take is one step for every worker.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
  return 1
end
return 0
"""
_TAKE_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, tau, max_sleep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tau - now
if wait > max_sleep then return tostring(-wait) end
redis.call('SET', KEYS[1], tostring(tat + interval), 'EX', math.ceil(interval + tau + max_sleep) + 60)
if wait < 0 then wait = 0 end
return tostring(wait)
"""


class RedisLimits:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        self.prefix = prefix
        self._take_slot = self.redis.register_script(_TAKE_SLOT)
        self._take_turn = self.redis.register_script(_TAKE_TURN)

    def take_slot(self, scope: str, cap: int, holder: str, lease_seconds: float, now: float | None) -> bool:
        return bool(self._take_slot(keys=[f"{self.prefix}slots:{scope}"], args=[cap, lease_seconds, holder]))

    def free_slot(self, scope: str, holder: str) -> None:
        self.redis.zrem(f"{self.prefix}slots:{scope}", holder)

    def free_holder(self, holder: str) -> int:
        freed = 0
        for key in self.redis.scan_iter(f"{self.prefix}slots:*"):
            freed += self.redis.zrem(key, holder)
        return freed

    def take_turn(self, scope: str, rpm: int, now: float | None) -> float:
        interval, tau, max_sleep = _gcra(rpm)
        return float(self._take_turn(keys=[f"{self.prefix}rpm:{scope}"], args=[interval, tau, max_sleep]))

    def reset(self) -> None:
        for key in self.redis.scan_iter(f"{self.prefix}*"):
            self.redis.delete(key)


@cache
def _make_backend(kind: str, url: str, prefix: str) -> DatabaseLimits | RedisLimits:
    return RedisLimits(url, prefix) if kind == "redis" else DatabaseLimits()


def _backend() -> DatabaseLimits | RedisLimits:
    return _make_backend(settings.LIMITS_BACKEND, settings.REDIS_URL, settings.LIMITS_REDIS_PREFIX)


def _dt(now: float | None) -> datetime:
    return datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
